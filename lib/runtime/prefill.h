// Prefill: the full-cache forward pass over a prompt. It keeps what head-level KV needs
// afterwards: every layer's K/V per KV head, the last window of queries (for the eviction
// scorers) and the last position's logits. Prefill always attends with the full cache;
// compression happens only after it (as SnapKV and CoKV do).
//
// Dimension legend: T prompt tokens, L layers, H query heads, G KV heads, D head dim,
// W window query rows kept, E hidden, V vocab.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "runtime/model.h"
#include "runtime/ops.h"

namespace cokv {

struct PromptKV {
  int n_tokens = 0;                        // T
  int n_win = 0;                           // W = min(T, n_query_rows)
  int n_kv_heads = 0, n_heads = 0, head_dim = 0;
  std::vector<std::vector<float>> k;       // [L][G*T*D], post-RoPE keys, head-major
  std::vector<std::vector<float>> v;       // [L][G*T*D]
  std::vector<std::vector<float>> q_win;   // [L][H*W*D], post-RoPE queries of the last W rows
  std::vector<float> logits;               // [V] at the last prompt position

  const float* k_head(int il, int g) const { return k[il].data() + size_t(g) * n_tokens * head_dim; }
  const float* v_head(int il, int g) const { return v[il].data() + size_t(g) * n_tokens * head_dim; }
  const float* q_head(int il, int h) const { return q_win[il].data() + size_t(h) * n_win * head_dim; }
  size_t bytes() const;
};

// Observes each layer during prefill (BaKlaVa-style profiling), without a second model.
// x_in: residual entering the layer [T, E]; attn_heads: per-head attention outputs before
// the output projection [T, H*D]; x_mid: residual after attention [T, E]; x_out: after the MLP.
struct LayerObserver {
  virtual ~LayerObserver() = default;
  virtual void on_layer(int il, const Mat& x_in, const Mat& attn_heads, const Mat& x_mid,
                        const Mat& x_out) = 0;
};

struct PrefillOptions {
  int n_query_rows = 32;              // W: window queries kept for scorers (SnapKV 8, AhaKV 32)
  LayerObserver* observer = nullptr;
  bool keep_kv = true;                // false: only logits (plain forward)
};

PromptKV prefill(const Model& m, std::span<const int32_t> tokens, const PrefillOptions& opt = {});

// Plain full-cache greedy generation by repeated full forward passes. Quadratic and slow:
// an independent reference for tests, not for use.
std::vector<int32_t> greedy_reference(const Model& m, std::vector<int32_t> tokens, int max_new);

int argmax(std::span<const float> v);

}  // namespace cokv
