// The sampling driver (sampling.h), slice helpers and the journal settings of each estimator.
#include "profile/sampling.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace cokv::profile {

std::vector<int> default_slices(int n) {
  if (n < 2) fail("default_slices", "n_players", "at least 2", std::to_string(n));
  std::vector<int> out;
  for (int k = 1; k <= 4; ++k) {  // k n / 8, rounded half to even (CoKV: 22.5 -> 22 for n = 90)
    const int64_t num = int64_t(k) * n;
    int64_t q = num / 8;
    const int64_t rem = num % 8;
    if (rem > 4 || (rem == 4 && (q & 1))) ++q;
    const int j = int(std::clamp<int64_t>(q, 1, n - 1));
    if (std::find(out.begin(), out.end(), j) == out.end()) out.push_back(j);
  }
  return out;
}

std::vector<int> resolve_slices(std::vector<int> slices, int n, const char* where) {
  if (slices.empty()) return default_slices(n);
  for (size_t a = 0; a < slices.size(); ++a) {
    if (slices[a] < 1 || slices[a] > n - 1)
      fail(where, "slices", "sizes in [1, " + std::to_string(n - 1) + "]", std::to_string(slices[a]));
    for (size_t b = 0; b < a; ++b)
      if (slices[a] == slices[b]) fail(where, "slices", "distinct sizes", std::to_string(slices[a]) + " twice");
  }
  return slices;
}

void evaluate_base(JournaledGame& game, double& empty_utility, double& full_utility) {
  const int n = game.n_players();
  const std::vector<Coalition> base = {Coalition(n, 0), Coalition(n, 1)};
  const std::vector<EvalKey> keys = {{"base", 0, 0, 0, 0}, {"base", 0, 0, 0, 1}};
  double u[2];
  game.evaluate(keys, base, u);
  empty_utility = u[0];
  full_utility = u[1];
}

namespace {

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

}  // namespace

Estimate run_sampling(JournaledGame& game, Scheme& scheme, const SamplingOptions& opt) {
  const char* where = "estimator options";
  if (opt.samples < 1) fail(where, "samples", "at least 1", std::to_string(opt.samples));
  if (opt.chains < 1) fail(where, "chains", "at least 1", std::to_string(opt.chains));
  if (opt.batch_size < 1) fail(where, "batch_size", "at least 1", std::to_string(opt.batch_size));
  if (opt.tolerance > 0 && opt.chains < 2)
    fail(where, "chains", "at least 2 for the two-chain stopping rule (tolerance > 0)", std::to_string(opt.chains));

  const int64_t mult = scheme.sample_multiple();
  const int64_t samples = round_up(opt.samples, mult);
  const int64_t step = round_up(opt.check_every > 0 ? opt.check_every : samples, mult);
  const int64_t cap =
      opt.tolerance > 0 ? std::max(samples, round_up(opt.max_samples > 0 ? opt.max_samples : 20 * samples, mult))
                        : samples;
  const int threads = opt.n_threads > 0 ? opt.n_threads : omp_get_max_threads();
  const int width = scheme.width(), chains = opt.chains;
  // Samples per chain drawn and evaluated together: kBatchesPerChunk batches' worth, so draws can
  // run in parallel, the game sees full batches and up to that many devices work at once; the
  // value changes nothing but memory (and never depends on the number of devices).
  constexpr int64_t kBatchesPerChunk = 16;
  const int64_t chunk = round_up(
      std::max<int64_t>(8, (kBatchesPerChunk * opt.batch_size + width * chains - 1) / (width * chains)), mult);

  const int64_t start_requests = game.n_requested();
  scheme.prepare(game, opt.batch_size);

  std::vector<Coalition> coalitions;
  std::vector<EvalKey> keys;
  std::vector<double> utilities;
  std::vector<TracePoint> trace;
  int64_t done = 0;
  bool converged = opt.tolerance <= 0;
  double mae = std::numeric_limits<double>::quiet_NaN();
  while (true) {
    const int64_t next = std::min(done + step, cap);
    for (int64_t lo = done; lo < next; lo += chunk) {
      const int64_t count = std::min(chunk, next - lo);
      const int64_t items = chains * count, total = items * width;
      if (int64_t(coalitions.size()) < total) coalitions.resize(total);
      keys.resize(total);
      utilities.resize(total);
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int64_t it = 0; it < items; ++it)
        scheme.draw(int(it / count), lo + it % count, &coalitions[it * width], &keys[it * width]);
      game.evaluate(std::span(keys.data(), total), std::span<const Coalition>(coalitions.data(), total),
                    std::span(utilities.data(), total), opt.batch_size);
#pragma omp parallel for num_threads(std::min(threads, chains)) schedule(static, 1)
      for (int c = 0; c < chains; ++c)
        for (int64_t s = 0; s < count; ++s) {
          const int64_t at = (int64_t(c) * count + s) * width;
          scheme.accumulate(c, lo + s, &coalitions[at], &utilities[at]);
        }
    }
    done = next;
    if (chains >= 2) {
      const std::vector<double> v0 = scheme.chain_values(0), v1 = scheme.chain_values(1);
      double sum = 0;
      for (size_t i = 0; i < v0.size(); ++i) sum += std::abs(v0[i] - v1[i]);
      mae = sum / double(v0.size());
    }
    trace.push_back({done, game.n_requested() - start_requests, mae});
    bool stop = done >= samples;
    if (opt.tolerance > 0) {
      converged = done >= samples && mae < opt.tolerance;
      stop = converged || done >= cap;
    }
    if (stop) break;
    if (opt.progress) {
      Estimate snapshot = scheme.estimate(false);
      snapshot.n_samples = done;
      snapshot.n_evaluations = game.n_requested() - start_requests;
      snapshot.n_chains = chains;
      snapshot.converged = false;
      snapshot.chain_mae = mae;
      snapshot.trace = trace;
      opt.progress(snapshot);
    }
  }
  Estimate est = scheme.estimate(true);
  est.n_samples = done;
  est.n_evaluations = game.n_requested() - start_requests;
  est.n_chains = chains;
  est.converged = converged;
  est.chain_mae = mae;
  est.trace = std::move(trace);
  if (opt.progress) opt.progress(est);
  return est;
}

namespace {

nlohmann::json sampling_json(const char* estimator, const SamplingOptions& s) {
  return {{"estimator", estimator}, {"seed", s.seed},         {"samples", s.samples},
          {"chains", s.chains},     {"tolerance", s.tolerance}, {"max_samples", s.max_samples},
          {"check_every", s.check_every}};
}

}  // namespace

nlohmann::json settings_json(const PermutationOptions& o) {
  nlohmann::json j = sampling_json("permutation", o.sampling);
  j["antithetic"] = o.antithetic;
  return j;
}

// left_only is left out on purpose: it changes how the same evaluations are summed, not which
// coalitions are evaluated, so one journal serves both variants.
nlohmann::json settings_json(const SsvOptions& o) {
  nlohmann::json j = sampling_json("ssv", o.sampling);
  j["slices"] = o.slices;
  return j;
}

nlohmann::json settings_json(const RegressionOptions& o) {
  nlohmann::json j = sampling_json("regression", o.sampling);
  j["target"] = o.target == Target::shapley ? "shapley" : "ssv";
  j["slices"] = o.slices;
  return j;
}

}  // namespace cokv::profile
