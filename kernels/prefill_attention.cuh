// Causal self-attention over a prompt, every query head at once: flash-style tiles with an
// online softmax (memory O(T), no T x T matrix), products on tensor cores through WMMA
// (f16/bf16 inputs, fp32 accumulation), GQA (query head h reads KV head h / (H/G)).
// Optionally writes each row's log-sum-exp, which the window scorers reuse instead of a
// second pass over the keys (window_scores in window.cuh).
// CPU twin: causal_attention in lib/runtime/prefill.cpp: row t of head h is
// softmax_j(scale * q_t . k_j, j <= t) . v_j.
//
// Legend: T tokens, H query heads, G KV heads, D head dim (64 or 128).
#pragma once
#include "common.cuh"

COKV_KERNELS_BEGIN

// q [T, H*D], k and v [T, G*D], out [T, H*D]: row-major with the given row strides (in
// elements, multiples of 8; pointers 16-byte aligned). lse: null, or [H, T] receiving
// log(sum_j exp(scale * q_t . k_j)) over the keys row t sees (natural log).
template <class T>
void prefill_attention(const T* q, int64_t q_stride, const T* k, int64_t k_stride, const T* v,
                       int64_t v_stride, T* out, int64_t out_stride, float* lse, int n_tokens, int n_heads,
                       int n_kv_heads, int head_dim, float scale, cudaStream_t stream);

COKV_KERNELS_END
