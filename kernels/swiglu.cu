// SwiGLU kernel (see swiglu.cuh).
#include "device.cuh"
#include "swiglu.cuh"

COKV_KERNELS_BEGIN

constexpr int kSwigluThreads = 256;

// grid (rows, column blocks): rows in x (up to 2^31), columns in y.
template <class T>
static __global__ void __launch_bounds__(kSwigluThreads)
    swiglu_kernel(const T* __restrict__ gate, int64_t gs, const T* __restrict__ up, int64_t us,
                  T* __restrict__ out, int64_t os, int n_cols) {
  const int j = int(blockIdx.y) * kSwigluThreads + int(threadIdx.x);
  if (j >= n_cols) return;
  const int64_t r = blockIdx.x;
  const float z = to_f32(gate[r * gs + j]);
  out[r * os + j] = from_f32<T>(z / (1.f + expf(-z)) * to_f32(up[r * us + j]));
}

template <class T>
void swiglu(const T* gate, int64_t gate_stride, const T* up, int64_t up_stride, T* out, int64_t out_stride,
            int n_rows, int n_cols, cudaStream_t stream) {
  require_arg(n_rows >= 0 && n_cols > 0, "swiglu", "expected rows >= 0 and columns > 0");
  require_arg(gate_stride >= n_cols && up_stride >= n_cols && out_stride >= n_cols, "swiglu",
              "row strides shorter than a row");
  if (n_rows == 0) return;
  launch("swiglu", swiglu_kernel<T>, dim3(n_rows, ceil_div(n_cols, kSwigluThreads)), dim3(kSwigluThreads), 0,
         stream, gate, gate_stride, up, up_stride, out, out_stride, n_cols);
}

template void swiglu<float>(const float*, int64_t, const float*, int64_t, float*, int64_t, int, int,
                            cudaStream_t);
template void swiglu<f16>(const f16*, int64_t, const f16*, int64_t, f16*, int64_t, int, int, cudaStream_t);
template void swiglu<bf16>(const bf16*, int64_t, const bf16*, int64_t, bf16*, int64_t, int, int,
                           cudaStream_t);

COKV_KERNELS_END
