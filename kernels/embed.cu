// Embedding gather kernel (see embed.cuh).
#include "device.cuh"
#include "embed.cuh"

COKV_KERNELS_BEGIN

constexpr int kEmbedThreads = 256;

template <class T>
static __global__ void __launch_bounds__(kEmbedThreads)
    embed_kernel(const T* __restrict__ table, int64_t ts, int n_vocab, const int32_t* __restrict__ tokens,
                 int n_cols, float* __restrict__ out, int64_t os) {
  const int64_t r = blockIdx.x;
  const int32_t tok = tokens[r];
  const bool ok = tok >= 0 && tok < n_vocab;
  const T* src = table + (ok ? int64_t(tok) * ts : 0);
  for (int j = threadIdx.x; j < n_cols; j += kEmbedThreads) out[r * os + j] = ok ? to_f32(src[j]) : NAN;
}

template <class T>
void embed(const T* table, int64_t table_stride, int n_vocab, const int32_t* tokens, int n_rows, int n_cols,
           float* out, int64_t out_stride, cudaStream_t stream) {
  require_arg(n_vocab > 0 && n_cols > 0 && table_stride >= n_cols && out_stride >= n_cols, "embed",
              "expected a non-empty table and strides of at least a row");
  if (n_rows <= 0) return;
  launch("embed", embed_kernel<T>, dim3(n_rows), dim3(kEmbedThreads), 0, stream, table, table_stride, n_vocab,
         tokens, n_cols, out, out_stride);
}

template void embed<float>(const float*, int64_t, int, const int32_t*, int, int, float*, int64_t,
                           cudaStream_t);
template void embed<f16>(const f16*, int64_t, int, const int32_t*, int, int, float*, int64_t, cudaStream_t);
template void embed<bf16>(const bf16*, int64_t, int, const int32_t*, int, int, float*, int64_t, cudaStream_t);

COKV_KERNELS_END
