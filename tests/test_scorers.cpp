// Eviction scorers against direct, slow references (double precision, written from the
// formulas in METHODS.md) on small random prompt states: GQA grouping, pooling edges, the
// AhaKV i <= k fallback, sinks/recent ordering.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/error.h"
#include "kv/budget.h"
#include "kv/scorers.h"

using namespace cokv;

namespace {

// A random PromptKV: L layers, H query heads, G KV heads, D dims, T tokens, W window rows.
PromptKV random_prompt(int L, int H, int G, int D, int T, int W, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  PromptKV p;
  p.n_tokens = T, p.n_win = W, p.n_heads = H, p.n_kv_heads = G, p.head_dim = D;
  p.k.resize(L), p.v.resize(L), p.q_win.resize(L);
  for (int il = 0; il < L; ++il) {
    p.k[il].resize(size_t(G) * T * D), p.v[il].resize(size_t(G) * T * D), p.q_win[il].resize(size_t(H) * W * D);
    for (auto& x : p.k[il]) x = nd(rng);
    for (auto& x : p.v[il]) x = nd(rng) * (1.f + 0.5f * float(&x - p.v[il].data()) / float(p.v[il].size()));
    for (auto& x : p.q_win[il]) x = 2.f * nd(rng);
  }
  return p;
}

// Reference window attention score of position j for KV head (il, g), double precision.
std::vector<double> ref_window_scores(const PromptKV& p, int il, int g, int rows, int n_scored,
                                      bool aha, int budget) {
  const int T = p.n_tokens, D = p.head_dim, gs = p.n_heads / p.n_kv_heads;
  std::vector<double> acc(n_scored, 0.0);
  for (int e = 0; e < gs; ++e) {
    const int h = g * gs + e;
    for (int r = 0; r < rows; ++r) {
      const int qpos = T - rows + r;   // absolute position of this query row
      const int visible = qpos + 1;
      double scale = 1.0 / std::sqrt(double(D));
      if (aha && visible > budget) scale = std::sqrt(2.0 * std::log(double(visible) / budget) / D);
      const float* q = &p.q_win[il][(size_t(h) * p.n_win + (p.n_win - rows + r)) * D];
      std::vector<double> logit(visible);
      for (int j = 0; j < visible; ++j) {
        double d = 0;
        for (int x = 0; x < D; ++x) d += double(q[x]) * p.k[il][(size_t(g) * T + j) * D + x];
        logit[j] = d * scale;
      }
      const double mx = *std::max_element(logit.begin(), logit.end());
      double z = 0;
      for (double l : logit) z += std::exp(l - mx);
      for (int j = 0; j < std::min(n_scored, visible); ++j) acc[j] += std::exp(logit[j] - mx) / z;
    }
  }
  for (double& a : acc) a /= double(gs * rows);
  return acc;
}

std::vector<double> ref_pool(const std::vector<double>& x, PoolKind kind, int kernel) {
  const int n = int(x.size()), pad = kernel / 2;
  std::vector<double> y(n);
  for (int i = 0; i < n; ++i) {
    double m = -1e300, s = 0;
    for (int j = i - pad; j <= i + pad; ++j) {
      const bool in = j >= 0 && j < n;
      if (in) m = std::max(m, x[j]);
      s += in ? x[j] : 0.0;  // zero padding counted in the average
    }
    y[i] = kind == PoolKind::Max ? m : s / kernel;
  }
  return y;
}

// Checks a ranking: order is a permutation sorted by the reference score (ties allowed to
// differ only where reference scores are within tol).
void check_ranking(const HeadRanking& r, const std::vector<double>& ref, double tol) {
  REQUIRE(r.order.size() == ref.size());
  std::vector<int32_t> sorted = r.order;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) REQUIRE(sorted[i] == int32_t(i));
  for (size_t i = 0; i < r.order.size(); ++i) {
    REQUIRE(r.score[i] == Approx(ref[r.order[i]]).margin(tol));
    if (i + 1 < r.order.size()) REQUIRE(ref[r.order[i]] >= ref[r.order[i + 1]] - tol);
  }
}

}  // namespace

TEST_CASE("SnapKV scores equal the reference, with GQA groups and pooling edges", "[kv][scorer]") {
  const int L = 2, H = 6, G = 2, D = 16, T = 40, W = 32;
  PromptKV p = random_prompt(L, H, G, D, T, W, 1);
  for (PoolKind pool : {PoolKind::Max, PoolKind::Avg, PoolKind::None}) {
    for (int window : {1, 8, 13}) {
      ScorerConfig c;
      c.window = window;
      c.pool = pool;
      Rankings r = rank_prompt(p, c);
      REQUIRE(r.heads.size() == size_t(L * G));
      for (int il = 0; il < L; ++il)
        for (int g = 0; g < G; ++g) {
          auto ref = ref_window_scores(p, il, g, window, T - window, false, 0);
          if (pool != PoolKind::None) ref = ref_pool(ref, pool, 7);
          check_ranking(r.heads[il * G + g], ref, 1e-5);
        }
    }
  }
}

TEST_CASE("pool1d handles edges like PyTorch (max ignores padding, avg counts it)", "[kv][scorer]") {
  std::vector<float> x = {5, 1, 1, 1, 1, 1, 1, 1, 9};
  auto mx = pool1d(x, PoolKind::Max, 7);
  auto av = pool1d(x, PoolKind::Avg, 7);
  REQUIRE(mx[0] == 5.f);
  REQUIRE(mx[3] == 5.f);
  REQUIRE(mx[4] == 1.f);  // window 1..7 holds neither 5 nor 9
  REQUIRE(mx[5] == 9.f);
  REQUIRE(av[0] == Approx((5 + 1 + 1 + 1) / 7.0));
  REQUIRE(av[8] == Approx((1 + 1 + 1 + 9) / 7.0));
  REQUIRE(pool1d({3.f}, PoolKind::Avg, 7)[0] == Approx(3.0 / 7));
}

TEST_CASE("AhaKV uses the entropy-adaptive scale, the 1/sqrt(d) fallback and the value prior", "[kv][scorer]") {
  const int L = 1, H = 4, G = 2, D = 8, T = 60, W = 32;
  PromptKV p = random_prompt(L, H, G, D, T, W, 2);
  // budget 40: rows at positions 28..39 see <= 40 tokens (fallback), rows 40..59 use lambda.
  for (int budget : {40, 1000, 5}) {
    ScorerConfig c;
    c.kind = ScorerKind::AhaKV;
    c.window = 8;
    c.aha_budget = budget;
    Rankings r = rank_prompt(p, c);
    for (int g = 0; g < G; ++g) {
      INFO("budget " << budget << " group " << g);
      auto ref = ref_window_scores(p, 0, g, 32, T - 8, true, budget);
      std::vector<double> prior(T - 8);
      for (int j = 0; j < T - 8; ++j) {
        double n2 = 0;
        for (int x = 0; x < D; ++x) n2 += std::pow(double(p.v[0][(size_t(g) * T + j) * D + x]), 2);
        prior[j] = n2;
      }
      prior = ref_pool(prior, PoolKind::Avg, 7);
      const double mx = *std::max_element(prior.begin(), prior.end());
      for (int j = 0; j < T - 8; ++j) ref[j] *= prior[j] / mx;
      check_ranking(r.heads[g], ref, 1e-5);
    }
  }
  // The fallback really differs from lambda: with budget 5 the scores change.
  ScorerConfig a, b;
  a.kind = b.kind = ScorerKind::AhaKV;
  a.aha_budget = 5, b.aha_budget = 100000;
  REQUIRE(rank_prompt(p, a).heads[0].score[0] != Approx(rank_prompt(p, b).heads[0].score[0]));
}

TEST_CASE("Streaming ranks sinks first, then the most recent positions", "[kv][scorer]") {
  PromptKV p = random_prompt(1, 2, 1, 4, 30, 8, 3);
  ScorerConfig c;
  c.kind = ScorerKind::Streaming;
  c.window = 8;
  c.sinks = 4;
  Rankings r = rank_prompt(p, c);
  const auto& o = r.heads[0].order;
  REQUIRE(std::vector<int32_t>(o.begin(), o.begin() + 6) == std::vector<int32_t>{0, 1, 2, 3, 21, 20});
  std::vector<int32_t> kept;
  kept_positions(12, 30, 8, o, kept);  // 4 ranked (the sinks) + window 22..29
  REQUIRE(kept == std::vector<int32_t>{0, 1, 2, 3, 22, 23, 24, 25, 26, 27, 28, 29});
}

TEST_CASE("Task-KV middle activations: sinks, recent, then avg-pooled attention", "[kv][scorer]") {
  const int T = 80;
  PromptKV p = random_prompt(1, 3, 1, 8, T, 32, 4);
  ScorerConfig c;
  c.kind = ScorerKind::TaskKV;
  c.window = 8;
  c.sinks = 16;
  c.recent = 10;
  Rankings r = rank_prompt(p, c);
  const auto& o = r.heads[0].order;
  for (int i = 0; i < 16; ++i) REQUIRE(o[i] == i);
  for (int i = 0; i < 10; ++i) REQUIRE(o[16 + i] == T - 8 - 1 - i);
  auto ref = ref_pool(ref_window_scores(p, 0, 0, 8, T - 8, false, 0), PoolKind::Avg, 7);
  for (size_t i = 26; i + 1 < o.size(); ++i) REQUIRE(ref[o[i]] >= ref[o[i + 1]] - 1e-6);
}

TEST_CASE("kept_positions: window always kept, budgets beyond the prompt keep it all", "[kv]") {
  std::vector<int32_t> order = {5, 2, 9, 0, 1, 3, 4, 6, 7, 8, 10, 11};  // T = 20, window 8
  std::vector<int32_t> kept;
  kept_positions(11, 20, 8, order, kept);
  REQUIRE(kept == std::vector<int32_t>{2, 5, 9, 12, 13, 14, 15, 16, 17, 18, 19});
  kept_positions(8, 20, 8, order, kept);
  REQUIRE(kept.size() == 8);
  REQUIRE(kept.front() == 12);
  kept_positions(3, 20, 8, order, kept);  // below the window: still the window
  REQUIRE(kept.size() == 8);
  kept_positions(kKeepAll, 20, 8, order, kept);
  REQUIRE(kept.size() == 20);
  kept_positions(500, 20, 8, order, kept);
  REQUIRE(kept.size() == 20);
  kept_positions(kZeroHead, 20, 8, order, kept);
  REQUIRE(kept.empty());
  REQUIRE(kept_count(11, 20, 8) == 11);
  REQUIRE(kept_count(3, 20, 8) == 8);
  REQUIRE(kept_count(kKeepAll, 20, 8) == 20);
  REQUIRE_THROWS_AS(kept_positions(-5, 20, 8, order, kept), cokv::Error);
}
