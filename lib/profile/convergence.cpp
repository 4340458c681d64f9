#include "profile/convergence.h"

#include <cmath>
#include <sstream>

#include "core/progress.h"

namespace cokv::profile {

Convergence assess_convergence(const Estimate& e, int n_players, double tol, double evaluations_per_s) {
  Convergence c;
  c.chain_mae = e.chain_mae;
  c.target_is_default = !(tol > 0);
  c.target = tol > 0 ? tol : 1.0 / double(n_players);
  c.samples_per_chain = e.n_samples;
  if (std::isnan(e.chain_mae)) return c;  // one chain: no agreement to measure
  c.met = e.chain_mae < c.target;
  if (c.met || e.n_samples <= 0) return c;
  const double ratio = e.chain_mae / c.target;
  const auto needed = int64_t(std::ceil(double(e.n_samples) * ratio * ratio));
  c.further_samples_per_chain = needed - e.n_samples;
  const double evals_per_sample = double(e.n_evaluations) / double(e.n_samples);  // all chains together
  c.further_evaluations = int64_t(std::ceil(double(c.further_samples_per_chain) * evals_per_sample));
  if (evaluations_per_s > 0) c.further_seconds = double(c.further_evaluations) / evaluations_per_s;
  return c;
}

nlohmann::json convergence_json(const Convergence& c) {
  using nlohmann::json;
  json j = {{"chain_mae", std::isnan(c.chain_mae) ? json(nullptr) : json(c.chain_mae)},
            {"target", c.target},
            {"target_rule", c.target_is_default ? "1/n (CoKV)" : "--tol"},
            {"met", std::isnan(c.chain_mae) ? json(nullptr) : json(c.met)},
            {"samples_per_chain", c.samples_per_chain},
            {"further_samples_per_chain", c.further_samples_per_chain},
            {"further_evaluations", c.further_evaluations},
            {"further_seconds", c.further_seconds ? json(*c.further_seconds) : json(nullptr)},
            {"estimate", "MAE ~ 1/sqrt(samples per chain), from the last check"}};
  return j;
}

std::string convergence_sentence(const Convergence& c) {
  std::ostringstream s;
  s.precision(3);
  if (std::isnan(c.chain_mae)) return "one chain: convergence not measured (use --chains 2)";
  s << "chain MAE " << c.chain_mae << " against the " << (c.target_is_default ? "1/n target " : "--tol target ")
    << c.target << ": ";
  if (c.met) {
    s << "converged";
    return s.str();
  }
  s << "not converged; about " << c.further_samples_per_chain << " more samples per chain ("
    << c.further_evaluations << " evaluations";
  if (c.further_seconds) s << ", " << format_duration(*c.further_seconds) << " at the measured rate";
  s << ") are needed";
  return s.str();
}

}  // namespace cokv::profile
