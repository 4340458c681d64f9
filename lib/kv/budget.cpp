#include "kv/budget.h"

#include <algorithm>

#include "core/error.h"

namespace cokv {

BudgetVector BudgetVector::all(int n_heads) { return {std::vector<int32_t>(n_heads, kKeepAll)}; }

BudgetVector BudgetVector::uniform(int n_heads, int32_t budget) {
  return {std::vector<int32_t>(n_heads, budget)};
}

BudgetVector BudgetVector::coalition(std::span<const uint8_t> members, int32_t absent) {
  BudgetVector b;
  b.keep.resize(members.size());
  for (size_t i = 0; i < members.size(); ++i) b.keep[i] = members[i] ? kKeepAll : absent;
  return b;
}

int64_t kept_count(int32_t budget, int n_tokens, int window) {
  if (budget == kZeroHead) return 0;
  if (budget == kKeepAll || budget >= n_tokens) return n_tokens;
  require(budget >= 0, "budget: negative token count " + std::to_string(budget));
  const int w = std::min(window, n_tokens);
  return std::max(budget, w);
}

void kept_positions(int32_t budget, int n_tokens, int window, std::span<const int32_t> order,
                    std::vector<int32_t>& out) {
  out.clear();
  if (budget == kZeroHead) return;
  if (budget == kKeepAll || budget >= n_tokens) {
    out.resize(n_tokens);
    for (int t = 0; t < n_tokens; ++t) out[t] = t;
    return;
  }
  require(budget >= 0, "budget: negative token count " + std::to_string(budget));
  const int w = std::min(window, n_tokens);
  const size_t n_ranked = size_t(std::max(budget - w, 0));
  require(n_ranked <= order.size(), "budget: head ranking has " + std::to_string(order.size()) +
                                        " positions, budget needs " + std::to_string(n_ranked));
  out.assign(order.begin(), order.begin() + n_ranked);
  for (int t = n_tokens - w; t < n_tokens; ++t) out.push_back(t);
  std::sort(out.begin(), out.end());
}

}  // namespace cokv
