// Budget vectors: how many prompt tokens each KV head (layer, kv_head) keeps.
// A budget counts the recent window too (CoKV's "KV size"): budget c keeps the last `window`
// prompt positions plus the top (c - window) positions of the head's ranking.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace cokv {

// Integer per-head budgets, [L*G] layer-major: what every allocator returns and tables hold.
using Budgets = std::vector<int32_t>;

constexpr int32_t kKeepAll = -1;   // keep the whole prompt
constexpr int32_t kZeroHead = -2;  // ablation (--absent zero): the head's attention output is zeroed

struct BudgetVector {
  Budgets keep;  // [L*G], index il*G + g

  static BudgetVector all(int n_heads);
  static BudgetVector uniform(int n_heads, int32_t budget);
  // A CoKV coalition: members keep everything; the rest keep `absent` (the window size, or
  // kZeroHead for the zeroing ablation).
  static BudgetVector coalition(std::span<const uint8_t> members, int32_t absent);
};

// Kept prompt positions of one head, ascending. order: the head's ranking of positions
// [0, T - window) (best first). The window [T - window, T) is always kept.
void kept_positions(int32_t budget, int n_tokens, int window, std::span<const int32_t> order,
                    std::vector<int32_t>& out);
// Number of prompt tokens a budget keeps for a prompt of n_tokens (0 for kZeroHead).
int64_t kept_count(int32_t budget, int n_tokens, int window);

}  // namespace cokv
