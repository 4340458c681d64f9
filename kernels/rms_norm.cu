// RMSNorm kernel (see rms_norm.cuh).
#include "device.cuh"
#include "rms_norm.cuh"

COKV_KERNELS_BEGIN

constexpr int kRmsThreads = 256;

// One row per block: consecutive threads read consecutive features (coalesced), the sum of
// squares is reduced in a fixed order, then every element is scaled as the CPU does it:
// (x * s) * g with s = 1 / sqrt(mean + eps) (IEEE sqrt and division on both).
template <class T>
static __global__ void __launch_bounds__(kRmsThreads)
    rms_norm_kernel(const float* x, int64_t x_stride, const float* __restrict__ g, T* y, int64_t y_stride,
                    int n, float eps) {
  COKV_SHARED(float, scratch, 32);
  const float* xr = x + int64_t(blockIdx.x) * x_stride;
  T* yr = y + int64_t(blockIdx.x) * y_stride;
  float ss = 0.f;
  for (int i = threadIdx.x; i < n; i += kRmsThreads) ss += xr[i] * xr[i];
  ss = block_sum(ss, scratch);
  const float s = 1.f / sqrtf(ss / float(n) + eps);
  for (int i = threadIdx.x; i < n; i += kRmsThreads) yr[i] = from_f32<T>(xr[i] * s * g[i]);
}

template <class T>
void rms_norm(const float* x, int64_t x_stride, const float* g, T* y, int64_t y_stride, int n_rows,
              int n_cols, float eps, cudaStream_t stream) {
  require_arg(n_rows >= 0 && n_cols > 0, "rms_norm", "expected rows >= 0 and features > 0");
  require_arg(x_stride >= n_cols && y_stride >= n_cols, "rms_norm", "row strides shorter than a row");
  if (n_rows == 0) return;
  launch("rms_norm", rms_norm_kernel<T>, dim3(n_rows), dim3(kRmsThreads), 0, stream, x, x_stride, g, y,
         y_stride, n_cols, eps);
}

template void rms_norm<float>(const float*, int64_t, const float*, float*, int64_t, int, int, float,
                              cudaStream_t);
template void rms_norm<f16>(const float*, int64_t, const float*, f16*, int64_t, int, int, float,
                            cudaStream_t);
template void rms_norm<bf16>(const float*, int64_t, const float*, bf16*, int64_t, int, int, float,
                             cudaStream_t);

COKV_KERNELS_END
