// Head scores -> budget levels, one per mean budget, each method with its own free parameter
// chosen on validation:
//   CoKV estimators  Eq. 3 with alpha picked by the game's utility at the smallest budget
//                    (or fixed by --alpha)
//   BaKlaVa          proportional with a floor and an exponent picked by answer log-likelihood
//                    at the smallest budget
//   Task-KV          the heterogeneous heads keep the whole prompt as far as a layer allows
//                    (kv/allocation.h, TaskKvFit::Shrink)
// The choice is recorded in the scores' method metadata (alpha_selection / search / full_budget).
#pragma once
#include <nlohmann/json.hpp>
#include <vector>

#include "kv/budget_table.h"
#include "profile/head_scores.h"

namespace cokv::profile {

// Sorted, distinct mean budgets of the options.
std::vector<double> sorted_budgets(const ProfileOptions& o);

// longest_prompt: the longest validation prompt (Task-KV's "full cache" unless --taskkv-full).
// selection receives the candidates evaluated (empty for Task-KV).
std::vector<BudgetLevel> budget_levels(const ProfileOptions& o, HeadScores& hs, ModelGame& game, int longest_prompt,
                                       nlohmann::json& selection);

}  // namespace cokv::profile
