// Logit row kernel (see logits.cuh).
#include "device.cuh"
#include "logits.cuh"

COKV_KERNELS_BEGIN

constexpr int kLogitThreads = 512;

// (value, index) maximum with ties to the lower index.
static __device__ __forceinline__ void max_merge(float& m, int& i, float m2, int i2) {
  if (m2 > m || (m2 == m && i2 < i)) m = m2, i = i2;
}

// One block per row: pass 1 finds the maximum and its first index, pass 2 sums exp(l - max).
static __global__ void __launch_bounds__(kLogitThreads)
    logits_kernel(const float* __restrict__ logits, int64_t stride, int n, int32_t* __restrict__ argmax,
                  const int32_t* __restrict__ targets, float* __restrict__ logp) {
  COKV_SHARED(float, wm, 32);
  COKV_SHARED(int, wi, 32);
  COKV_SHARED(float, scratch, 32);
  const float* row = logits + int64_t(blockIdx.x) * stride;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, n_warps = kLogitThreads / 32;
  float m = -INFINITY;
  int mi = n;
  for (int j = threadIdx.x; j < n; j += kLogitThreads) max_merge(m, mi, row[j], j);
  for (int o = 16; o > 0; o >>= 1)
    max_merge(m, mi, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, mi, o));
  if (lane == 0) wm[warp] = m, wi[warp] = mi;
  __syncthreads();
  m = lane < n_warps ? wm[lane] : -INFINITY;
  mi = lane < n_warps ? wi[lane] : n;
  for (int o = 16; o > 0; o >>= 1)
    max_merge(m, mi, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, mi, o));
  if (argmax && threadIdx.x == 0) argmax[blockIdx.x] = mi;
  if (!logp) return;  // uniform over the block
  float s = 0.f;
  for (int j = threadIdx.x; j < n; j += kLogitThreads) s += expf(row[j] - m);
  s = block_sum(s, scratch);
  const int t = targets[blockIdx.x];  // checked on the host; a bad one gives NaN, not another row's value
  if (threadIdx.x == 0) logp[blockIdx.x] = t >= 0 && t < n ? (row[t] - m) - logf(s) : NAN;
}

void logits_rows(const float* logits, int64_t stride, int n_rows, int n_vocab, int32_t* argmax,
                 const int32_t* targets, float* logp, cudaStream_t stream) {
  require_arg(n_vocab > 0 && stride >= n_vocab, "logits_rows",
              "expected a vocabulary > 0 within the row stride");
  require_arg((targets == nullptr) == (logp == nullptr), "logits_rows", "targets and logp come together");
  if (n_rows <= 0) return;
  launch("logits_rows", logits_kernel, dim3(n_rows), dim3(kLogitThreads), 0, stream, logits, stride, n_vocab,
         argmax, targets, logp);
}

COKV_KERNELS_END
