// estimator_quality: how fast each estimator approaches the true Shapley value and the true SSV,
// per utility evaluation, on synthetic games with known values. Not a test (never in ctest).
//
//   ./build/estimator_quality [--seeds 4] [--max-evals 131072] [--out bench] > summary.md
//   gnuplot bench/estimator_quality.gp        (PNG curves from the CSV it writes)
//
// Games: (a) "table12": 12 players, i.i.d. uniform utility per coalition, truth by enumeration;
// (b) "pairwise90": 90 players (the default model's KV heads), U(S) = sum a_i + sum b_ij
// (interaction 2: pairs as strong as the additive part), truth in closed form (PairwiseGame);
// (c) "interaction90": 90 players, additive plus 360 random unanimity terms each of orders 2, 3, 4
// and 40 strong terms of order 20, truth in closed form (InteractionGame). Estimators: permutation sampling,
// CoKV's SSV (left-only, as the reference code, and both sides), and the leverage regression
// targeting the SSV and Shapley. For each evaluation budget on a doubling grid and each seed:
// relative RMSE to the estimator's own target (||est - truth|| / ||truth - mean truth||) and
// Spearman correlation to both truths; averaged over seeds. Writes <out>/estimator_quality.csv
// and a Markdown summary to stdout.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>

#include "core/file_bytes.h"
#include "profile/estimators.h"
#include "profile/synthetic.h"

using namespace cokv::profile;

namespace {

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<int> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int a, int b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size();) {  // ties share their mean rank
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = 0.5 * double(i + j);
    i = j + 1;
  }
  return r;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = double(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0.0;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) { return pearson(ranks(x), ranks(y)); }

double relative_rmse(const std::vector<double>& est, const std::vector<double>& truth) {
  const double mean = std::accumulate(truth.begin(), truth.end(), 0.0) / double(truth.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    num += (est[i] - truth[i]) * (est[i] - truth[i]);
    den += (truth[i] - mean) * (truth[i] - mean);
  }
  return std::sqrt(num / den);
}

struct Bench {
  std::string name;
  std::unique_ptr<Game> game;
  std::vector<double> shapley, ssv;  // truths (SSV on the default slices)
};

struct Method {
  std::string name;
  bool targets_ssv;
  std::function<Estimate(JournaledGame&, int64_t evals, uint64_t seed)> run;  // within a budget of evals
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Estimator quality vs utility evaluations on synthetic games"};
  int seeds = 4;
  int64_t max_evals = 131072;
  std::string out = "bench";
  app.add_option("--seeds", seeds, "estimator seeds per point");
  app.add_option("--max-evals", max_evals, "largest evaluation budget (grid doubles from 256)");
  app.add_option("--out", out, "folder for estimator_quality.csv");
  CLI11_PARSE(app, argc, argv);

  std::vector<Bench> benches;
  {
    auto t = std::make_unique<TableGame>(TableGame::random(12, 2024));
    JournaledGame g(*t);
    const ExactValues ex = exact_values(g, 256);
    benches.push_back({"table12", std::move(t), ex.shapley, exact_ssv(ex).values});
  }
  {
    auto p = std::make_unique<PairwiseGame>(PairwiseGame::random(90, 2024, 2.0));
    const std::vector<double> sh = p->shapley(), ssv = p->ssv(default_slices(90));
    benches.push_back({"pairwise90", std::move(p), sh, ssv});
  }
  {
    auto p = std::make_unique<InteractionGame>(
        InteractionGame::random(90, 2024, {{2, 360, 3.0}, {3, 360, 3.0}, {4, 360, 3.0}, {20, 40, 20.0}}));
    const std::vector<double> sh = p->shapley(), ssv = p->ssv(default_slices(90));
    benches.push_back({"interaction90", std::move(p), sh, ssv});
  }

  auto opts = [](int64_t samples, uint64_t seed) {
    SamplingOptions s;
    s.samples = std::max<int64_t>(1, samples);
    s.seed = seed;
    s.batch_size = 256;
    return s;
  };
  const std::vector<Method> methods = {
      {"permutation", false,
       [&](JournaledGame& g, int64_t e, uint64_t seed) {
         return permutation_shapley(g, {opts((e - 2) / (g.n_players() - 1), seed), false});
       }},
      {"ssv-left (CoKV ref.)", true,
       [&](JournaledGame& g, int64_t e, uint64_t seed) {
         return sliced_shapley(g, {opts(e / (2 * int64_t(default_slices(g.n_players()).size())), seed), {}, true});
       }},
      {"ssv (both sides)", true,
       [&](JournaledGame& g, int64_t e, uint64_t seed) {
         return sliced_shapley(g, {opts(e / (2 * int64_t(default_slices(g.n_players()).size())), seed), {}, false});
       }},
      {"regression-ssv", true,
       [&](JournaledGame& g, int64_t e, uint64_t seed) {
         return regression_values(g, {opts(e / 2, seed), Target::ssv, {}});
       }},
      {"regression-shapley", false,
       [&](JournaledGame& g, int64_t e, uint64_t seed) {
         return regression_values(g, {opts((e - 2) / 2, seed), Target::shapley, {}});
       }},
  };

  std::ostringstream csv;  // written whole at the end (core/file_bytes.h: never half a file)
  csv << "game,method,evals_budget,evals_used,rel_rmse_own_target,spearman_ssv,spearman_shapley\n";
  // summary[game][method] = evaluations to reach mean Spearman >= 0.95 on the SSV / on Shapley
  std::map<std::string, std::map<std::string, std::pair<double, double>>> reach;
  std::map<std::string, std::map<std::string, std::vector<std::array<double, 4>>>> curves;

  for (const Bench& b : benches) {
    JournaledGame g(*b.game);
    for (const Method& m : methods) {
      double prev_e = 0, prev_s[2] = {0, 0};
      double hit[2] = {NAN, NAN};
      for (int64_t budget = 256; budget <= max_evals; budget *= 2) {
        double err = 0, s_ssv = 0, s_sh = 0, used = 0;
        for (int s = 1; s <= seeds; ++s) {
          const Estimate e = m.run(g, budget, uint64_t(s));
          err += relative_rmse(e.values, m.targets_ssv ? b.ssv : b.shapley) / seeds;
          s_ssv += spearman(e.values, b.ssv) / seeds;
          s_sh += spearman(e.values, b.shapley) / seeds;
          used += double(e.n_evaluations) / seeds;
        }
        csv << b.name << ',' << m.name << ',' << budget << ',' << used << ',' << err << ',' << s_ssv << ',' << s_sh
            << '\n';
        curves[b.name][m.name].push_back({used, err, s_ssv, s_sh});
        const double cur[2] = {s_ssv, s_sh};
        for (int t = 0; t < 2; ++t)  // first crossing of 0.95, interpolated in log(evaluations)
          if (std::isnan(hit[t]) && cur[t] >= 0.95) {
            if (prev_e == 0 || prev_s[t] >= 0.95)
              hit[t] = used;
            else {
              const double f = (0.95 - prev_s[t]) / (cur[t] - prev_s[t]);
              hit[t] = std::exp(std::log(prev_e) + f * (std::log(used) - std::log(prev_e)));
            }
          }
        prev_e = used;
        prev_s[0] = s_ssv;
        prev_s[1] = s_sh;
      }
      reach[b.name][m.name] = {hit[0], hit[1]};
      std::fprintf(stderr, "%s %s done\n", b.name.c_str(), m.name.c_str());
    }
  }

  cokv::write_file_bytes(out + "/estimator_quality.csv", csv.str());

  // Markdown summary
  auto fmt = [](double x) {
    char buf[32];
    if (std::isnan(x)) return std::string("> budget");
    std::snprintf(buf, sizeof buf, "%.0f", x);
    return std::string(buf);
  };
  for (const Bench& b : benches) {
    std::printf("\n#### %s (n = %zu; Spearman(true SSV, true Shapley) = %.4f)\n\n", b.name.c_str(), b.shapley.size(),
                spearman(b.ssv, b.shapley));
    std::printf("| method | evals to Spearman >= 0.95 vs SSV | vs Shapley | rel. RMSE (own target) at 4096 / 65536 evals |\n");
    std::printf("|---|---|---|---|\n");
    for (const Method& m : methods) {
      const auto& c = curves[b.name][m.name];
      auto at = [&c](double budget) {  // error at the grid point nearest the budget
        double best = NAN, dist = 1e300;
        for (const auto& p : c)
          if (std::abs(std::log(p[0] / budget)) < dist) dist = std::abs(std::log(p[0] / budget)), best = p[1];
        return best;
      };
      std::printf("| %s | %s | %s | %.3f / %.3f |\n", m.name.c_str(), fmt(reach[b.name][m.name].first).c_str(),
                  fmt(reach[b.name][m.name].second).c_str(), at(4096), at(65536));
    }
    const double left = reach[b.name]["ssv-left (CoKV ref.)"].first, reg = reach[b.name]["regression-ssv"].first;
    std::printf("\nregression-ssv / ssv-left evaluations to Spearman 0.95 on the SSV: %.3f\n", reg / left);
  }
  return 0;
}
