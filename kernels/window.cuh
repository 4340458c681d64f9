// Observation-window attention, what the eviction scorers rank by: for every KV head g and
// prompt position j < n_scored, the mean over the last W query rows and g's query heads of
// each row's softmax probability of j. Row r (0..W-1) is prompt position T-W+r and sees
// positions 0..T-W+r. CPU twin: window_attention (lib/kv/scorers.h).
// Two passes, as a softmax needs: window_lse finds each row's log-sum-exp (or the prefill
// kernel's lse is reused when the scale is the plain 1/sqrt(D)), window_scores then sums
// exp(scale q.k_j - lse) per position; each block owns a range of positions and sums its
// rows in a fixed order, so scores are deterministic without atomics.
//
// Legend: T tokens, W window rows, H query heads, G KV heads (H/G per group), D head dim,
// N = n_scored positions (T - window).
#pragma once
#include "common.cuh"

COKV_KERNELS_BEGIN

// Plain: 1/sqrt(D). Aha: AhaKV's entropy-adaptive sqrt(2 ln(i/budget)/D) for a row that sees
// i > budget positions, 1/sqrt(D) otherwise.
enum class WindowScale { Plain, Aha };

template <class T>
struct WindowInputs {
  const T* q = nullptr;  // window row r of query head h at q + r*q_row_stride + h*q_head_stride
  int64_t q_row_stride = 0, q_head_stride = 0;
  const T* k = nullptr;  // key j of KV head g at k + j*k_row_stride + g*k_head_stride
  int64_t k_row_stride = 0, k_head_stride = 0;
  int n_tokens = 0, n_rows = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0;
  WindowScale scale = WindowScale::Plain;
  int budget = 0;  // Aha's k
};

// lse [H, W] (row stride W): log sum_j exp(scale_r q_r . k_j) over the positions row r sees.
template <class T>
void window_lse(const WindowInputs<T>& w, float* lse, cudaStream_t stream);

// scores [G, N] (row stride N). lse[h * lse_head_stride + r]: row r's log-sum-exp under the
// same scale (window_lse's [H, W], or prefill_attention's [H, T] shifted to row T-W).
template <class T>
void window_scores(const WindowInputs<T>& w, const float* lse, int64_t lse_head_stride, int n_scored,
                   float* scores, cudaStream_t stream);

COKV_KERNELS_END
