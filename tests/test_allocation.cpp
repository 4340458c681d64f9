// Allocation: exact totals and floors on random scores, CoKV Eq. 3 against a hand computation,
// proportional/uniform/Task-KV rules, AdaKV and PyramidKV (exact sums, floors, per-layer totals,
// cross-head top-k against a brute force), prompt-length caps and per-layer helpers.
#include <algorithm>
#include <functional>
#include <catch2/catch.hpp>
#include <numeric>
#include <random>

#include "core/error.h"
#include "kv/allocation.h"

using namespace cokv;

static int64_t sum(const std::vector<int>& v) { return std::accumulate(v.begin(), v.end(), int64_t(0)); }

namespace {

// Random rankings: per head a sorted (descending) score list over T - window positions.
Rankings random_rankings(int L, int G, int T, int window, uint32_t seed, bool skewed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  Rankings r;
  r.n_tokens = T;
  r.window = window;
  r.heads.resize(size_t(L) * G);
  for (int p = 0; p < L * G; ++p) {
    HeadRanking& h = r.heads[p];
    const int n = T - window;
    const float scale = skewed ? float(p % G + 1) * float(p % G + 1) : 1.f;  // head g's scores x (g+1)^2
    for (int j = 0; j < n; ++j) h.score.push_back(u(rng) * scale);
    std::sort(h.score.begin(), h.score.end(), std::greater<float>());
    h.order.resize(n);
    std::iota(h.order.begin(), h.order.end(), 0);
  }
  return r;
}

// cokv-profile's static Task-KV table rule: full heads shrink to what the layer leaves.
Budgets static_taskkv(const std::vector<uint8_t>& het, int L, int G, double mean, int window, int sink,
                      int full) {
  TaskKvAllocOptions o;
  o.window = window;
  o.sink = sink;
  o.full_budget = full;
  o.fit = TaskKvFit::Shrink;
  return allocate_task_kv(het, L, G, mean, o);
}

}  // namespace

TEST_CASE("allocation: CoKV Eq. 3 matches a hand computation", "[allocation]") {
  // n = 6, window 8, mean 20 -> B = 6 x (20 - 8) = 72, alpha = 2.
  // sorted scores: -0.6 -0.2 0.1 0.3 0.5 0.9 -> min_a = -0.2 (2nd smallest), max = 0.9.
  // s - min_a clipped at 0: [0.7, 0, 0.3, 1.1, 0.5, 0]; NSV = that / 1.1; sum = 2.6 / 1.1.
  // quota_i = 72 x (s_i - min_a)^+ / 2.6 = [19.385, 0, 8.308, 30.462, 13.846, 0] (sums to 72).
  // floors [19, 0, 8, 30, 13, 0] = 70; 2 units left go to the largest fractions: .846 (head 4)
  // and .462 (head 3) -> [19, 0, 8, 31, 14, 0]; + window 8 -> [27, 8, 16, 39, 22, 8], sum 120.
  const std::vector<double> s{0.5, -0.2, 0.1, 0.9, 0.3, -0.6};
  const auto nsv = cokv_nsv(s, 2);
  REQUIRE(nsv[0] == Approx(0.7 / 1.1));
  REQUIRE(nsv[1] == 0.0);
  REQUIRE(nsv[3] == Approx(1.0));
  REQUIRE(nsv[5] == 0.0);
  REQUIRE(allocate_cokv(s, 20, 8, 2) == std::vector<int>{27, 8, 16, 39, 22, 8});
  // alpha = 1: min_a = -0.6 is the minimum; only head 5 is at the window.
  // (s + 0.6) = [1.1, 0.4, 0.7, 1.5, 0.9, 0], sum 4.6; quota = 72 x that / 4.6
  // = [17.217, 6.261, 10.957, 23.478, 14.087, 0] -> floors 70, +1 to .957 (h2) and .478 (h3).
  REQUIRE(allocate_cokv(s, 20, 8, 1) == std::vector<int>{25, 14, 19, 32, 22, 8});
  // alpha = n: min_a = max -> every NSV is 0 -> uniform.
  REQUIRE(allocate_cokv(s, 20, 8, 6) == std::vector<int>(6, 20));
  REQUIRE_THROWS_WITH(allocate_cokv(s, 20, 8, 7), Catch::Contains("alpha") && Catch::Contains("1..6"));
  REQUIRE_THROWS_WITH(allocate_cokv(s, 7, 8, 2), Catch::Contains("mean_budget"));
  REQUIRE_THROWS_WITH(allocate_cokv({1.0, std::nan("")}, 20, 8, 1), Catch::Contains("scores[1]"));
}

TEST_CASE("allocation: exact sums and floors on random scores", "[allocation]") {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> nd(0.0, 1.0);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + int(rng() % 300);
    const int window = int(rng() % 17);
    const double mean = window + double(rng() % 600);
    std::vector<double> s(n);
    for (auto& x : s) x = nd(rng) * (trial % 3 == 0 ? 1e-9 : 1.0);      // tiny spreads too
    if (trial % 7 == 0) std::fill(s.begin(), s.begin() + n / 2, 0.25);  // many exact ties
    INFO("trial " << trial << " n " << n << " window " << window << " mean " << mean);
    for (const auto& c : cokv_candidates(s, mean, window)) {
      REQUIRE(sum(c.budgets) == int64_t(n) * int64_t(mean));
      REQUIRE(*std::min_element(c.budgets.begin(), c.budgets.end()) >= window);
    }
    std::vector<double> pos(n);
    for (int i = 0; i < n; ++i) pos[i] = std::fabs(s[i]);
    const int floor = window + int(rng() % 5);
    if (mean >= floor) {
      const auto p = allocate_proportional(pos, mean, floor, 0.5 + double(rng() % 3));
      REQUIRE(sum(p) == int64_t(n) * int64_t(mean));
      REQUIRE(*std::min_element(p.begin(), p.end()) >= floor);
    }
    const auto u = allocate_uniform(n, mean, window);
    REQUIRE(sum(u) == int64_t(n) * int64_t(mean));
    REQUIRE(*std::max_element(u.begin(), u.end()) - *std::min_element(u.begin(), u.end()) <= 1);
  }
}

TEST_CASE("allocation: rounding is deterministic with ties to the lower index", "[allocation]") {
  // Three equal quotas of 10/3: one extra unit, goes to head 0.
  REQUIRE(round_largest_remainder({10.0 / 3, 10.0 / 3, 10.0 / 3}, 10) == std::vector<int64_t>{4, 3, 3});
  REQUIRE(allocate_uniform(3, 12.0 + 1.0 / 3, 8) == std::vector<int>{13, 12, 12});
  // Uniform with a fractional mean that makes n x mean integral.
  REQUIRE(sum(allocate_uniform(4, 12.5, 8)) == 50);
  REQUIRE_THROWS_WITH(allocate_uniform(3, 12.5, 8), Catch::Contains("integral"));
  // Same input, same output, whatever the order of calls.
  std::vector<double> s(90);
  for (int i = 0; i < 90; ++i) s[i] = (i * 37 % 11) * 0.1;
  REQUIRE(allocate_cokv(s, 64, 8, 10) == allocate_cokv(s, 64, 8, 10));
}

TEST_CASE("allocation: proportional with floor and exponent", "[allocation]") {
  // floor 10, mean 20, n 4 -> B' = 40; s^2 = [1, 4, 9, 0] / 14 -> quotas [2.857, 11.429, 25.714, 0]
  // floors [2, 11, 25, 0] = 38, 2 left -> .857 (h0), .714 (h2) -> [3, 11, 26, 0] + 10.
  REQUIRE(allocate_proportional({1, 2, 3, 0}, 20, 10, 2.0) == std::vector<int>{13, 21, 36, 10});
  REQUIRE_THROWS_WITH(allocate_proportional({1, -2}, 20, 10), Catch::Contains("scores[1]"));
  // All-zero scores: uniform.
  REQUIRE(allocate_proportional({0, 0, 0}, 20, 8) == std::vector<int>{20, 20, 20});
}

TEST_CASE("allocation: Task-KV keeps full heads and splits the rest", "[allocation]") {
  // 3 layers x 3 KV heads, mean 300 -> layer total 900. Full heads get 500.
  std::vector<uint8_t> het{1, 0, 0, /**/ 0, 0, 0, /**/ 0, 1, 0};
  TaskKvAllocOptions opt;
  opt.window = 8;
  opt.sink = 4;
  opt.full_budget = 500;
  const auto b = allocate_task_kv(het, 3, 3, 300, opt);
  REQUIRE(b == std::vector<int>{500, 200, 200, 300, 300, 300, 200, 500, 200});
  const auto t = layer_totals(b, 3, 3);
  REQUIRE(t == std::vector<int64_t>{900, 900, 900});
  // Global pooling: the ordinary heads share 2700 - 1000 equally.
  opt.per_layer_totals = false;
  const auto g = allocate_task_kv(het, 3, 3, 300, opt);
  REQUIRE(sum(g) == 2700);
  REQUIRE(g[0] == 500);
  REQUIRE(g[7] == 500);
  REQUIRE(g[1] == 243);  // 1700 / 7 = 242.857: the first 6 of 7 ordinary heads get 243
  // Infeasible: two full heads in a layer of 3 at mean 300 leave 900 - 1000 < 0.
  opt.per_layer_totals = true;
  std::vector<uint8_t> two{1, 1, 0, 0, 0, 0, 0, 0, 0};
  REQUIRE_THROWS_WITH(allocate_task_kv(two, 3, 3, 300, opt), Catch::Contains("layer 0"));
  REQUIRE_THROWS_WITH(allocate_task_kv(het, 3, 2, 300, opt), Catch::Contains("heterogeneous mask"));
}

TEST_CASE("allocation: prompt-length cap with and without redistribution", "[allocation]") {
  const std::vector<int> b{27, 8, 16, 39, 22, 8};  // the hand example, total 120
  // No redistribution: budgets above the prompt keep the whole prompt, the total shrinks.
  REQUIRE(cap_budgets(b, 20, 8, false) == std::vector<int>{20, 8, 16, 20, 20, 8});
  // Redistribution keeps the total (120 <= 6 x 25) and never exceeds the prompt.
  const auto r = cap_budgets(b, 25, 8, true);
  REQUIRE(sum(r) == 120);
  REQUIRE(*std::max_element(r.begin(), r.end()) <= 25);
  REQUIRE(*std::min_element(r.begin(), r.end()) >= 8);
  // Water-filling by hand: quotas 8 + (b - 8) = [27, 8, 16, 39, 22, 8]; heads 0, 3 cap at 25;
  // re-sharing 70 over heads 1, 2, 4, 5 (weights 0, 8, 14, 0) caps head 4, then head 2; the
  // last 20 tokens go equally to the two weightless heads: 10 each.
  REQUIRE(r == std::vector<int>{25, 10, 25, 25, 25, 10});
  // Prompt shorter than the window: everyone keeps the whole prompt.
  REQUIRE(cap_budgets(b, 5, 8, true) == std::vector<int>(6, 5));
}

TEST_CASE("allocation: water-filling respects the cap and the total", "[allocation]") {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 100; ++trial) {
    const int n = 2 + int(rng() % 100);
    std::vector<double> w(n);
    for (auto& x : w) x = std::pow(double(rng() % 1000) / 1000.0, 4);
    const int floor = int(rng() % 10);
    const int cap = floor + 1 + int(rng() % 200);
    const int64_t total = int64_t(n) * floor + int64_t(rng() % (int64_t(n) * (cap - floor) + 1));
    const auto b = distribute(w, total, floor, cap);
    REQUIRE(sum(b) == total);
    REQUIRE(*std::min_element(b.begin(), b.end()) >= floor);
    REQUIRE(*std::max_element(b.begin(), b.end()) <= cap);
  }
  REQUIRE_THROWS_WITH(distribute({1, 1}, 100, 0, 40), Catch::Contains("n x cap"));
}

TEST_CASE("allocation: per-layer helpers", "[allocation]") {
  const std::vector<int> b{10, 20, 30, /**/ 8, 8, 9};
  REQUIRE(layer_totals(b, 2, 3) == std::vector<int64_t>{60, 25});
  // means 20 and 8.333 -> total round(28.333) = 28 -> [20, 8].
  REQUIRE(layer_mean_budgets(b, 2, 3) == std::vector<int>{20, 8});
  REQUIRE(layer_means({1, 2, 3, 4}, 2, 2) == std::vector<double>{1.5, 3.5});
  REQUIRE_THROWS(layer_totals(b, 3, 3));
}

TEST_CASE("taskkv static budgets: full heads take what the layer allows", "[allocation]") {
  // 2 layers x 3 heads; one heterogeneous head per layer; window 8, sink 4 (floor 12).
  const std::vector<uint8_t> het{0, 1, 0, 1, 0, 0};
  // mean 16: layer total 48, ordinary 2 x 12, full head 24.
  CHECK(static_taskkv(het, 2, 3, 16, 8, 4, 1000) == std::vector<int>{12, 24, 12, 24, 12, 12});
  // full_budget 30 caps the full head; ordinary heads share 150 - 30 = 120.
  CHECK(static_taskkv(het, 2, 3, 50, 8, 4, 30) == std::vector<int>{60, 30, 60, 30, 60, 60});
  // A full budget below the window is raised to the window; a layer without heterogeneous heads
  // is uniform (largest remainder, lower index first); totals are exact.
  CHECK(static_taskkv(het, 2, 3, 17, 8, 4, 5) == std::vector<int>{22, 8, 21, 8, 22, 21});
  CHECK(static_taskkv({0, 1, 0, 0, 0, 0}, 2, 3, 17, 8, 4, 5) ==
        std::vector<int>{22, 8, 21, 17, 17, 17});
  // All heads heterogeneous: they share the layer total.
  CHECK(static_taskkv({1, 1, 1}, 1, 3, 20, 8, 4, 1000) == std::vector<int>{20, 20, 20});
  // Too small for window + sink per ordinary head.
  CHECK_THROWS_WITH(static_taskkv(het, 2, 3, 10, 8, 4, 1000), Catch::Contains("layer 0"));
}

TEST_CASE("adakv: per-layer totals exact, floor kept, cross-head top-k", "[allocation]") {
  const int L = 4, G = 3, T = 300, W = 8;
  for (int budget : {8, 9, 16, 64, 128}) {
    for (bool skewed : {false, true}) {
      const Rankings r = random_rankings(L, G, T, W, 7u + budget, skewed);
      const auto b = adakv_budgets(r, L, G, budget, W, 0.2);
      REQUIRE(b.size() == size_t(L * G));
      const int floor = int(std::floor(0.2 * (budget - W)));
      for (int il = 0; il < L; ++il) {
        int64_t sum = 0;
        for (int g = 0; g < G; ++g) {
          CHECK(b[il * G + g] >= W + floor);
          sum += b[il * G + g];
        }
        CHECK(sum == int64_t(G) * budget);
        // Brute force: after the floors, the remaining G*(c-W) - G*floor slots are the largest
        // remaining scores of the layer.
        std::vector<std::pair<float, int>> rest;
        for (int g = 0; g < G; ++g)
          for (size_t j = floor; j < r.heads[il * G + g].score.size(); ++j)
            rest.push_back({r.heads[il * G + g].score[j], g});
        std::sort(rest.begin(), rest.end(), [](auto& a, auto& x) { return a.first > x.first; });
        std::vector<int> want(G, W + floor);
        for (int k = 0; k < G * (budget - W - floor); ++k) ++want[rest[k].second];
        for (int g = 0; g < G; ++g) CHECK(b[il * G + g] == want[g]);
      }
      if (skewed && budget >= 64) {
        // Head 2's scores are 9x head 0's: it gets more of the layer.
        CHECK(b[2] > b[0]);
      }
    }
  }
  // A short prompt: heads cannot take more than they have; nothing exceeds T.
  const Rankings r = random_rankings(2, 3, 20, W, 3, true);
  for (int32_t v : adakv_budgets(r, 2, 3, 64, W)) CHECK(v <= 20);
  CHECK_THROWS_AS(adakv_budgets(r, 2, 3, 4, W), Error);
}

TEST_CASE("pyramidkv: linear decrease, exact total, uniform within a layer", "[allocation]") {
  for (auto [L, G, c] : std::vector<std::tuple<int, int, int>>{
           {30, 3, 64}, {30, 3, 128}, {32, 8, 128}, {5, 2, 9}, {1, 4, 32}}) {
    const int W = 8;
    const auto b = pyramidkv_budgets(L, G, c, W, 20.0);
    REQUIRE(b.size() == size_t(L * G));
    int64_t total = 0;
    std::vector<int64_t> layer(L, 0);
    for (int il = 0; il < L; ++il) {
      int mn = 1 << 30, mx = 0;
      for (int g = 0; g < G; ++g) {
        const int v = b[il * G + g];
        CHECK(v >= W);
        layer[il] += v;
        mn = std::min(mn, v);
        mx = std::max(mx, v);
      }
      CHECK(mx - mn <= 1);
      total += layer[il];
    }
    CHECK(total == int64_t(L) * G * c);
    for (int il = 1; il < L; ++il) CHECK(layer[il] <= layer[il - 1]);
    if (L == 30 && c == 64) {
      // beta 20: bottom per-head ~ W + 2*56 - 2.8 = 117.2, top ~ W + 2.8 = 10.8 (PyramidKV's schedule)
      CHECK(std::abs(layer[0] / double(G) - 117.2) < 1.0);
      CHECK(std::abs(layer[L - 1] / double(G) - 10.8) < 1.0);
    }
  }
}
