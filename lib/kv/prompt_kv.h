// A prefilled prompt's cache in host memory: every layer's K/V per KV head (the full cache,
// before any eviction), the last window of queries (what the eviction scorers and Task-KV
// read) and the last position's logits. The CPU backend keeps its prompt state in this form;
// other backends copy theirs here when a host-side consumer asks (Backend::host_kv).
//
// Dimension legend: T prompt tokens, L layers, H query heads, G KV heads, D head dim,
// W window query rows kept, V vocab.
#pragma once
#include <cstddef>
#include <vector>

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

}  // namespace cokv
