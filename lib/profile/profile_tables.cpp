// Budget levels from head scores (see profile_tables.h).
#include "profile/profile_tables.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kv/allocation.h"
#include "profile/baklava.h"

namespace cokv::profile {

using nlohmann::json;

namespace {

std::vector<BudgetVector> as_vectors(const std::vector<Budgets>& budgets) {
  std::vector<BudgetVector> out;
  for (const auto& b : budgets) out.push_back(BudgetVector{b});
  return out;
}

size_t best_index(const std::vector<double>& u) { return size_t(std::max_element(u.begin(), u.end()) - u.begin()); }

std::vector<BudgetLevel> cokv_levels(const ProfileOptions& o, HeadScores& hs, ModelGame& game, json& selection) {
  const std::vector<double> budgets = sorted_budgets(o);
  const double smallest = budgets.front();
  int alpha = 0;
  if (!o.alpha) {
    // CoKV: evaluate every candidate alpha's table at the smallest budget on validation.
    const auto cands = cokv_candidates(hs.values, smallest, o.window);
    std::vector<Budgets> tables;
    for (const auto& c : cands) tables.push_back(c.budgets);
    const auto u = game.evaluate_budgets(as_vectors(tables), o.utility);
    for (size_t k = 0; k < cands.size(); ++k) selection.push_back({{"alpha", cands[k].alpha}, {"utility", u[k]}});
    alpha = cands[best_index(u)].alpha;
    hs.method["alpha_selection"] = {{"mean_budget", smallest},
                                    {"utility", utility_name(o.utility)},
                                    {"candidates", selection},
                                    {"chosen", alpha}};
  } else {
    alpha = std::min(*o.alpha, int(hs.values.size()));
  }
  hs.method["alpha"] = alpha;
  std::vector<BudgetLevel> levels;
  for (double b : budgets) {
    BudgetLevel lv;
    lv.mean_budget = b;
    lv.alpha = alpha;
    lv.budgets = allocate_cokv(hs.values, b, o.window, alpha);
    levels.push_back(lv);
  }
  return levels;
}

std::vector<BudgetLevel> baklava_levels(const ProfileOptions& o, HeadScores& hs, ModelGame& game, json& selection) {
  const std::vector<double> budgets = sorted_budgets(o);
  const double smallest = budgets.front();
  // Search (floor, exponent) at the smallest budget by validation answer log-likelihood.
  const auto grid = baklava_grid(o.window, smallest);
  std::vector<Budgets> tables;
  for (const auto& c : grid) tables.push_back(allocate_proportional(hs.values, smallest, c.floor, c.exponent));
  const auto u = game.evaluate_budgets(as_vectors(tables), Utility::Loglik);
  for (size_t k = 0; k < grid.size(); ++k)
    selection.push_back({{"floor", grid[k].floor}, {"exponent", grid[k].exponent}, {"loglik", u[k]}});
  const BaklavaCandidate best = grid[best_index(u)];
  hs.method["search"] = {{"mean_budget", smallest}, {"utility", "loglik"},  {"candidates", selection},
                         {"floor", best.floor},     {"exponent", best.exponent}};
  std::vector<BudgetLevel> levels;
  for (double b : budgets) {
    BudgetLevel lv;
    lv.mean_budget = b;
    const int floor = std::max(std::min<int>(best.floor, int(std::floor(b))), o.window);
    lv.budgets = allocate_proportional(hs.values, b, floor, best.exponent);
    lv.extra = {{"floor", floor}, {"exponent", best.exponent}};
    levels.push_back(lv);
  }
  return levels;
}

std::vector<BudgetLevel> taskkv_levels(const ProfileOptions& o, HeadScores& hs, const ModelConfig& c,
                                       int longest_prompt) {
  TaskKvAllocOptions ao;
  ao.window = o.window;
  ao.sink = o.taskkv_sink;
  ao.full_budget = o.taskkv_full > 0 ? o.taskkv_full : longest_prompt;
  ao.fit = TaskKvFit::Shrink;
  hs.method["full_budget"] = ao.full_budget;
  std::vector<BudgetLevel> levels;
  for (double b : sorted_budgets(o)) {
    BudgetLevel lv;
    lv.mean_budget = b;
    lv.budgets = allocate_task_kv(hs.heterogeneous, c.n_layers, c.n_kv_heads, b, ao);
    levels.push_back(lv);
  }
  return levels;
}

}  // namespace

std::vector<double> sorted_budgets(const ProfileOptions& o) {
  std::vector<double> b = o.budgets;
  std::sort(b.begin(), b.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
  require(!b.empty(), "profile: no mean budgets");
  return b;
}

std::vector<BudgetLevel> budget_levels(const ProfileOptions& o, HeadScores& hs, ModelGame& game, int longest_prompt,
                                       json& selection) {
  selection = json::array();
  switch (o.method) {
    case ProfileMethod::Baklava: return baklava_levels(o, hs, game, selection);
    case ProfileMethod::TaskKv: return taskkv_levels(o, hs, game.backend().model().cfg, longest_prompt);
    default: return cokv_levels(o, hs, game, selection);
  }
}

}  // namespace cokv::profile
