// Decode attention: the host plan, the partial kernel and the combine kernel (see
// decode_attention.cuh).
#include <algorithm>
#include <cstring>
#include <numeric>

#include "decode_attention.cuh"
#include "device.cuh"

COKV_KERNELS_BEGIN

constexpr int kDecVectors = 16;  // query vectors per job
constexpr int kDecKeys = 32;     // keys per shared-memory tile
constexpr int kDecThreads = 128;

// ---- the plan ---------------------------------------------------------------------------------

DecodePlan::DecodePlan(std::span<const DecodeSet> sets, std::span<const DecodeRead> reads,
                       std::span<const int64_t> out_offsets, int chunk)
    : out_offset_(out_offsets.begin(), out_offsets.end()) {
  require_arg(chunk > 0 && chunk % kDecKeys == 0, "DecodePlan",
              "chunk " + std::to_string(chunk) + ": expected a positive multiple of 32");
  const int n_sets = int(sets.size()), n_out = int(out_offsets.size());
  for (size_t r = 0; r < reads.size(); ++r) {
    const DecodeRead& rd = reads[r];
    require_arg(rd.set >= 0 && rd.set < n_sets && rd.out >= 0 && rd.out < n_out, "DecodePlan",
                "read " + std::to_string(r) + " names a set or output that does not exist");
    require_arg(rd.n_visible >= 0 && rd.n_visible <= sets[rd.set].n_keys, "DecodePlan",
                "read " + std::to_string(r) + " sees " + std::to_string(rd.n_visible) + " keys of a set of " +
                    std::to_string(sets[rd.set].n_keys));
  }
  // Reads by set, and inside a set by visible keys, most first: the reads that see a chunk
  // are then a prefix, cut into jobs of 16 vectors.
  std::vector<int> by_set(reads.size());
  std::iota(by_set.begin(), by_set.end(), 0);
  std::stable_sort(by_set.begin(), by_set.end(), [&](int a, int b) {
    return reads[a].set != reads[b].set ? reads[a].set < reads[b].set
                                        : reads[a].n_visible > reads[b].n_visible;
  });
  std::vector<int> vec_of(reads.size());
  vecs_.resize(reads.size());
  for (size_t i = 0; i < by_set.size(); ++i) {
    const DecodeRead& rd = reads[by_set[i]];
    const int parts = (rd.n_visible + chunk - 1) / chunk;
    vecs_[i] = {rd.q, rd.n_visible, n_parts_, parts};
    vec_of[by_set[i]] = int(i);
    n_parts_ += parts;
  }
  for (size_t i0 = 0; i0 < by_set.size();) {
    const int s = reads[by_set[i0]].set;
    size_t i1 = i0;
    while (i1 < by_set.size() && reads[by_set[i1]].set == s) ++i1;
    const DecodeSet& set = sets[s];
    for (int c = 0; c * chunk < vecs_[i0].n_visible; ++c) {
      const int key0 = c * chunk;
      size_t seeing = i0;
      while (seeing < i1 && vecs_[seeing].n_visible > key0) ++seeing;
      // A job loads only keys one of its vectors sees (its first sees the most): a set may be
      // longer than what is written yet (a policy's generated keys), and an invisible key's
      // weight 0 times an unwritten value could be NaN. Skipped tiles would add exactly 0.
      for (size_t v0 = i0; v0 < seeing; v0 += kDecVectors)
        jobs_.push_back({set.k, set.v, set.stride, key0, std::min(chunk, vecs_[v0].n_visible - key0), int(v0),
                         int(std::min<size_t>(kDecVectors, seeing - v0)), c});
    }
    i0 = i1;
  }
  // Outputs: their reads in the caller's order (so the merge order of a vector's partials
  // does not depend on the rest of the batch).
  out_ptr_.assign(n_out + 1, 0);
  for (const DecodeRead& rd : reads) ++out_ptr_[rd.out + 1];
  std::partial_sum(out_ptr_.begin(), out_ptr_.end(), out_ptr_.begin());
  out_vecs_.resize(reads.size());
  std::vector<int32_t> fill(out_ptr_.begin(), out_ptr_.end() - 1);
  for (size_t r = 0; r < reads.size(); ++r) out_vecs_[fill[reads[r].out]++] = vec_of[r];
}

namespace {
constexpr size_t align_up(size_t b) { return (b + 15) / 16 * 16; }
}  // namespace

size_t DecodePlan::bytes() const {
  return align_up(jobs_.size() * sizeof(DecodeJob)) + align_up(vecs_.size() * sizeof(DecodeVec)) +
         align_up(out_ptr_.size() * 4) + align_up(out_vecs_.size() * 4) + align_up(out_offset_.size() * 8);
}

void DecodePlan::pack(void* host) const {
  auto* p = static_cast<unsigned char*>(host);
  auto put = [&](const void* src, size_t b) {
    if (b) std::memcpy(p, src, b);
    p += align_up(b);
  };
  put(jobs_.data(), jobs_.size() * sizeof(DecodeJob));
  put(vecs_.data(), vecs_.size() * sizeof(DecodeVec));
  put(out_ptr_.data(), out_ptr_.size() * 4);
  put(out_vecs_.data(), out_vecs_.size() * 4);
  put(out_offset_.data(), out_offset_.size() * 8);
}

DecodePlanView DecodePlan::view(const void* device) const {
  auto* p = static_cast<const unsigned char*>(device);
  DecodePlanView v;
  v.jobs = reinterpret_cast<const DecodeJob*>(p);
  p += align_up(jobs_.size() * sizeof(DecodeJob));
  v.vecs = reinterpret_cast<const DecodeVec*>(p);
  p += align_up(vecs_.size() * sizeof(DecodeVec));
  v.out_ptr = reinterpret_cast<const int32_t*>(p);
  p += align_up(out_ptr_.size() * 4);
  v.out_vecs = reinterpret_cast<const int32_t*>(p);
  p += align_up(out_vecs_.size() * 4);
  v.out_offset = reinterpret_cast<const int64_t*>(p);
  v.n_jobs = n_jobs(), v.n_out = n_out();
  return v;
}

// ---- kernels ------------------------------------------------------------------------------------

template <int D>
struct DecLayout {                                      // dynamic shared memory, in floats
  static constexpr int q = 0;                           // [16][D], pre-scaled
  static constexpr int k = q + kDecVectors * D;         // [32][D+1]
  static constexpr int v = k + kDecKeys * (D + 1);      // [32][D]
  static constexpr int p = v + kDecKeys * D;            // [16][32] scores, then weights
  static constexpr int m = p + kDecVectors * kDecKeys;  // [16] running max (log2 units)
  static constexpr int l = m + kDecVectors;             // [16] running sum
  static constexpr int alpha = l + kDecVectors;         // [16] this tile's rescale
  static constexpr int floats = alpha + kDecVectors;
};

// One job: a chunk of a set against up to 16 vectors. Scores: thread (key t%32, vectors
// t/32 + 4i); softmax: warp w owns vectors 4w .. 4w+3, lanes along the 32 keys; output:
// thread t owns vector t/8 and dims t%8 + 8i.
template <class T, int D>
static __global__ void __launch_bounds__(kDecThreads)
    decode_partial_kernel(DecodePlanView plan, const T* __restrict__ q, float* __restrict__ partials,
                          float scale_log2) {
  using L = DecLayout<D>;
  float* smem = dynamic_smem<float>();
  float *qs = smem + L::q, *ks = smem + L::k, *vs = smem + L::v, *ps = smem + L::p;
  float *ms = smem + L::m, *ls = smem + L::l, *as = smem + L::alpha;
  COKV_SHARED(int, visible, kDecVectors);  // keys of this chunk each vector sees
  const DecodeJob job = plan.jobs[blockIdx.x];
  const T* kp = static_cast<const T*>(job.k) + int64_t(job.key0) * job.stride;
  const T* vp = static_cast<const T*>(job.v) + int64_t(job.key0) * job.stride;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  for (int x = threadIdx.x; x < kDecVectors * D; x += kDecThreads) {
    const int vi = x / D;
    qs[x] = vi < job.n_vec ? to_f32(q[plan.vecs[job.vec0 + vi].q + x % D]) * scale_log2 : 0.f;
  }
  if (threadIdx.x < kDecVectors) {
    const int vi = threadIdx.x;
    visible[vi] = vi < job.n_vec ? min(plan.vecs[job.vec0 + vi].n_visible - job.key0, job.n_keys) : 0;
    ms[vi] = -INFINITY, ls[vi] = 0.f;
  }
  const int ov = threadIdx.x / 8, od = threadIdx.x % 8;
  float o[D / 8];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i] = 0.f;

  for (int kt = 0; kt < job.n_keys; kt += kDecKeys) {
    __syncthreads();  // the previous tile is no longer read
    for (int e = threadIdx.x; e < kDecKeys * D; e += kDecThreads) {
      const int j = e / D, x = e % D;
      const bool in = kt + j < job.n_keys;
      ks[j * (D + 1) + x] = in ? to_f32(kp[int64_t(kt + j) * job.stride + x]) : 0.f;
      vs[j * D + x] = in ? to_f32(vp[int64_t(kt + j) * job.stride + x]) : 0.f;
    }
    __syncthreads();
    for (int vi = warp; vi < kDecVectors; vi += kDecThreads / 32) {
      float s = -INFINITY;
      if (kt + lane < visible[vi]) {
        s = 0.f;
        for (int x = 0; x < D; ++x) s += qs[vi * D + x] * ks[lane * (D + 1) + x];
      }
      ps[vi * kDecKeys + lane] = s;
    }
    __syncthreads();
    for (int i = 0; i < kDecVectors / (kDecThreads / 32); ++i) {
      const int vi = warp * (kDecVectors / (kDecThreads / 32)) + i;
      const float s = ps[vi * kDecKeys + lane];
      const float m_old = ms[vi], m_new = fmaxf(m_old, warp_max(s));
      const float p = s == -INFINITY ? 0.f : exp2f(s - m_new);
      const float sum = warp_sum(p);
      ps[vi * kDecKeys + lane] = p;
      __syncwarp();  // every lane has read ms[vi] before lane 0 updates it
      if (lane == 0) {
        const float alpha = m_new == -INFINITY ? 1.f : exp2f(m_old - m_new);
        ms[vi] = m_new, ls[vi] = ls[vi] * alpha + sum, as[vi] = alpha;
      }
    }
    __syncthreads();
    const float alpha = as[ov];
#pragma unroll
    for (int i = 0; i < D / 8; ++i) {
      float acc = o[i] * alpha;
      for (int j = 0; j < kDecKeys; ++j) acc += ps[ov * kDecKeys + j] * vs[j * D + od + 8 * i];
      o[i] = acc;
    }
  }
  if (ov < job.n_vec && visible[ov] > 0) {
    float* part = partials + int64_t(plan.vecs[job.vec0 + ov].part0 + job.chunk) * (D + 2);
    if (od == 0) part[0] = ms[ov], part[1] = ls[ov];
#pragma unroll
    for (int i = 0; i < D / 8; ++i) part[2 + od + 8 * i] = o[i];
  }
}

// One block per output vector, one thread per dimension: partials merged in plan order.
template <class T, int D>
static __global__ void __launch_bounds__(D)
    decode_combine_kernel(DecodePlanView plan, const float* __restrict__ partials, T* __restrict__ out) {
  const int o = blockIdx.x, d = threadIdx.x;
  const int r0 = plan.out_ptr[o], r1 = plan.out_ptr[o + 1];
  float m = -INFINITY;
  for (int r = r0; r < r1; ++r) {
    const DecodeVec vec = plan.vecs[plan.out_vecs[r]];
    for (int c = 0; c < vec.n_parts; ++c) m = fmaxf(m, partials[int64_t(vec.part0 + c) * (D + 2)]);
  }
  float l = 0.f, acc = 0.f;
  for (int r = r0; r < r1; ++r) {
    const DecodeVec vec = plan.vecs[plan.out_vecs[r]];
    for (int c = 0; c < vec.n_parts; ++c) {
      const float* part = partials + int64_t(vec.part0 + c) * (D + 2);
      const float w = exp2f(part[0] - m);
      l += part[1] * w;
      acc += part[2 + d] * w;
    }
  }
  out[plan.out_offset[o] + d] = from_f32<T>(l > 0.f ? acc / l : 0.f);  // no reads: a zeroed head
}

template <class T, int D>
static void decode_launch(const DecodePlanView& plan, const T* q, T* out, float* partials, float scale,
                          cudaStream_t stream) {
  if (plan.n_jobs > 0)
    launch("decode_attention", decode_partial_kernel<T, D>, dim3(plan.n_jobs), dim3(kDecThreads),
           sizeof(float) * DecLayout<D>::floats, stream, plan, q, partials, scale * 1.4426950408889634f);
  launch("decode_attention combine", decode_combine_kernel<T, D>, dim3(plan.n_out), dim3(D), 0, stream, plan,
         partials, out);
}

template <class T>
void decode_attention(const DecodePlanView& plan, const T* q, T* out, float* partials, int head_dim,
                      float scale, cudaStream_t stream) {
  if (plan.n_out == 0) return;
  switch (head_dim) {
    case 64:
      return decode_launch<T, 64>(plan, q, out, partials, scale, stream);
    case 128:
      return decode_launch<T, 128>(plan, q, out, partials, scale, stream);
    default:
      throw cokv::Error("kernels::decode_attention: head_dim " + std::to_string(head_dim) +
                        " is not supported (64 or 128)");
  }
}

template void decode_attention<float>(const DecodePlanView&, const float*, float*, float*, int, float,
                                      cudaStream_t);
template void decode_attention<f16>(const DecodePlanView&, const f16*, f16*, float*, int, float,
                                    cudaStream_t);
template void decode_attention<bf16>(const DecodePlanView&, const bf16*, bf16*, float*, int, float,
                                     cudaStream_t);

COKV_KERNELS_END
