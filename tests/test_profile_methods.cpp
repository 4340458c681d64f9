// BaKlaVa and Task-KV building blocks against hand-made inputs and independent scalar references.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "data/split.h"
#include "model_fixture.h"
#include "profile/baklava.h"
#include "data/suite.h"
#include "profile/taskkv.h"

using namespace cokv;
using namespace cokv::profile;

TEST_CASE("taskkv f(r) follows the linear schedule, rounded and clamped", "[profile]") {
  // Llama-2-7B defaults: n = 32, beta = 0.25, m = 4, R = 32: f(r) = 8 - 4 r / 31.
  CHECK(taskkv_count(0, 32, 32, 0.25, 4) == 8);
  CHECK(taskkv_count(31, 32, 32, 0.25, 4) == 4);
  CHECK(taskkv_count(15, 32, 32, 0.25, 4) == 6);  // 8 - 60/31 = 6.06
  CHECK(taskkv_count(8, 32, 32, 0.25, 4) == 7);   // 8 - 32/31 = 6.97
  // The default model with Mistral's defaults: 0.9 -> 1 at every layer.
  for (int r = 0; r < 30; ++r) CHECK(taskkv_count(r, 30, 3, 0.3, 1) == 1);
  // Clamping: n beta = 3.6 > n... and negative.
  CHECK(taskkv_count(0, 10, 3, 1.2, 1) == 3);
  CHECK(taskkv_count(9, 10, 3, 0.3, -2) == 0);
  CHECK(taskkv_count(0, 1, 8, 0.25, 4) == 2);  // one layer: n beta
}

TEST_CASE("taskkv center distances on hand-made vectors", "[profile]") {
  const std::vector<std::vector<double>> v{{0, 0}, {2, 0}, {4, 0}};
  const auto e = center_distances(v, TaskKvDistance::Euclidean);
  CHECK(e[0] == Approx(2.0));
  CHECK(e[1] == Approx(0.0).margin(1e-12));
  CHECK(e[2] == Approx(2.0));
  const auto c = center_distances({{1, 0}, {0, 1}}, TaskKvDistance::Cosine);  // center (0.5, 0.5)
  CHECK(c[0] == Approx(1.0 - std::sqrt(0.5)));
  CHECK(c[1] == Approx(1.0 - std::sqrt(0.5)));
  // Farthest-first selection with tie-breaks.
  CHECK(select_top(e, {}, 1) == std::vector<uint8_t>{1, 0, 0});         // tie 0/2: lower index
  CHECK(select_top(e, {0, 0, 5}, 1) == std::vector<uint8_t>{0, 0, 1});  // tie-break key wins
  CHECK(select_top(e, {}, 2) == std::vector<uint8_t>{1, 0, 1});
}

TEST_CASE("taskkv semantic vector matches a scalar reference", "[profile]") {
  // One layer, 1 KV head with 2 query heads, D = 2, T = 5, W = 2 window rows.
  PromptKV p;
  p.n_tokens = 5;
  p.n_win = 2;
  p.n_kv_heads = 1;
  p.n_heads = 2;
  p.head_dim = 2;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> U(-1, 1);
  p.k.assign(1, std::vector<float>(5 * 2));
  p.v.assign(1, std::vector<float>(5 * 2));
  p.q_win.assign(1, std::vector<float>(2 * 2 * 2));
  for (auto& x : p.k[0]) x = U(rng);
  for (auto& x : p.v[0]) x = U(rng);
  for (auto& x : p.q_win[0]) x = U(rng);
  // Reference: column means of causal softmax over the 4 (head, row) pairs, top 3, weighted V sum.
  std::vector<double> col(5, 0.0);
  for (int h = 0; h < 2; ++h)
    for (int r = 0; r < 2; ++r) {
      const int vis = 5 - 2 + r + 1;
      std::vector<double> s(vis);
      double mx = -1e30, z = 0;
      for (int j = 0; j < vis; ++j) {
        double d = 0;
        for (int e = 0; e < 2; ++e) d += p.q_win[0][(h * 2 + r) * 2 + e] * p.k[0][j * 2 + e];
        s[j] = d / std::sqrt(2.0);
        mx = std::max(mx, s[j]);
      }
      for (int j = 0; j < vis; ++j) z += std::exp(s[j] - mx);
      for (int j = 0; j < vis; ++j) col[j] += std::exp(s[j] - mx) / z / 4.0;
    }
  std::vector<int> idx{0, 1, 2, 3, 4};
  std::sort(idx.begin(), idx.end(), [&](int a, int b) { return col[a] > col[b]; });
  std::vector<double> ref(2, 0.0);
  for (int i = 0; i < 3; ++i)
    for (int e = 0; e < 2; ++e) ref[e] += col[idx[i]] * p.v[0][idx[i] * 2 + e];
  const auto got = semantic_vectors(p, 0, 3);
  REQUIRE(got.size() == 1);
  CHECK(got[0][0] == Approx(ref[0]).epsilon(1e-5));
  CHECK(got[0][1] == Approx(ref[1]).epsilon(1e-5));
}

TEST_CASE("baklava profiled rows are evenly spaced and end at the last token", "[profile]") {
  CHECK(profiled_rows(5, 0) == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(profiled_rows(5, 8) == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(profiled_rows(10, 4) == std::vector<int>{0, 3, 6, 9});
  CHECK(profiled_rows(10, 1) == std::vector<int>{9});
  const auto g = baklava_grid(8, 20);  // floors 8 and 16 (32 > 20)
  REQUIRE(g.size() == 6);
  CHECK(g[0].floor == 8);
  CHECK(g[3].floor == 16);
  CHECK(g[4].exponent == 1.0);
  CHECK(baklava_scores({0.2, 0.4, -0.1, 0.3}, {0.5, 2.0}, 2, true) ==
        std::vector<double>{0.1, 0.2, 0.0, 0.6});
}

TEST_CASE("baklava importance: a zeroed head scores 0, others match a scalar reference", "[profile][model]") {
  const Model& m = cokv_test::default_model();
  const int E = m.cfg.hidden, H = m.cfg.n_heads, D = m.cfg.head_dim, G = m.cfg.n_kv_heads, L = m.cfg.n_layers;
  const int T = 6, il = 2;
  std::mt19937 rng(11);
  std::normal_distribution<float> N01(0, 1);
  Mat x(T, E), attn(T, H * D);
  for (int i = 0; i < x.size(); ++i) x.data()[i] = N01(rng);
  for (int i = 0; i < attn.size(); ++i) attn.data()[i] = N01(rng);
  attn.middleCols(0, D).setZero();  // query head 0 contributes nothing
  BaklavaObserver obs(m.cfg, 0);
  const ModelHeadProjection wo_proj(m);
  for (int l = 0; l < L; ++l) obs.on_layer(l, x, attn, x, l == il ? Mat(-x) : x, wo_proj);
  const auto q = obs.query_head_importance();
  CHECK(q[size_t(il) * H + 0] == Approx(0.0).margin(1e-12));
  // Head 1 by hand: o = attn_1 Wo_1^T, importance = 1 - mean_t cos(x_t, x_t + o_t).
  const auto wo = m.w.layers[il].wo.f32();
  double acc = 0;
  for (int t = 0; t < T; ++t) {
    double ab = 0, aa = 0, bb = 0;
    for (int e = 0; e < E; ++e) {
      double o = 0;
      for (int d = 0; d < D; ++d) o += double(attn(t, D + d)) * wo(e, D + d);
      const double a = x(t, e), b = x(t, e) + o;
      ab += a * b;
      aa += a * a;
      bb += b * b;
    }
    acc += ab / std::sqrt(aa * bb);
  }
  CHECK(q[size_t(il) * H + 1] == Approx(1.0 - acc / T).epsilon(1e-4));
  CHECK(q[size_t(il) * H + 1] > 1e-4);
  // KV head 0 = mean of its group (query heads 0..H/G-1).
  const auto kv = obs.kv_head_importance();
  double grp = 0;
  for (int h = 0; h < H / G; ++h) grp += q[size_t(il) * H + h];
  CHECK(kv[size_t(il) * G] == Approx(grp / (H / G)));
  // Layer proxy: x_out = x -> 0; x_out = -x -> 2.
  const auto lp = obs.layer_proxy();
  CHECK(lp[0] == Approx(0.0).margin(1e-9));
  CHECK(lp[il] == Approx(2.0));
  CHECK(obs.n_tokens() == T);
}

TEST_CASE("profile samples: the fixture's category, metrics, split and answer tokens", "[profile][model]") {
  const Model& m = cokv_test::default_model();
  const std::string dir = std::string(COKV_SOURCE_DIR) + "/tests/data/profile";
  const Suite s = open_suite(dir);
  CHECK(s.local);
  CHECK(task_datasets(s, "synthetic", "") == std::vector<std::string>{"passkey", "passage_count_kjv"});
  CHECK(task_datasets(s, "", "passkey") == std::vector<std::string>{"passkey"});
  CHECK_THROWS_WITH(task_datasets(s, "nope", ""), Catch::Contains("--category"));
  CHECK_THROWS_WITH(task_datasets(s, "", "nope"), Catch::Contains("--dataset"));
  const auto& pk = s.datasets.at("passkey").info;
  CHECK(pk.metric == longbench::Metric::Count);
  CHECK(pk.max_new_tokens == 16);
  CHECK(pk.chat_template);
  CHECK(pk.first_line);
  SampleOptions so;
  so.max_records = 3;
  so.chat = longbench::ChatPolicy::LongBench;  // per dataset: passkey asks for the chat template
  const auto samples = validation_samples(m, s, {"passkey"}, so);
  // 4 records -> all 4 are validation (CoKV takes 30), seed-42 order, first 3 kept.
  REQUIRE(samples.size() == 3);
  const auto records = longbench::read_records(dir + "/data/passkey.jsonl");
  const auto split = longbench::validation_test_split(records.size(), 42);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(samples[i].id == records[split.validation[i]].id);
    // Chat template applied: the answer follows the assistant header directly.
    CHECK(m.tok.decode(samples[i].answer_tokens, true) == records[split.validation[i]].answers[0]);
    CHECK(samples[i].stop == m.tok.stop_tokens());
    CHECK(samples[i].max_new == 16);
  }
  // Middle truncation bounds the prompt (the chat template adds its own tokens on top).
  so.max_length = 64;
  const auto short_samples = validation_samples(m, s, {"passkey"}, so);
  CHECK(short_samples[0].prompt.size() < samples[0].prompt.size());
  CHECK(short_samples[0].prompt.size() <= 64 + 40);
}
