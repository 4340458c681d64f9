// The estimators as mathematics: exact enumeration against hand-computed values (glove, apex
// games), the Shapley axioms (efficiency, symmetry, null player, additivity), the closed forms of
// the pairwise game, Monte Carlo estimates within k standard errors of the exact values, and
// determinism across batch sizes, threads and chains.
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>

#include "profile/estimators.h"
#include "profile/synthetic.h"

using namespace cokv::profile;

namespace {

int count_in(const Coalition& c, std::initializer_list<int> players) {
  int k = 0;
  for (int i : players) k += c[i];
  return k;
}

// |estimate - truth| <= k standard errors for every player, plus a floor for rounding in sums of
// thousands of samples (an exactly fitted slice set can have a zero standard error).
void require_within_se(const Estimate& e, const std::vector<double>& truth, double k) {
  REQUIRE(e.values.size() == truth.size());
  for (size_t i = 0; i < truth.size(); ++i) {
    INFO(e.method << " player " << i << ": " << e.values[i] << " vs " << truth[i] << ", se " << e.std_error[i]);
    REQUIRE(std::isfinite(e.std_error[i]));
    REQUIRE(std::abs(e.values[i] - truth[i]) <= k * e.std_error[i] + 1e-10);
  }
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

SamplingOptions fixed(int64_t samples, uint64_t seed = 42) {
  SamplingOptions s;
  s.samples = samples;
  s.seed = seed;
  return s;
}

}  // namespace

TEST_CASE("default slices are CoKV's {n/8, n/4, 3n/8, n/2}", "[estimators]") {
  REQUIRE(default_slices(256) == std::vector<int>{32, 64, 96, 128});
  REQUIRE(default_slices(90) == std::vector<int>{11, 22, 34, 45});  // DESIGN.md's example
  REQUIRE(default_slices(3) == std::vector<int>{1, 2});
}

TEST_CASE("exact: glove game by hand", "[estimators]") {
  // One left glove (player 0), two right gloves: U = number of matched pairs.
  FunctionGame glove(3, [](const Coalition& c) { return double(std::min(count_in(c, {0}), count_in(c, {1, 2}))); });
  JournaledGame g(glove);
  const ExactValues ex = exact_values(g);
  REQUIRE(ex.n_evaluations == 8);
  const std::vector<double> shapley = {2.0 / 3, 1.0 / 6, 1.0 / 6};
  REQUIRE(max_abs_diff(exact_shapley(ex).values, shapley) < 1e-15);
  // SV_{i,1} = U({i}) - U(N\{i}) = {0, -1, -1};  SV_{i,2} = {1, 1/2, 1/2};  SSV = mean of the two.
  const Estimate ssv = exact_ssv(ex);
  REQUIRE(ssv.slices == std::vector<int>{1, 2});
  REQUIRE(max_abs_diff(ssv.slice_values[0], {0, -1, -1}) < 1e-15);
  REQUIRE(max_abs_diff(ssv.slice_values[1], {1, 0.5, 0.5}) < 1e-15);
  REQUIRE(max_abs_diff(ssv.values, {0.5, -0.25, -0.25}) < 1e-15);
}

TEST_CASE("exact: apex game by hand", "[estimators]") {
  // Player 0 wins with any other player; the four others win only all together.
  // Shapley: apex (n-2)/n = 3/5, others 2/(n(n-1)) = 1/10.
  FunctionGame apex(5, [](const Coalition& c) {
    const int minors = count_in(c, {1, 2, 3, 4});
    return (c[0] && minors >= 1) || minors == 4 ? 1.0 : 0.0;
  });
  JournaledGame g(apex);
  REQUIRE(max_abs_diff(exact_shapley(exact_values(g, 7)).values, {0.6, 0.1, 0.1, 0.1, 0.1}) < 1e-15);
}

TEST_CASE("exact: efficiency, symmetry, null player, Shapley = mean of SV over all sizes", "[estimators]") {
  const int n = 8;
  // A random game in which players 2 and 3 are interchangeable and player 5 is null.
  TableGame base = TableGame::random(n, 11);
  FunctionGame game(n, [&base](const Coalition& c) {
    Coalition d = c;
    d[5] = 0;                             // null: U(S + 5) = U(S)
    if (d[2] != d[3]) d[2] = 1, d[3] = 0;  // symmetric: only |S n {2,3}| matters
    double u;
    base.evaluate(std::span(&d, 1), std::span(&u, 1));
    return u;
  });
  JournaledGame g(game);
  const ExactValues ex = exact_values(g);
  const std::vector<double>& phi = ex.shapley;
  const auto& t = base.table();
  const double total = std::accumulate(phi.begin(), phi.end(), 0.0);
  const double full = t[0b11011111 & 0xff] - 0;  // U(N) = base U(N \ {5})
  REQUIRE(total == Approx(full - t[0]).margin(1e-12));
  REQUIRE(phi[2] == Approx(phi[3]).margin(1e-14));
  REQUIRE(std::abs(phi[5]) < 1e-14);
  for (int i = 0; i < n; ++i) {
    double mean_sv = 0;
    for (int j = 1; j <= n; ++j) mean_sv += ex.sv_by_size[j][i] / n;
    REQUIRE(mean_sv == Approx(phi[i]).margin(1e-12));
  }
}

TEST_CASE("exact: additive game gives its weights; pairwise and interaction games match their closed forms", "[estimators]") {
  const int n = 10;
  PairwiseGame pw = PairwiseGame::random(n, 3, 1.0);
  JournaledGame g(pw);
  const ExactValues ex = exact_values(g, 64);
  REQUIRE(max_abs_diff(ex.shapley, pw.shapley()) < 1e-13);
  for (int j = 1; j <= n; ++j) REQUIRE(max_abs_diff(ex.sv_by_size[j], pw.slice_values(j)) < 1e-13);
  REQUIRE(max_abs_diff(exact_ssv(ex).values, pw.ssv(default_slices(n))) < 1e-13);

  // Unanimity terms of orders 1..4 and 7: SV_{i,j} closed form (hypergeometric) against enumeration.
  InteractionGame ig = InteractionGame::random(n, 4, {{2, 6, 3.0}, {3, 6, 3.0}, {4, 4, 3.0}, {7, 2, 5.0}});
  JournaledGame gi(ig);
  const ExactValues exi = exact_values(gi, 64);
  REQUIRE(max_abs_diff(exi.shapley, ig.shapley()) < 1e-13);
  for (int j = 1; j <= n; ++j) REQUIRE(max_abs_diff(exi.sv_by_size[j], ig.slice_values(j)) < 1e-12);

  std::vector<double> a(n), zeros(size_t(n) * n, 0.0);
  for (int i = 0; i < n; ++i) a[i] = 0.1 * i - 0.3;
  PairwiseGame additive(a, zeros);
  JournaledGame ga(additive);
  REQUIRE(max_abs_diff(exact_shapley(exact_values(ga)).values, a) < 1e-13);
}

TEST_CASE("permutation sampling: efficiency per permutation, within 4 se of exact", "[estimators]") {
  const int n = 8;
  TableGame game = TableGame::random(n, 5);
  JournaledGame g(game);
  const ExactValues ex = exact_values(g);
  for (bool antithetic : {false, true}) {
    PermutationOptions o{fixed(3000), antithetic};
    const Estimate e = permutation_shapley(g, o);
    REQUIRE(e.n_evaluations == 2 + 3000 * (n - 1));
    // each permutation's marginals telescope to U(N) - U(empty)
    const double total = std::accumulate(e.values.begin(), e.values.end(), 0.0);
    REQUIRE(total == Approx(game.table().back() - game.table()[0]).margin(1e-12));
    require_within_se(e, ex.shapley, 4.0);
  }
}

TEST_CASE("SSV sampling (both sides and left-only) converges to the exact SSV", "[estimators]") {
  const int n = 8;
  TableGame game = TableGame::random(n, 6);
  JournaledGame g(game);
  const Estimate truth = exact_ssv(exact_values(g));
  for (bool left_only : {false, true}) {
    SsvOptions o{fixed(4000), {}, left_only};
    const Estimate e = sliced_shapley(g, o);
    REQUIRE(e.method == (left_only ? "ssv-left" : "ssv"));
    REQUIRE(e.slices == std::vector<int>{1, 2, 3, 4});
    REQUIRE(e.n_evaluations == 4000 * 2 * 4);
    require_within_se(e, truth.values, 4.0);
    for (size_t a = 0; a < e.slices.size(); ++a) REQUIRE(max_abs_diff(e.slice_values[a], truth.slice_values[a]) < 0.05);
  }
  // The right-hand side doubles the data at j = n/2: its per-slice standard errors shrink.
  const Estimate both = sliced_shapley(g, SsvOptions{fixed(4000), {4}, false});
  const Estimate left = sliced_shapley(g, SsvOptions{fixed(4000), {4}, true});
  for (int i = 0; i < n; ++i) REQUIRE(both.std_error[i] < 0.8 * left.std_error[i]);
  // A slice set holding both j and n-j gets right-hand samples at both.
  require_within_se(sliced_shapley(g, SsvOptions{fixed(3000), {2, 6, 3}, false}), exact_ssv(exact_values(g), {2, 6, 3}).values,
                    4.0);
}

TEST_CASE("regression: exact on additive games, within 4.5 se on arbitrary games", "[estimators]") {
  const int n = 8;
  std::vector<double> a(n), zeros(size_t(n) * n, 0.0);
  for (int i = 0; i < n; ++i) a[i] = 0.05 * i * i - 0.4;
  PairwiseGame additive(a, zeros);
  JournaledGame ga(additive);
  const ExactValues exa = exact_values(ga);
  // U is linear, so the fit has zero residual once the design has full rank.
  REQUIRE(max_abs_diff(regression_values(ga, {fixed(40), Target::shapley, {}}).values, exa.shapley) < 1e-9);
  REQUIRE(max_abs_diff(regression_values(ga, {fixed(40), Target::ssv, {}}).values, exact_ssv(exa).values) < 1e-9);
  // Paired samples make pairwise games exact too: in g(S) = U(S) - U(N\S) the products z_i z_j
  // of b_ij cancel, leaving sum_{i in S} B_i - sum b, linear in 1_S.
  PairwiseGame pw = PairwiseGame::random(n, 12, 4.0);
  JournaledGame gp(pw);
  REQUIRE(max_abs_diff(regression_values(gp, {fixed(40), Target::shapley, {}}).values, pw.shapley()) < 1e-9);
  REQUIRE(max_abs_diff(regression_values(gp, {fixed(40), Target::ssv, {}}).values, pw.ssv(default_slices(n))) < 1e-9);

  TableGame game = TableGame::random(n, 7);
  JournaledGame g(game);
  const ExactValues ex = exact_values(g);
  const Estimate sh = regression_values(g, {fixed(4000), Target::shapley, {}});
  REQUIRE(sh.n_evaluations == 2 + 2 * 4000);
  REQUIRE(std::accumulate(sh.values.begin(), sh.values.end(), 0.0) ==
          Approx(game.table().back() - game.table()[0]).margin(1e-12));
  require_within_se(sh, ex.shapley, 4.5);
  for (const std::vector<int>& slices : {std::vector<int>{}, std::vector<int>{2, 6, 3}, std::vector<int>{1, 7}}) {
    const Estimate e = regression_values(g, {fixed(4000), Target::ssv, slices});
    require_within_se(e, exact_ssv(ex, slices).values, 4.5);
  }
}

TEST_CASE("regression targets the SSV exactly at large samples (the sliced-kernel identity)", "[estimators]") {
  // 9 players (odd n, slices {1, 2, 3, 4}): the RMS error over seeds shrinks like 1/sqrt(samples),
  // i.e. no bias is left at 32000 pairs (a 16x larger sample should give 1/4 of the error).
  TableGame game = TableGame::random(9, 8);
  JournaledGame g(game);
  const Estimate truth = exact_ssv(exact_values(g));
  auto rms = [&](int64_t samples) {
    double sq = 0;
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      const Estimate e = regression_values(g, {fixed(samples, seed), Target::ssv, {}});
      for (int i = 0; i < 9; ++i) sq += (e.values[i] - truth.values[i]) * (e.values[i] - truth.values[i]);
    }
    return std::sqrt(sq / 36);
  };
  const double e1 = rms(2000), e2 = rms(32000);
  INFO("RMS error at 2000 pairs " << e1 << ", at 32000 pairs " << e2);
  REQUIRE(e2 < 0.4 * e1);
  REQUIRE(e2 < 0.01);
}

TEST_CASE("estimators are identical for batch sizes 1/7/64 and 1/2 threads", "[estimators]") {
  PairwiseGame game = PairwiseGame::random(20, 9, 2.0);
  auto run_all = [&game](int batch, int threads) {
    JournaledGame g(game);
    SamplingOptions s = fixed(50, 123);
    s.batch_size = batch;
    s.n_threads = threads;
    s.chains = 2;
    std::vector<Estimate> out;
    out.push_back(permutation_shapley(g, {s, true}));
    out.push_back(sliced_shapley(g, {s, {}, false}));
    out.push_back(regression_values(g, {s, Target::ssv, {}}));
    out.push_back(regression_values(g, {s, Target::shapley, {}}));
    return out;
  };
  const std::vector<Estimate> ref = run_all(64, 1);
  for (auto [batch, threads] : {std::pair{1, 1}, {7, 2}, {64, 2}, {7, 1}}) {
    const std::vector<Estimate> got = run_all(batch, threads);
    for (size_t k = 0; k < ref.size(); ++k) {
      INFO(ref[k].method << " batch " << batch << " threads " << threads);
      REQUIRE(got[k].values == ref[k].values);  // bit-identical
      REQUIRE(got[k].std_error == ref[k].std_error);
      REQUIRE(got[k].n_evaluations == ref[k].n_evaluations);
    }
  }
  // Different seeds do differ.
  JournaledGame g(game);
  REQUIRE(sliced_shapley(g, {fixed(50, 124), {}, false}).values != sliced_shapley(g, {fixed(50, 123), {}, false}).values);
}

TEST_CASE("two-chain stopping rule and progress reports", "[estimators]") {
  const int n = 20;
  PairwiseGame game = PairwiseGame::random(n, 10, 1.0);
  JournaledGame g(game);
  SsvOptions o;
  o.sampling.samples = 20;
  o.sampling.chains = 2;
  o.sampling.tolerance = 1.0 / n;
  o.sampling.check_every = 10;
  int reports = 0;
  o.sampling.progress = [&reports](const Estimate& e) { ++reports; };
  const Estimate e = sliced_shapley(g, o);
  REQUIRE(e.converged);
  REQUIRE(e.chain_mae < 1.0 / n);
  REQUIRE(e.n_samples >= 20);
  REQUIRE(e.n_samples % 10 == 0);
  REQUIRE(e.trace.size() == size_t(e.n_samples / 10));
  REQUIRE(e.trace.back().chain_mae == e.chain_mae);
  REQUIRE(e.n_evaluations == 2 * e.n_samples * 2 * int64_t(e.slices.size()));
  REQUIRE(reports == int(e.trace.size()));  // one per check, the last with the final estimate

  o.sampling.tolerance = 1e-9;  // unreachable: stops at the cap, unconverged
  o.sampling.max_samples = 40;
  const Estimate capped = sliced_shapley(g, o);
  REQUIRE_FALSE(capped.converged);
  REQUIRE(capped.n_samples == 40);

  o.sampling.chains = 1;
  REQUIRE_THROWS_WITH(sliced_shapley(g, o), Catch::Contains("chains"));
}
