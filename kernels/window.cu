// Observation-window attention kernels (see window.cuh).
#include "device.cuh"
#include "window.cuh"

COKV_KERNELS_BEGIN

constexpr int kWinThreads = 128;
constexpr int kWinKeys = 64;      // keys per shared-memory tile
constexpr int kLseVectors = 16;   // window_lse: query vectors per block (8 threads each)
constexpr int kScoreVectors = 8;  // window_scores: query vectors per pass over a key tile

// The softmax scale of a row that sees `visible` positions (as scorers.cpp's scale functions).
static __device__ __forceinline__ float window_scale(WindowScale s, int visible, int budget, int d) {
  if (s == WindowScale::Aha && budget > 0 && visible > budget)
    return sqrtf(2.f * logf(float(visible) / float(budget)) / float(d));
  return 1.f / sqrtf(float(d));
}

// Keys c0 .. c0+63 of one KV head into ks [64][D+1] as fp32 (the +1 spreads the rows over
// the banks); keys at or beyond n_keys become zeros.
template <class T>
static __device__ __forceinline__ void win_load_keys(float* ks, const T* k, int64_t row_stride, int c0,
                                                     int n_keys, int d) {
  for (int e = threadIdx.x; e < kWinKeys * d; e += kWinThreads) {
    const int j = e / d, x = e % d;
    ks[j * (d + 1) + x] = c0 + j < n_keys ? to_f32(k[int64_t(c0 + j) * row_stride + x]) : 0.f;
  }
}

static __device__ __forceinline__ float dot_smem(const float* a, const float* b, int d) {
  float s = 0.f;
  for (int x = 0; x < d; ++x) s += a[x] * b[x];
  return s;
}

// Online (max, sum) of exponentials, merged pairwise; all lanes of a merge get the same bits.
static __device__ __forceinline__ void lse_merge(float& m, float& l, float m2, float l2) {
  const float mx = fmaxf(m, m2);
  if (mx == -INFINITY) return;
  l = l * expf(m - mx) + l2 * expf(m2 - mx);
  m = mx;
}

// grid (vector tiles, G): 16 of group g's gs*W query vectors per block, 8 threads each taking
// every 8th key.
template <class T>
static __global__ void __launch_bounds__(kWinThreads)
    window_lse_kernel(WindowInputs<T> w, float* __restrict__ lse) {
  const int D = w.head_dim, W = w.n_rows, gs = w.n_heads / w.n_kv_heads, g = blockIdx.y;
  float* qs = dynamic_smem<float>();  // [16][D]
  float* ks = qs + kLseVectors * D;   // [64][D+1]
  const int vi = threadIdx.x / 8, sub = threadIdx.x % 8;
  const int v = int(blockIdx.x) * kLseVectors + vi, n_vec = gs * W;
  const int e = v / W, r = v % W, h = g * gs + e;
  const bool active = v < n_vec;
  const int visible = w.n_tokens - W + r + 1;
  const float scale = window_scale(w.scale, visible, w.budget, D);
  for (int x = threadIdx.x; x < kLseVectors * D; x += kWinThreads) {
    const int vv = int(blockIdx.x) * kLseVectors + x / D;
    const int hh = g * gs + vv / W;
    qs[x] = vv < n_vec ? to_f32(w.q[int64_t(vv % W) * w.q_row_stride + int64_t(hh) * w.q_head_stride + x % D])
                       : 0.f;
  }
  const T* kg = w.k + int64_t(g) * w.k_head_stride;
  float m = -INFINITY, l = 0.f;
  for (int c0 = 0; c0 < w.n_tokens; c0 += kWinKeys) {
    __syncthreads();  // the previous tile is no longer read
    win_load_keys(ks, kg, w.k_row_stride, c0, w.n_tokens, D);
    __syncthreads();
    for (int j = sub; j < kWinKeys; j += 8) {
      if (!active || c0 + j >= visible) break;
      const float s = dot_smem(qs + vi * D, ks + j * (D + 1), D) * scale;
      if (s > m)
        l = l * expf(m - s) + 1.f, m = s;
      else
        l += expf(s - m);
    }
  }
  for (int o = 1; o < 8; o *= 2)
    lse_merge(m, l, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, l, o));
  if (active && sub == 0) lse[int64_t(h) * W + r] = m + logf(l);
}

// grid (position tiles of 64, G): thread t owns position c0 + t%64 and every other vector
// (t/64 picks which half); the two halves are added in a fixed order at the end.
template <class T>
static __global__ void __launch_bounds__(kWinThreads)
    window_scores_kernel(WindowInputs<T> w, const float* __restrict__ lse, int64_t lse_head_stride,
                         int n_scored, float* __restrict__ scores) {
  const int D = w.head_dim, W = w.n_rows, gs = w.n_heads / w.n_kv_heads, g = blockIdx.y;
  float* ks = dynamic_smem<float>();    // [64][D+1]
  float* qs = ks + kWinKeys * (D + 1);  // [8][D]
  COKV_SHARED(float, v_scale, kScoreVectors);
  COKV_SHARED(float, v_lse, kScoreVectors);
  COKV_SHARED(int, v_visible, kScoreVectors);
  COKV_SHARED(float, halves, 2 * kWinKeys);
  const int c0 = int(blockIdx.x) * kWinKeys, j = threadIdx.x % kWinKeys, half = threadIdx.x / kWinKeys;
  const int n_vec = gs * W, pos = c0 + j;
  win_load_keys(ks, w.k + int64_t(g) * w.k_head_stride, w.k_row_stride, c0, n_scored, D);
  float acc = 0.f;
  for (int v0 = 0; v0 < n_vec; v0 += kScoreVectors) {
    __syncthreads();  // keys loaded; the previous vectors are no longer read
    for (int x = threadIdx.x; x < kScoreVectors * D; x += kWinThreads) {
      const int v = v0 + x / D, h = g * gs + v / W;
      qs[x] = v < n_vec ? to_f32(w.q[int64_t(v % W) * w.q_row_stride + int64_t(h) * w.q_head_stride + x % D])
                        : 0.f;
    }
    if (threadIdx.x < kScoreVectors) {
      const int v = v0 + threadIdx.x, r = v % W, h = g * gs + v / W;
      v_visible[threadIdx.x] = v < n_vec ? w.n_tokens - W + r + 1 : 0;
      v_scale[threadIdx.x] = window_scale(w.scale, w.n_tokens - W + r + 1, w.budget, D);
      v_lse[threadIdx.x] = v < n_vec ? lse[int64_t(h) * lse_head_stride + r] : 0.f;
    }
    __syncthreads();
    for (int i = half; i < kScoreVectors; i += 2)
      if (pos < n_scored && pos < v_visible[i])
        acc += expf(dot_smem(qs + i * D, ks + j * (D + 1), D) * v_scale[i] - v_lse[i]);
  }
  halves[threadIdx.x] = acc;
  __syncthreads();
  if (half == 0 && pos < n_scored)
    scores[int64_t(g) * n_scored + pos] = (halves[j] + halves[kWinKeys + j]) * (1.f / float(n_vec));
}

template <class T>
static void check_window(const WindowInputs<T>& w, const char* op) {
  require_arg(w.n_kv_heads > 0 && w.n_heads % w.n_kv_heads == 0, op,
              "query heads not a multiple of KV heads");
  require_arg(
      w.n_rows >= 1 && w.n_rows <= w.n_tokens, op,
      "window rows " + std::to_string(w.n_rows) + ": expected 1 .. T = " + std::to_string(w.n_tokens));
  require_arg(w.head_dim > 0 && w.head_dim <= 256, op, "head_dim: expected 1 .. 256");
}

template <class T>
void window_lse(const WindowInputs<T>& w, float* lse, cudaStream_t stream) {
  check_window(w, "window_lse");
  const int gs = w.n_heads / w.n_kv_heads;
  const size_t smem =
      sizeof(float) * (size_t(kLseVectors) * w.head_dim + size_t(kWinKeys) * (w.head_dim + 1));
  launch("window_lse", window_lse_kernel<T>, dim3(ceil_div(gs * w.n_rows, kLseVectors), w.n_kv_heads),
         dim3(kWinThreads), smem, stream, w, lse);
}

template <class T>
void window_scores(const WindowInputs<T>& w, const float* lse, int64_t lse_head_stride, int n_scored,
                   float* scores, cudaStream_t stream) {
  check_window(w, "window_scores");
  require_arg(n_scored >= 0 && n_scored <= w.n_tokens, "window_scores", "n_scored: expected 0 .. T");
  if (n_scored == 0) return;
  const size_t smem =
      sizeof(float) * (size_t(kWinKeys) * (w.head_dim + 1) + size_t(kScoreVectors) * w.head_dim);
  launch("window_scores", window_scores_kernel<T>, dim3(ceil_div(n_scored, kWinKeys), w.n_kv_heads),
         dim3(kWinThreads), smem, stream, w, lse, lse_head_stride, n_scored, scores);
}

#define COKV_WINDOW(T)                                                       \
  template void window_lse<T>(const WindowInputs<T>&, float*, cudaStream_t); \
  template void window_scores<T>(const WindowInputs<T>&, const float*, int64_t, int, float*, cudaStream_t);
COKV_WINDOW(float)
COKV_WINDOW(f16)
COKV_WINDOW(bf16)
#undef COKV_WINDOW

COKV_KERNELS_END
