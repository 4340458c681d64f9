// RoPE kernels (see rope.cuh).
#include "device.cuh"
#include "rope.cuh"

COKV_KERNELS_BEGIN

constexpr int kRopeThreads = 256;

static __global__ void __launch_bounds__(kRopeThreads)
    rope_cache_kernel(const int32_t* __restrict__ pos, int64_t n, const double* __restrict__ inv_freq,
                      int n_pairs, float* __restrict__ cos_out, float* __restrict__ sin_out) {
  const int64_t e = int64_t(blockIdx.x) * kRopeThreads + threadIdx.x;
  if (e >= n) return;
  const int64_t r = e / n_pairs;
  const int i = int(e % n_pairs);
  double s, c;
  sincos(double(pos[r]) * inv_freq[i], &s, &c);
  cos_out[e] = float(c);
  sin_out[e] = float(s);
}

// One block per row; thread t rotates pairs t, t + blockDim, ... over all heads.
template <class T>
static __global__ void __launch_bounds__(kRopeThreads)
    rope_kernel(T* __restrict__ x, int64_t x_stride, int n_heads, int head_dim, int n_pairs, bool half_split,
                const float* __restrict__ cos_t, const float* __restrict__ sin_t) {
  T* xr = x + int64_t(blockIdx.x) * x_stride;
  const float* c = cos_t + int64_t(blockIdx.x) * n_pairs;
  const float* s = sin_t + int64_t(blockIdx.x) * n_pairs;
  for (int e = threadIdx.x; e < n_heads * n_pairs; e += kRopeThreads) {
    const int h = e / n_pairs, i = e % n_pairs;
    T* xh = xr + int64_t(h) * head_dim;
    const int i0 = half_split ? i : 2 * i, i1 = half_split ? i + n_pairs : 2 * i + 1;
    const float a = to_f32(xh[i0]), b = to_f32(xh[i1]);
    xh[i0] = from_f32<T>(a * c[i] - b * s[i]);
    xh[i1] = from_f32<T>(a * s[i] + b * c[i]);
  }
}

void rope_cache(const int32_t* pos, int n_rows, const double* inv_freq, int n_pairs, float* cos, float* sin,
                cudaStream_t stream) {
  require_arg(n_rows >= 0 && n_pairs > 0, "rope_cache", "expected rows >= 0 and pairs > 0");
  const int64_t n = int64_t(n_rows) * n_pairs;
  if (n == 0) return;
  launch("rope_cache", rope_cache_kernel, dim3(ceil_div(n, kRopeThreads)), dim3(kRopeThreads), 0, stream, pos,
         n, inv_freq, n_pairs, cos, sin);
}

template <class T>
void rope(T* x, int64_t x_stride, int n_rows, int n_heads, int head_dim, int rope_dim, RopePairs pairs,
          const float* cos, const float* sin, cudaStream_t stream) {
  require_arg(rope_dim > 0 && rope_dim % 2 == 0 && rope_dim <= head_dim, "rope",
              "rope_dim " + std::to_string(rope_dim) + ": expected even, > 0 and <= head_dim " +
                  std::to_string(head_dim));
  require_arg(n_heads > 0 && x_stride >= int64_t(n_heads) * head_dim, "rope",
              "row stride shorter than the heads");
  if (n_rows <= 0) return;
  launch("rope", rope_kernel<T>, dim3(n_rows), dim3(kRopeThreads), 0, stream, x, x_stride, n_heads, head_dim,
         rope_dim / 2, pairs == RopePairs::HalfSplit, cos, sin);
}

template void rope<float>(float*, int64_t, int, int, int, int, RopePairs, const float*, const float*,
                          cudaStream_t);
template void rope<f16>(f16*, int64_t, int, int, int, int, RopePairs, const float*, const float*,
                        cudaStream_t);
template void rope<bf16>(bf16*, int64_t, int, int, int, int, RopePairs, const float*, const float*,
                         cudaStream_t);

COKV_KERNELS_END
