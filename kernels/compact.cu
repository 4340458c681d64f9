// Compaction kernel (see compact.cuh).
#include "compact.cuh"
#include "device.cuh"

COKV_KERNELS_BEGIN

constexpr int kCompactThreads = 256, kCompactWarps = kCompactThreads / 32;

// One block per set: tiles of 256 positions; a block-wide scan of the keep flags gives each
// kept position its output row, then the warps copy the tile's kept rows (lanes along D).
template <class T>
static __global__ void __launch_bounds__(kCompactThreads)
    compact_kernel(const CompactSet* __restrict__ sets, const T* __restrict__ k, const T* __restrict__ v,
                   int d, T* __restrict__ k_out, T* __restrict__ v_out, int32_t* __restrict__ pos_out) {
  COKV_SHARED(int, warp_kept, kCompactWarps);
  COKV_SHARED(int, kept, kCompactThreads);  // this tile's kept positions, in order
  const CompactSet set = sets[blockIdx.x];
  const int n_scored = set.n_tokens - set.window, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  int64_t out_row = set.dst;
  for (int t0 = 0; t0 < set.n_tokens; t0 += kCompactThreads) {
    const int p = t0 + int(threadIdx.x);
    bool keep = false;
    if (p < set.n_tokens)
      keep = p >= n_scored || set.n_ranked >= n_scored || (set.n_ranked > 0 && set.rank[p] < set.n_ranked);
    const unsigned votes = __ballot_sync(0xffffffffu, keep);
    if (lane == 0) warp_kept[warp] = __popc(votes);
    __syncthreads();
    int before = 0, total = 0;
    for (int w = 0; w < kCompactWarps; ++w) {
      before += w < warp ? warp_kept[w] : 0;
      total += warp_kept[w];
    }
    if (keep) {
      const int idx = before + __popc(votes & ((1u << lane) - 1));
      kept[idx] = p;
      if (pos_out) pos_out[out_row + idx] = p;
    }
    __syncthreads();
    for (int r = warp; r < total; r += kCompactWarps) {
      const T* ks = k + set.src + int64_t(kept[r]) * set.src_stride;
      const T* vs = v + set.src + int64_t(kept[r]) * set.src_stride;
      T* kd = k_out + (out_row + r) * d;
      T* vd = v_out + (out_row + r) * d;
      for (int x = lane; x < d; x += 32) kd[x] = ks[x], vd[x] = vs[x];
    }
    out_row += total;
    __syncthreads();  // warp_kept and kept are rewritten by the next tile
  }
}

template <class T>
void compact_kv(const CompactSet* sets, int n_sets, const T* k, const T* v, int head_dim, T* k_out, T* v_out,
                int32_t* pos_out, cudaStream_t stream) {
  require_arg(head_dim > 0, "compact_kv", "head_dim: expected > 0");
  if (n_sets <= 0) return;
  launch("compact_kv", compact_kernel<T>, dim3(n_sets), dim3(kCompactThreads), 0, stream, sets, k, v,
         head_dim, k_out, v_out, pos_out);
}

template void compact_kv<float>(const CompactSet*, int, const float*, const float*, int, float*, float*,
                                int32_t*, cudaStream_t);
template void compact_kv<f16>(const CompactSet*, int, const f16*, const f16*, int, f16*, f16*, int32_t*,
                              cudaStream_t);
template void compact_kv<bf16>(const CompactSet*, int, const bf16*, const bf16*, int, bf16*, bf16*, int32_t*,
                               cudaStream_t);

COKV_KERNELS_END
