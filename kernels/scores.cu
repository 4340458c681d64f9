// Scoring kernels and the SnapKV / AhaKV pipelines (see scores.cuh).
#include "device.cuh"
#include "scores.cuh"

COKV_KERNELS_BEGIN

constexpr int kScoreThreads = 256;

// grid (position blocks, G).
static __global__ void __launch_bounds__(kScoreThreads)
    pool_kernel(const float* __restrict__ x, int64_t xs, float* __restrict__ y, int64_t ys, int n, int pool,
                int kernel) {
  const int i = int(blockIdx.x) * kScoreThreads + int(threadIdx.x);
  if (i >= n) return;
  const float* xr = x + int64_t(blockIdx.y) * xs;
  const int pad = kernel / 2, lo = max(0, i - pad), hi = min(n - 1, i + pad);
  float acc = xr[lo];
  for (int j = lo + 1; j <= hi; ++j) acc = pool == int(Pool::Max) ? fmaxf(acc, xr[j]) : acc + xr[j];
  y[int64_t(blockIdx.y) * ys + i] = pool == int(Pool::Max) ? acc : acc / float(kernel);
}

// One warp per row: lanes take every 32nd element, then a butterfly sum.
template <class T>
static __global__ void __launch_bounds__(kScoreThreads)
    value_norms_kernel(const T* __restrict__ v, int64_t rs, int64_t hs, int n, int d, float* __restrict__ out,
                       int64_t os) {
  const int j = int(blockIdx.x) * (kScoreThreads / 32) + int(threadIdx.x) / 32, lane = threadIdx.x % 32;
  if (j >= n) return;  // whole warps leave together
  const T* row = v + int64_t(blockIdx.y) * hs + int64_t(j) * rs;
  float s = 0.f;
  for (int x = lane; x < d; x += 32) s += to_f32(row[x]) * to_f32(row[x]);
  s = warp_sum(s);
  if (lane == 0) out[int64_t(blockIdx.y) * os + j] = s;
}

// One block per head: the max of the prior, then the scaling.
static __global__ void __launch_bounds__(kScoreThreads)
    scale_by_prior_kernel(float* __restrict__ s, int64_t ss, const float* __restrict__ prior, int64_t ps,
                          int n) {
  COKV_SHARED(float, scratch, 32);
  const float* pr = prior + int64_t(blockIdx.x) * ps;
  float* sr = s + int64_t(blockIdx.x) * ss;
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < n; j += kScoreThreads) mx = fmaxf(mx, pr[j]);
  mx = warp_max(mx);
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = mx;
  __syncthreads();
  mx = warp_max(threadIdx.x % 32 < kScoreThreads / 32 ? scratch[threadIdx.x % 32] : -INFINITY);
  if (!(mx > 0.f)) return;  // the CPU keeps the scores when the max prior is not positive
  for (int j = threadIdx.x; j < n; j += kScoreThreads) sr[j] *= pr[j] / mx;
}

static __global__ void __launch_bounds__(kScoreThreads)
    tiers_kernel(float* __restrict__ s, int64_t ss, uint8_t* __restrict__ tier, int n, int sinks, int recent,
                 int recent_tier) {
  const int j = int(blockIdx.x) * kScoreThreads + int(threadIdx.x);
  if (j >= n) return;
  const int64_t e = int64_t(blockIdx.y) * ss + j;
  if (j < sinks)
    s[e] = -float(j), tier[e] = uint8_t(recent_tier + 1);
  else if (j >= n - recent)
    s[e] = float(j), tier[e] = uint8_t(recent_tier);
  else
    tier[e] = 0;
}

void pool_scores(const float* x, int64_t x_stride, float* y, int64_t y_stride, int n_heads, int n, Pool pool,
                 int kernel, cudaStream_t stream) {
  require_arg(kernel >= 1 && kernel % 2 == 1, "pool_scores",
              "kernel " + std::to_string(kernel) + ": expected odd >= 1");
  if (n <= 0 || n_heads <= 0) return;
  if (pool == Pool::None || kernel == 1) {
    check_cuda(cudaMemcpy2DAsync(y, y_stride * 4, x, x_stride * 4, size_t(n) * 4, n_heads,
                                 cudaMemcpyDeviceToDevice, stream),
               "pool_scores");
    return;
  }
  launch("pool_scores", pool_kernel, dim3(ceil_div(n, kScoreThreads), n_heads), dim3(kScoreThreads), 0,
         stream, x, x_stride, y, y_stride, n, int(pool), kernel);
}

template <class T>
void value_norms(const T* v, int64_t row_stride, int64_t head_stride, int n_heads, int n, int head_dim,
                 float* out, int64_t out_stride, cudaStream_t stream) {
  if (n <= 0 || n_heads <= 0) return;
  launch("value_norms", value_norms_kernel<T>, dim3(ceil_div(n, kScoreThreads / 32), n_heads),
         dim3(kScoreThreads), 0, stream, v, row_stride, head_stride, n, head_dim, out, out_stride);
}

void scale_by_prior(float* s, int64_t s_stride, const float* prior, int64_t prior_stride, int n_heads, int n,
                    cudaStream_t stream) {
  if (n <= 0 || n_heads <= 0) return;
  launch("scale_by_prior", scale_by_prior_kernel, dim3(n_heads), dim3(kScoreThreads), 0, stream, s, s_stride,
         prior, prior_stride, n);
}

void positional_tiers(float* scores, int64_t stride, uint8_t* tier, int n_heads, int n, int sinks, int recent,
                      int recent_tier, cudaStream_t stream) {
  require_arg(sinks >= 0 && recent >= 0 && recent_tier >= 0 && recent_tier < 15, "positional_tiers",
              "expected sinks, recent >= 0 and a tier below 15");
  if (n <= 0 || n_heads <= 0) return;
  launch("positional_tiers", tiers_kernel, dim3(ceil_div(n, kScoreThreads), n_heads), dim3(kScoreThreads), 0,
         stream, scores, stride, tier, n, sinks, recent, recent_tier);
}

size_t snapkv_workspace(int n_heads, int n_rows, int n_kv_heads, int n_scored) {
  return size_t(n_heads) * n_rows + size_t(n_kv_heads) * n_scored;
}

template <class T>
void snapkv_scores(const WindowInputs<T>& w, const float* lse, int64_t lse_head_stride, int n_scored,
                   Pool pool, int kernel, float* scores, float* workspace, cudaStream_t stream) {
  float* own_lse = workspace;                              // [H, W]
  float* attn = workspace + size_t(w.n_heads) * w.n_rows;  // [G, N]
  if (!lse) {
    window_lse(w, own_lse, stream);
    lse = own_lse, lse_head_stride = w.n_rows;
  }
  window_scores(w, lse, lse_head_stride, n_scored, attn, stream);
  pool_scores(attn, n_scored, scores, n_scored, w.n_kv_heads, n_scored, pool, kernel, stream);
}

size_t ahakv_workspace(int n_heads, int n_rows, int n_kv_heads, int n_scored) {
  return size_t(n_heads) * n_rows + 2 * size_t(n_kv_heads) * n_scored;
}

template <class T>
void ahakv_scores(const WindowInputs<T>& w, const T* v, int64_t v_row_stride, int64_t v_head_stride,
                  int n_scored, int kernel, float* scores, float* workspace, cudaStream_t stream) {
  float* lse = workspace;                                  // [H, W]
  float* norms = lse + size_t(w.n_heads) * w.n_rows;       // [G, N]
  float* prior = norms + size_t(w.n_kv_heads) * n_scored;  // [G, N]
  window_lse(w, lse, stream);
  window_scores(w, lse, w.n_rows, n_scored, scores, stream);
  value_norms(v, v_row_stride, v_head_stride, w.n_kv_heads, n_scored, w.head_dim, norms, n_scored, stream);
  pool_scores(norms, n_scored, prior, n_scored, w.n_kv_heads, n_scored, Pool::Avg, kernel, stream);
  scale_by_prior(scores, n_scored, prior, n_scored, w.n_kv_heads, n_scored, stream);
}

#define COKV_SCORES(T)                                                                                    \
  template void value_norms<T>(const T*, int64_t, int64_t, int, int, int, float*, int64_t, cudaStream_t); \
  template void snapkv_scores<T>(const WindowInputs<T>&, const float*, int64_t, int, Pool, int, float*,   \
                                 float*, cudaStream_t);                                                   \
  template void ahakv_scores<T>(const WindowInputs<T>&, const T*, int64_t, int64_t, int, int, float*,     \
                                float*, cudaStream_t);
COKV_SCORES(float)
COKV_SCORES(f16)
COKV_SCORES(bf16)
#undef COKV_SCORES

COKV_KERNELS_END
