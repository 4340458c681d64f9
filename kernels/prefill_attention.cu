// Prefill attention kernel (see prefill_attention.cuh).
//
// A block owns 64 query rows of one head (4 warps x 16 rows) and walks the key tiles of 64
// up to its last row. Per tile: K and V are staged in shared memory (16-byte loads, rows
// beyond T zeroed); each warp computes S = Q K^T for its rows on tensor cores (Q fragments
// stay in registers), applies the causal mask and the online softmax in fp32 (two lanes per
// row; the row sums add the fp32 weights), rounds P to the input type for the tensor cores,
// rescales its O rows and adds P V. O
// lives in shared memory because WMMA accumulators have no documented layout to rescale
// rows in registers. Blocks of the longest (last) tiles start first.
#include "device.cuh"
#include "prefill_attention.cuh"

COKV_KERNELS_BEGIN

using namespace nvcuda;

constexpr int kPfRows = 64;  // query rows per block
constexpr int kPfKeys = 64;  // keys per tile
constexpr int kPfThreads = 128;

// Shared memory layout (bytes), every region 128-byte aligned. Region A holds the Q tile
// while its fragments load, then S (fp32) and P (input type).
template <int D>
struct PfLayout {
  static constexpr int ldq = D + 8;        // K, V, Q tiles (16-bit elements; pad against bank conflicts)
  static constexpr int lds = kPfKeys + 4;  // S (fp32)
  static constexpr int ldp = kPfKeys + 8;  // P (16-bit)
  static constexpr int ldo = D + 4;        // O (fp32)
  static constexpr size_t round(size_t b) { return (b + 127) / 128 * 128; }
  static constexpr size_t k_off = 0;
  static constexpr size_t v_off = k_off + round(size_t(kPfKeys) * ldq * 2);
  static constexpr size_t o_off = v_off + round(size_t(kPfKeys) * ldq * 2);
  static constexpr size_t ml_off = o_off + round(size_t(kPfRows) * ldo * 4);
  static constexpr size_t a_off = ml_off + round(2 * kPfRows * 4);
  static constexpr size_t s_bytes = round(size_t(kPfRows) * lds * 4);
  static constexpr size_t q_bytes = round(size_t(kPfRows) * ldq * 2),
                          sp_bytes = s_bytes + round(size_t(kPfRows) * ldp * 2);
  static constexpr size_t bytes = a_off + (q_bytes > sp_bytes ? q_bytes : sp_bytes);
};

// Rows r0 .. r0+63 of a [rows, D] slice (row stride `stride`) into dst (row stride ld);
// rows at or beyond n_rows become zeros.
template <class T, int D>
static __device__ __forceinline__ void pf_load_tile(T* dst, int ld, const T* src, int64_t stride, int r0,
                                                    int n_rows) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  for (int c = threadIdx.x; c < kPfRows * kChunks; c += kPfThreads) {
    const int r = c / kChunks, x = c % kChunks;
    uint4 val = {0u, 0u, 0u, 0u};
    if (r0 + r < n_rows) val = *reinterpret_cast<const uint4*>(src + int64_t(r0 + r) * stride + x * 8);
    *reinterpret_cast<uint4*>(dst + r * ld + x * 8) = val;
  }
}

template <class T, int D>
static __global__ void __launch_bounds__(kPfThreads)
    prefill_attention_kernel(const T* __restrict__ q, int64_t q_stride, const T* __restrict__ k,
                             int64_t k_stride, const T* __restrict__ v, int64_t v_stride, T* __restrict__ out,
                             int64_t out_stride, float* __restrict__ lse, int n_tokens, int group,
                             float scale_log2) {
  using L = PfLayout<D>;
  unsigned char* smem = dynamic_smem<unsigned char>();
  T* Ks = reinterpret_cast<T*>(smem + L::k_off);
  T* Vs = reinterpret_cast<T*>(smem + L::v_off);
  float* O = reinterpret_cast<float*>(smem + L::o_off);
  float* M = reinterpret_cast<float*>(smem + L::ml_off);  // running max per row (log2 units)
  float* Lsum = M + kPfRows;                              // running sum per row
  T* Qs = reinterpret_cast<T*>(smem + L::a_off);
  float* S = reinterpret_cast<float*>(smem + L::a_off);
  T* P = reinterpret_cast<T*>(smem + L::a_off + L::s_bytes);

  const int tile = int(gridDim.x) - 1 - int(blockIdx.x);
  const int h = blockIdx.y, g = h / group, r0 = tile * kPfRows;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  pf_load_tile<T, D>(Qs, L::ldq, q + int64_t(h) * D, q_stride, r0, n_tokens);
  for (int i = threadIdx.x; i < kPfRows * L::ldo; i += kPfThreads) O[i] = 0.f;
  if (threadIdx.x < kPfRows) M[threadIdx.x] = -INFINITY, Lsum[threadIdx.x] = 0.f;
  __syncthreads();
  wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> qf[D / 16];
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk)
    wmma::load_matrix_sync(qf[kk], Qs + warp * 16 * L::ldq + kk * 16, L::ldq);
  __syncthreads();  // region A is S and P from here on

  float* Sw = S + warp * 16 * L::lds;
  T* Pw = P + warp * 16 * L::ldp;
  float* Ow = O + warp * 16 * L::ldo;
  // Two lanes per row: lane 2i and 2i+1 own row i of the warp's 16, half the columns each.
  const int i = lane / 2, half = lane % 2, mrow = warp * 16 + i, row = r0 + mrow;
  const int n_tiles = (min(r0 + kPfRows, n_tokens) - 1) / kPfKeys + 1;

  for (int kt = 0; kt < n_tiles; ++kt) {
    const int c0 = kt * kPfKeys;
    pf_load_tile<T, D>(Ks, L::ldq, k + int64_t(g) * D, k_stride, c0, n_tokens);
    pf_load_tile<T, D>(Vs, L::ldq, v + int64_t(g) * D, v_stride, c0, n_tokens);
    __syncthreads();

#pragma unroll
    for (int j = 0; j < kPfKeys / 16; ++j) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.f);
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> kf;  // K^T: column n is key n
        wmma::load_matrix_sync(kf, Ks + j * 16 * L::ldq + kk * 16, L::ldq);
        wmma::mma_sync(acc, qf[kk], kf, acc);
      }
      wmma::store_matrix_sync(Sw + j * 16, acc, L::lds, wmma::mem_row_major);
    }
    __syncwarp();

    float* srow = Sw + i * L::lds + half * 32;
    T* prow = Pw + i * L::ldp + half * 32;
    float mx = -INFINITY;
    for (int c = 0; c < 32; ++c) {
      const int key = c0 + half * 32 + c;
      const float s = key <= row ? srow[c] * scale_log2 : -INFINITY;  // causal (and key < T)
      srow[c] = s;
      mx = fmaxf(mx, s);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    const float m_old = M[mrow], m_new = fmaxf(m_old, mx);
    float sum = 0.f;
    for (int c = 0; c < 32; ++c) {
      const float p = srow[c] == -INFINITY ? 0.f : exp2f(srow[c] - m_new);
      prow[c] = from_f32<T>(p);  // P V multiplies rounded weights; the sum (and the lse the
      sum += p;                  // scorers reuse) keeps fp32 ones
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    const float alpha = m_new == -INFINITY ? 1.f : exp2f(m_old - m_new);
    float* orow = Ow + i * L::ldo + half * (D / 2);
    for (int d = 0; d < D / 2; ++d) orow[d] *= alpha;
    __syncwarp();  // both lanes of the row have read M before it changes
    if (half == 0) M[mrow] = m_new, Lsum[mrow] = Lsum[mrow] * alpha + sum;
    __syncwarp();

#pragma unroll
    for (int dt = 0; dt < D / 16; ++dt) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::load_matrix_sync(acc, Ow + dt * 16, L::ldo, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < kPfKeys / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> pf;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> vf;
        wmma::load_matrix_sync(pf, Pw + kk * 16, L::ldp);
        wmma::load_matrix_sync(vf, Vs + kk * 16 * L::ldq + dt * 16, L::ldq);
        wmma::mma_sync(acc, pf, vf, acc);
      }
      wmma::store_matrix_sync(Ow + dt * 16, acc, L::ldo, wmma::mem_row_major);
    }
    __syncthreads();  // K, V and S are overwritten by the next tile
  }

  if (row < n_tokens) {
    const float inv = 1.f / Lsum[mrow];
    const float* orow = Ow + i * L::ldo + half * (D / 2);
    T* dst = out + int64_t(row) * out_stride + int64_t(h) * D + half * (D / 2);
    for (int d = 0; d < D / 2; ++d) dst[d] = from_f32<T>(orow[d] * inv);
    if (lse && half == 0)
      lse[int64_t(h) * n_tokens + row] = (M[mrow] + log2f(Lsum[mrow])) * 0.69314718055994531f;
  }
}

template <class T, int D>
static void prefill_launch(const T* q, int64_t qs, const T* k, int64_t ks, const T* v, int64_t vs, T* out,
                           int64_t os, float* lse, int n_tokens, int n_heads, int group, float scale,
                           cudaStream_t stream) {
  launch("prefill_attention", prefill_attention_kernel<T, D>, dim3(ceil_div(n_tokens, kPfRows), n_heads),
         dim3(kPfThreads), PfLayout<D>::bytes, stream, q, qs, k, ks, v, vs, out, os, lse, n_tokens, group,
         scale * 1.4426950408889634f);
}

static bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <class T>
void prefill_attention(const T* q, int64_t q_stride, const T* k, int64_t k_stride, const T* v,
                       int64_t v_stride, T* out, int64_t out_stride, float* lse, int n_tokens, int n_heads,
                       int n_kv_heads, int head_dim, float scale, cudaStream_t stream) {
  static_assert(!std::is_same_v<T, float>, "prefill_attention runs on tensor cores: f16 or bf16 inputs");
  require_arg(
      n_kv_heads > 0 && n_heads % n_kv_heads == 0, "prefill_attention",
      "query heads " + std::to_string(n_heads) + " not a multiple of KV heads " + std::to_string(n_kv_heads));
  require_arg(q_stride % 8 == 0 && k_stride % 8 == 0 && v_stride % 8 == 0 && aligned16(q) && aligned16(k) &&
                  aligned16(v),
              "prefill_attention", "expected 16-byte aligned rows (strides multiples of 8 elements)");
  require_arg(q_stride >= int64_t(n_heads) * head_dim && out_stride >= int64_t(n_heads) * head_dim &&
                  k_stride >= int64_t(n_kv_heads) * head_dim && v_stride >= int64_t(n_kv_heads) * head_dim,
              "prefill_attention", "row strides shorter than the heads");
  if (n_tokens <= 0) return;
  const int group = n_heads / n_kv_heads;
  switch (head_dim) {
    case 64:
      return prefill_launch<T, 64>(q, q_stride, k, k_stride, v, v_stride, out, out_stride, lse, n_tokens,
                                   n_heads, group, scale, stream);
    case 128:
      return prefill_launch<T, 128>(q, q_stride, k, k_stride, v, v_stride, out, out_stride, lse, n_tokens,
                                    n_heads, group, scale, stream);
    default:
      throw cokv::Error("kernels::prefill_attention: head_dim " + std::to_string(head_dim) +
                        " is not supported (64 or 128)");
  }
}

template void prefill_attention<f16>(const f16*, int64_t, const f16*, int64_t, const f16*, int64_t, f16*,
                                     int64_t, float*, int, int, int, int, float, cudaStream_t);
template void prefill_attention<bf16>(const bf16*, int64_t, const bf16*, int64_t, const bf16*, int64_t, bf16*,
                                      int64_t, float*, int, int, int, int, float, cudaStream_t);

COKV_KERNELS_END
