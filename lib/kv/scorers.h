// Eviction scorers: after prefill, every KV head ranks the prompt positions outside the recent
// window, best first. A budget then keeps the head's top positions plus the window.
//   SnapKV     window attention (last `window` queries), mean over rows and the GQA group,
//              1-D pooling (max or avg, kernel 7, padding 3).
//   AhaKV      last 32 query rows with an entropy-adaptive scale sqrt(2 ln(i/k)/d), times an
//              average-pooled value-norm prior.
//   Streaming  attention sinks first, then the most recent positions (position only).
//   TaskKV     sinks, then `recent` positions, then middle tokens by avg-pooled window attention.
// Formulas: shared METHODS.md. Each scorer has a plain scalar reference in the tests.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kv/prompt_kv.h"

namespace cokv {

enum class ScorerKind { SnapKV, AhaKV, Streaming, TaskKV };
enum class PoolKind { None, Max, Avg };

struct ScorerConfig {
  ScorerKind kind = ScorerKind::SnapKV;
  int window = 8;        // recent prompt tokens always kept; SnapKV's observation window
  PoolKind pool = PoolKind::Max;
  int kernel = 7;        // pooling kernel (odd); padding kernel/2
  int aha_rows = 32;     // AhaKV: query rows accumulated
  int aha_budget = 128;  // AhaKV: k in lambda_i = sqrt(2 ln(i/k)/d)
  int sinks = 4;         // Streaming / TaskKV sink tokens (Task-KV uses 16)
  int recent = 256;      // TaskKV: recent tokens kept before middle activations

  std::string key() const;  // identifies the ranking this config produces
};

ScorerKind parse_scorer(const std::string& name);  // "snapkv" | "ahakv" | "streaming" | "taskkv"
const char* scorer_name(ScorerKind k);

// One head's ranking of positions [0, T - window), best first, with the score of each
// (ties: lower position first).
struct HeadRanking {
  std::vector<int32_t> order;
  std::vector<float> score;  // score[i] belongs to order[i]
};

struct Rankings {
  ScorerConfig cfg;
  int n_tokens = 0;
  int window = 0;                 // min(cfg.window, T)
  std::vector<HeadRanking> heads;  // [L*G]
};

Rankings rank_prompt(const PromptKV& p, const ScorerConfig& cfg);

// Per-position scores of one KV head over positions [0, T - window) before pooling/priors.
// q: the group's query heads' last rows, q[h][r][d] for h < n_group, r < n_rows (the rows are
// the last n_rows prompt positions); k: keys [T][D]. Softmax is causal: row r sees positions
// up to T - n_rows + r. scale(visible) gives each row's softmax scale.
std::vector<float> window_attention(const float* q, int n_group, int q_stride_head, int n_rows,
                                    const float* k, int n_tokens, int head_dim, int n_scored,
                                    float (*scale)(int visible, int budget, int head_dim), int budget);

// 1-D pooling with stride 1 and padding kernel/2 (max ignores padding; avg counts it, as
// PyTorch's avg_pool1d with count_include_pad=True).
std::vector<float> pool1d(const std::vector<float>& x, PoolKind kind, int kernel);

}  // namespace cokv
