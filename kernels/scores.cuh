// Eviction scores per KV head from the observation window (window.cuh): pooling, AhaKV's
// value-norm prior, the positional tiers of StreamingLLM and Task-KV, and the SnapKV and
// AhaKV pipelines built from them. CPU twins: pool1d and head_scores (lib/kv/scorers.cpp).
// The outputs go to rank_positions (rank.cuh).
//
// Legend: G KV heads (rows of a score table), N scored positions (T - window), D head dim.
#pragma once
#include "common.cuh"
#include "window.cuh"

COKV_KERNELS_BEGIN

enum class Pool { None, Max, Avg };

// y[g, i] = pool of x[g, i-kernel/2 .. i+kernel/2] within [0, N): max ignores the padding,
// avg divides by kernel (PyTorch's avg_pool1d with count_include_pad). kernel odd >= 1.
void pool_scores(const float* x, int64_t x_stride, float* y, int64_t y_stride, int n_heads, int n, Pool pool,
                 int kernel, cudaStream_t stream);

// out[g, j] = |v_j|^2 of KV head g, j < N (value row j of head g at v + j*row_stride + g*head_stride).
template <class T>
void value_norms(const T* v, int64_t row_stride, int64_t head_stride, int n_heads, int n, int head_dim,
                 float* out, int64_t out_stride, cudaStream_t stream);

// s[g, j] *= prior[g, j] / max_j prior[g, j], where that max is > 0 (AhaKV's prior).
void scale_by_prior(float* s, int64_t s_stride, const float* prior, int64_t prior_stride, int n_heads, int n,
                    cudaStream_t stream);

// Positional tiers (Streaming, Task-KV): j < sinks gets tier recent_tier + 1 and score -j
// (sinks in order); otherwise j >= N - recent gets tier recent_tier and score j (most recent
// first); the rest keep their score and tier 0. tier [G, N] with the scores' row stride.
void positional_tiers(float* scores, int64_t stride, uint8_t* tier, int n_heads, int n, int sinks, int recent,
                      int recent_tier, cudaStream_t stream);

// SnapKV: window attention (lse: the prefill's [H, T] lse shifted to row T-W, head stride T,
// or null to compute it) then pooling. scores [G, N]; workspace: snapkv_workspace floats.
size_t snapkv_workspace(int n_heads, int n_rows, int n_kv_heads, int n_scored);
template <class T>
void snapkv_scores(const WindowInputs<T>& w, const float* lse, int64_t lse_head_stride, int n_scored,
                   Pool pool, int kernel, float* scores, float* workspace, cudaStream_t stream);

// AhaKV: window attention with the adaptive scale (w.scale = Aha, w.budget = k) times the
// avg-pooled value-norm prior. v: the prompt's values as k in w. workspace: ahakv_workspace.
size_t ahakv_workspace(int n_heads, int n_rows, int n_kv_heads, int n_scored);
template <class T>
void ahakv_scores(const WindowInputs<T>& w, const T* v, int64_t v_row_stride, int64_t v_head_stride,
                  int n_scored, int kernel, float* scores, float* workspace, cudaStream_t stream);

COKV_KERNELS_END
