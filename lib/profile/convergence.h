// CoKV's stopping rule stated with its cost: two independent chains agree to a mean absolute
// error below a target (1/n by default, n = players). When they do not yet, the samples still
// needed are estimated from the Monte Carlo rate, MAE ~ 1/sqrt(samples per chain): at the last
// check with s samples and MAE m, the target t needs s (m / t)^2 samples per chain. The time
// follows from the evaluations one sample per chain costs and the measured evaluations/s.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

#include "profile/estimators.h"

namespace cokv::profile {

struct Convergence {
  double chain_mae = 0;     // at the end of the run (NaN with one chain)
  double target = 0;        // the MAE the rule asks for
  bool target_is_default = true;  // 1/n (CoKV) rather than --tol
  bool met = false;
  int64_t samples_per_chain = 0;
  int64_t further_samples_per_chain = 0;  // 0 when met
  int64_t further_evaluations = 0;
  std::optional<double> further_seconds;  // at the measured rate; none when no rate was measured
};

// tol > 0: the run's --tol; else 1/n. evaluations_per_s <= 0: no rate measured (all replayed).
Convergence assess_convergence(const Estimate& e, int n_players, double tol, double evaluations_per_s);

nlohmann::json convergence_json(const Convergence& c);
// One sentence: "chain MAE 0.287 against the 1/n target 0.0111: not converged; about 10700 more
// samples per chain (2.1M evaluations, 31 h at 19.5/s) are needed".
std::string convergence_sentence(const Convergence& c);

}  // namespace cokv::profile
