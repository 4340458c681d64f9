// Per-head scores, one function per kind of method (ProfileMethod), each returning the scores,
// their standard errors where the method has them, and the table's "method" metadata.
//
//   score_by_estimator  CoKV's game: SSV, permutation Shapley, leverage regression or exact
//                       enumeration over the journaled model game
//   score_baklava       one prefill per validation prompt through a layer observer
//   score_taskkv        Task-KV's heterogeneous-head separation over the prepared prompts
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <vector>

#include "profile/estimators.h"
#include "profile/model_game.h"
#include "profile/profile_run.h"

namespace cokv::profile {

struct HeadScores {
  std::vector<double> values;      // [L*G]
  std::vector<double> std_error;   // [L*G]; empty when the method has none
  nlohmann::json method;           // the table's "method" object
  std::optional<Estimate> estimate;    // game methods: chains, convergence, trace, slice values
  std::vector<uint8_t> heterogeneous;  // Task-KV: the static heterogeneous set [L*G]
  double tolerance = 0;                // game methods: the two-chain MAE target (0: fixed samples)
};

// How an estimator run samples, fixed before the journal opens (its settings go in the header).
struct EstimatorPlan {
  SamplingOptions sampling;
  SsvOptions ssv;
  PermutationOptions permutation;
  RegressionOptions regression;
  nlohmann::json settings;  // what determines the coalitions (journal header)
  int64_t expected = 0;     // evaluations the run will make at most (progress total)
};
EstimatorPlan plan_estimator(const ProfileOptions& o, int n_players);

// The base "method" object every table carries (name, utility, seed, absent, scorer).
nlohmann::json method_metadata(const ProfileOptions& o);

HeadScores score_by_estimator(const ProfileOptions& o, EstimatorPlan plan, JournaledGame& journal,
                              ModelGame& game, std::ostream& log);
HeadScores score_baklava(const ProfileOptions& o, Backend& b, const ModelGame& game, std::ostream& log);
HeadScores score_taskkv(const ProfileOptions& o, const ModelGame& game);

}  // namespace cokv::profile
