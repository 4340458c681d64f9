// Head scores per method (see head_scores.h).
#include "profile/head_scores.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/progress.h"
#include "core/stop.h"
#include "profile/baklava.h"
#include "profile/sampling.h"

namespace cokv::profile {

using nlohmann::json;

namespace {

std::string fmt(double x, int prec = 3) {
  std::ostringstream o;
  o.precision(prec);
  o << x;
  return o.str();
}

json nan_to_null(double x) { return std::isnan(x) ? json(nullptr) : json(x); }

}  // namespace

json method_metadata(const ProfileOptions& o) {
  return {{"name", table_method_name(o.method)},
          {"utility", utility_name(o.utility)},
          {"seed", o.seed},
          {"absent", absent_name(o.absent)},
          {"scorer", "snapkv"}};
}

EstimatorPlan plan_estimator(const ProfileOptions& o, int n) {
  EstimatorPlan p;
  SamplingOptions& s = p.sampling;
  s.seed = o.seed;
  s.batch_size = o.batch;
  s.n_threads = o.threads;
  s.chains = o.chains;
  if (o.samples > 0 && o.tol <= 0) {  // a fixed sample count
    s.samples = o.samples;
    s.check_every = o.check_every > 0 ? o.check_every : std::max<int64_t>(1, o.samples / 4);
  } else {  // the two-chain rule: stop at MAE < tol (CoKV: 1/n)
    s.samples = o.samples > 0 ? o.samples : o.min_samples;
    s.tolerance = o.tol > 0 ? o.tol : 1.0 / n;
    s.max_samples = o.max_samples;
    s.check_every = o.check_every > 0 ? o.check_every : std::max<int64_t>(1, s.samples / 2);
    s.chains = std::max(2, o.chains);
  }
  p.ssv.sampling = p.permutation.sampling = p.regression.sampling = s;
  p.ssv.slices = p.regression.slices = o.slices;
  p.ssv.left_only = o.left_only;
  p.permutation.antithetic = o.antithetic;
  p.regression.target = Target::ssv;
  const std::vector<int> slices = resolve_slices(o.slices, n, "--slices");
  // With a tolerance the total is the cap (the ETA is then an upper bound).
  const int64_t per_chain =
      s.tolerance <= 0 ? s.samples : std::max(s.samples, s.max_samples > 0 ? s.max_samples : 20 * s.samples);
  switch (o.method) {
    case ProfileMethod::Ssv:
      p.settings = settings_json(p.ssv);
      p.expected = int64_t(s.chains) * int64_t(slices.size()) * per_chain * 2;
      break;
    case ProfileMethod::Permutation:
      p.settings = settings_json(p.permutation);
      break;
    case ProfileMethod::Regression:
      p.settings = settings_json(p.regression);
      p.expected = int64_t(s.chains) * per_chain * 2;
      break;
    case ProfileMethod::Exact:
      if (n > 20) fail("--method exact", "players", "at most 20 (2^n coalitions)", std::to_string(n));
      p.settings = {{"slices", o.slices}};
      p.expected = int64_t(1) << n;
      break;
    default:
      throw Error("plan_estimator: " + std::string(profile_method_name(o.method)) + " is not an estimator");
  }
  return p;
}

HeadScores score_by_estimator(const ProfileOptions& o, EstimatorPlan plan, JournaledGame& journal,
                              ModelGame& game, std::ostream& log) {
  const double tol = plan.sampling.tolerance;
  Progress prog(log, "profile " + task_name(o) + " " + table_method_name(o.method), plan.expected);
  game.set_progress(&prog);
  auto on_check = [&](const Estimate& e) {
    prog.update(e.n_evaluations, std::isnan(e.chain_mae) ? std::string()
                                                         : "mae " + fmt(e.chain_mae) + " (target " +
                                                               (tol > 0 ? fmt(tol) : std::string("-")) + ")");
  };
  plan.ssv.sampling.progress = plan.permutation.sampling.progress = plan.regression.sampling.progress = on_check;
  Estimate est;
  switch (o.method) {
    case ProfileMethod::Ssv: est = sliced_shapley(journal, plan.ssv); break;
    case ProfileMethod::Permutation: est = permutation_shapley(journal, plan.permutation); break;
    case ProfileMethod::Regression: est = regression_values(journal, plan.regression); break;
    default: est = exact_ssv(exact_values(journal, o.batch), o.slices); break;
  }
  prog.finish(std::isnan(est.chain_mae) ? std::string() : "mae " + fmt(est.chain_mae));
  game.set_progress(nullptr);

  HeadScores hs;
  hs.values = est.values;
  hs.std_error = est.std_error;
  hs.tolerance = tol;
  json& m = hs.method = method_metadata(o);
  m["estimator"] = est.method;
  if (!est.slices.empty()) m["slices"] = est.slices;
  if (o.method == ProfileMethod::Ssv) m["left_only"] = o.left_only;
  m["samples_per_chain"] = est.n_samples;
  if (o.method == ProfileMethod::Ssv) m["samples_per_slice"] = est.n_samples * est.n_chains;
  m["chains"] = est.n_chains;
  m["tolerance"] = tol;
  // With a fixed sample count there is no target to converge to: null, not true.
  m["converged"] = tol > 0 ? json(est.converged) : json(nullptr);
  m["converged_mae"] = nan_to_null(est.chain_mae);
  m["evaluations"] = est.n_evaluations;
  hs.estimate = std::move(est);
  return hs;
}

HeadScores score_baklava(const ProfileOptions& o, Backend& b, const ModelGame& game, std::ostream& log) {
  const ModelConfig& c = b.model().cfg;
  BaklavaObserver obs(c, o.baklava_tokens);
  Progress prog(log, "baklava " + task_name(o), int64_t(game.n_samples()));
  for (const auto& ps : game.prepared_samples()) {
    throw_if_stopped("BaKlaVa keeps no journal: rerun to start it again");
    PrefillOptions po;
    po.observer = &obs;
    po.keep_kv = false;
    (void)b.prefill(ps->sample().prompt, po);
    prog.add(1);
  }
  prog.finish();
  HeadScores hs;
  const auto imp = obs.kv_head_importance();
  const auto lp = obs.layer_proxy();
  hs.values = baklava_scores(imp, lp, c.n_kv_heads, o.baklava_layer_weight);
  json& m = hs.method = method_metadata(o);
  m["profiled_tokens"] = obs.n_tokens();
  m["tokens_per_prompt"] = o.baklava_tokens;
  m["layer_weight"] = o.baklava_layer_weight;
  m["kv_head_importance"] = imp;
  m["layer_proxy"] = lp;
  m["query_head_importance"] = obs.query_head_importance();
  return hs;
}

HeadScores score_taskkv(const ProfileOptions& o, const ModelGame& game) {
  const ModelConfig& c = game.backend().model().cfg;
  const int L = c.n_layers, G = c.n_kv_heads;
  TaskKvProfiler prof(L, G, o.taskkv);
  for (const auto& ps : game.prepared_samples()) prof.add(ps->host_kv());
  HeadScores hs;
  hs.values = prof.scores();
  hs.heterogeneous = prof.heterogeneous();
  std::vector<int> f;
  for (int il = 0; il < L; ++il) f.push_back(taskkv_count(il, L, G, o.taskkv.beta, o.taskkv.m));
  json& m = hs.method = method_metadata(o);
  m["score"] = o.taskkv.score == TaskKvScore::Frequency ? "frequency" : "distance";
  m["distance"] = o.taskkv.distance == TaskKvDistance::Euclidean ? "euclidean" : "cosine";
  m["beta"] = o.taskkv.beta;
  m["m"] = o.taskkv.m;
  m["top_k"] = o.taskkv.top_k;
  m["f"] = f;
  m["heterogeneous"] = hs.heterogeneous;
  m["mean_distance"] = prof.mean_distance();
  m["frequency"] = prof.frequency();
  m["scorer"] = "taskkv";
  return hs;
}

}  // namespace cokv::profile
