// Head-level KV runtime on the real default model: full budget equals the plain forward
// pass, batching changes nothing, compacted equals index view, and window-only / arbitrary
// budgets equal an independent masked forward pass written here from scratch.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "kv/budget.h"
#include "kv/scorers.h"
#include "model_fixture.h"
#include "runtime/batch_decode.h"
#include "runtime/ops.h"
#include "runtime/prefill.h"

using namespace cokv;
using cokv_test::default_model;

namespace {

const char* kText =
    "The old lighthouse keeper wrote in his log every evening. On the first of March the wind came from "
    "the north, and the boats stayed in the harbour. His daughter, Mara, counted seventeen gulls on the "
    "rail. The password for the supply shed is amber-falcon-42. On the second of March the";

double log_softmax(const std::vector<float>& logits, int target) {
  float mx = *std::max_element(logits.begin(), logits.end());
  double z = 0;
  for (float l : logits) z += std::exp(double(l - mx));
  return double(logits[target] - mx) - std::log(z);
}

// Independent reference: a full forward pass over prompt + continuation where every
// continuation row of KV head (il, g) sees only kept[il*G+g] prompt positions plus the
// continuation up to itself (zeroed heads output 0); prompt rows attend causally to the
// whole prompt. Returns logits of rows T-1 .. end. Plain loops, no shared code but the
// weights and ops.h's norm/rope/silu.
std::vector<std::vector<float>> masked_forward(const Model& m, const std::vector<int32_t>& toks, int T,
                                               const std::vector<std::vector<int32_t>>& kept,
                                               const std::vector<uint8_t>& zeroed) {
  const ModelConfig& c = m.cfg;
  const int N = int(toks.size()), D = c.head_dim, H = c.n_heads, G = c.n_kv_heads, gs = H / G;
  Mat x(N, c.hidden), xn, q, k, v, o, gate, up;
  for (int t = 0; t < N; ++t) x.row(t) = m.w.tok_embd.f32().row(toks[t]);
  RopeTable rope;
  rope.build(c, N);
  std::vector<int> pos(N);
  for (int t = 0; t < N; ++t) pos[t] = t;
  for (int il = 0; il < c.n_layers; ++il) {
    const LayerWeights& lw = m.w.layers[il];
    rms_norm(x, lw.attn_norm, c.norm_eps, xn);
    quantize_activations(xn, m.act_quant);
    q = xn * lw.wq.f32().transpose();
    k = xn * lw.wk.f32().transpose();
    v = xn * lw.wv.f32().transpose();
    rope_rows(rope, q, H, D, pos.data());
    rope_rows(rope, k, G, D, pos.data());
    round_kv(q, m.act_quant);
    round_kv(k, m.act_quant);
    round_kv(v, m.act_quant);
    Mat attn = Mat::Zero(N, H * D);
    for (int i = 0; i < N; ++i)
      for (int h = 0; h < H; ++h) {
        const int g = h / gs;
        std::vector<int> vis;
        if (i < T) {
          for (int j = 0; j <= i; ++j) vis.push_back(j);
        } else {
          if (zeroed[il * G + g]) continue;
          for (int j : kept[il * G + g]) vis.push_back(j);
          for (int j = T; j <= i; ++j) vis.push_back(j);
        }
        std::vector<double> s(vis.size());
        double mx = -1e300;
        for (size_t a = 0; a < vis.size(); ++a) {
          double d = 0;
          for (int e = 0; e < D; ++e) d += double(q(i, h * D + e)) * k(vis[a], g * D + e);
          s[a] = d / std::sqrt(double(D));
          mx = std::max(mx, s[a]);
        }
        double z = 0;
        for (double& val : s) z += (val = std::exp(val - mx));
        for (size_t a = 0; a < vis.size(); ++a)
          for (int e = 0; e < D; ++e) attn(i, h * D + e) += float(s[a] / z * v(vis[a], g * D + e));
      }
    quantize_activations(attn, m.act_quant);
    x += attn * lw.wo.f32().transpose();
    rms_norm(x, lw.ffn_norm, c.norm_eps, xn);
    quantize_activations(xn, m.act_quant);
    gate = xn * lw.w_gate.f32().transpose();
    up = xn * lw.w_up.f32().transpose();
    gate = gate.unaryExpr([](float z) { return silu(z); }).cwiseProduct(up);
    quantize_activations(gate, m.act_quant);
    x += gate * lw.w_down.f32().transpose();
  }
  std::vector<std::vector<float>> out;
  for (int i = T - 1; i < N; ++i) {
    Mat last = x.row(i);
    rms_norm(last, m.w.out_norm, c.norm_eps, xn);
    quantize_activations(xn, m.act_quant);
    Mat lg = xn * m.w.lm_head().f32().transpose();
    out.emplace_back(lg.data(), lg.data() + lg.size());
  }
  return out;
}

// Kept sets and zero flags of a policy, for the reference.
void policy_sets(const Policy& pol, int T, std::vector<std::vector<int32_t>>& kept, std::vector<uint8_t>& zero) {
  kept.assign(pol.budget.keep.size(), {});
  zero.assign(pol.budget.keep.size(), 0);
  static const std::vector<int32_t> none;
  for (size_t h = 0; h < kept.size(); ++h) {
    const int w = pol.ranking ? pol.ranking->window : std::min(pol.window, T);
    kept_positions(pol.budget.keep[h], T, w, pol.ranking ? pol.ranking->heads[h].order : none, kept[h]);
    zero[h] = pol.budget.keep[h] == kZeroHead;
  }
}

struct Fixture {
  const Model& m = default_model();
  std::vector<int32_t> prompt = m.tok.encode(kText);
  PromptKV p = prefill(m, prompt);
  Rankings snap = rank_prompt(p, ScorerConfig{});
  int n = m.cfg.n_kv_players();

  std::vector<Policy> mixed_policies() {
    std::mt19937 rng(7);
    std::vector<Policy> pols;
    pols.push_back({BudgetVector::all(n), nullptr});
    pols.push_back({BudgetVector::uniform(n, 16), &snap});
    std::vector<uint8_t> members(n);
    for (auto& b : members) b = rng() % 2;
    pols.push_back({BudgetVector::coalition(members, 8), &snap});
    pols.push_back({BudgetVector::coalition(std::vector<uint8_t>(n, 0), 8), &snap});
    BudgetVector rnd;
    for (int h = 0; h < n; ++h) rnd.keep.push_back(8 + int(rng() % 40));
    pols.push_back({rnd, &snap});
    BudgetVector z = BudgetVector::all(n);
    for (int h = 0; h < n; h += 7) z.keep[h] = kZeroHead;
    pols.push_back({z, nullptr});
    return pols;
  }
};

}  // namespace

TEST_CASE("full budget reproduces the plain forward pass", "[runtime][model]") {
  Fixture f;
  REQUIRE(f.prompt.size() > 40);
  Policy full{BudgetVector::all(f.n), nullptr};
  GenOptions go;
  go.max_new = 10;
  auto gen = generate(f.m, f.p, std::span(&full, 1), go);
  REQUIRE(gen[0].tokens == greedy_reference(f.m, f.prompt, 10));
  REQUIRE(gen[0].kept_tokens == int64_t(f.prompt.size()) * f.n);

  // Teacher-forced log-probs equal the plain forward's log-softmax at each position.
  const std::vector<int32_t> answer = f.m.tok.encode(" wind turned west and the boats went out");
  auto ll = loglik(f.m, f.p, std::span(&full, 1), answer);
  std::vector<int32_t> seq = f.prompt;
  PrefillOptions po;
  po.keep_kv = false;
  for (size_t i = 0; i < answer.size(); ++i) {
    const double ref = log_softmax(prefill(f.m, seq, po).logits, answer[i]);
    REQUIRE(ll[0].token_logp[i] == Approx(ref).margin(2e-3));
    seq.push_back(answer[i]);
  }
}

TEST_CASE("batched evaluation equals one-at-a-time evaluation", "[runtime][model]") {
  Fixture f;
  auto pols = f.mixed_policies();
  GenOptions go;
  go.max_new = 8;
  const std::vector<int32_t> answer = f.m.tok.encode(" password is amber-falcon-42.");
  auto gen = generate(f.m, f.p, pols, go);
  auto ll = loglik(f.m, f.p, pols, answer);
  for (size_t s = 0; s < pols.size(); ++s) {
    INFO("policy " << s);
    auto g1 = generate(f.m, f.p, std::span(&pols[s], 1), go);
    auto l1 = loglik(f.m, f.p, std::span(&pols[s], 1), answer);
    REQUIRE(g1[0].tokens == gen[s].tokens);
    REQUIRE(l1[0].loglik == Approx(ll[s].loglik).margin(1e-4));
    REQUIRE(l1[0].kv_bytes == ll[s].kv_bytes);
  }
  // The policies differ: at least the zero-head and window-only ones change the likelihood.
  REQUIRE(std::abs(ll[0].loglik - ll[3].loglik) > 1e-3);
  REQUIRE(std::abs(ll[0].loglik - ll[5].loglik) > 1e-3);
}

TEST_CASE("compacted cache gives the same outputs as the index view", "[runtime][model]") {
  Fixture f;
  auto pols = f.mixed_policies();
  GenOptions go;
  go.max_new = 8;
  const std::vector<int32_t> answer = f.m.tok.encode(" seventeen gulls");
  auto a = generate(f.m, f.p, pols, go);
  auto la = loglik(f.m, f.p, pols, answer);
  go.compacted = true;
  DecodeOptions dc;
  dc.compacted = true;
  auto b = generate(f.m, f.p, pols, go);
  auto lb = loglik(f.m, f.p, pols, answer, dc);
  for (size_t s = 0; s < pols.size(); ++s) {
    REQUIRE(a[s].tokens == b[s].tokens);
    REQUIRE(la[s].loglik == lb[s].loglik);
  }
}

TEST_CASE("window-only coalitions and arbitrary budgets equal an independent masked forward", "[runtime][model]") {
  Fixture f;
  auto pols = f.mixed_policies();
  const std::vector<int32_t> answer = f.m.tok.encode(" wind turned west");
  auto ll = loglik(f.m, f.p, pols, answer);
  const int T = int(f.prompt.size());
  std::vector<int32_t> seq = f.prompt;
  seq.insert(seq.end(), answer.begin(), answer.end() - 1);
  for (size_t s : {size_t(2), size_t(3), size_t(4), size_t(5)}) {
    INFO("policy " << s);
    std::vector<std::vector<int32_t>> kept;
    std::vector<uint8_t> zero;
    policy_sets(pols[s], T, kept, zero);
    auto logits = masked_forward(f.m, seq, T, kept, zero);
    double ref = 0;
    for (size_t i = 0; i < answer.size(); ++i) ref += log_softmax(logits[i], answer[i]);
    REQUIRE(ll[s].loglik == Approx(ref).margin(2e-3 * answer.size()));
  }
}

TEST_CASE("KV bytes count kept prompt tokens x 2 x head_dim x 4 bytes", "[runtime][model]") {
  Fixture f;
  Policy u{BudgetVector::uniform(f.n, 16), &f.snap};
  auto r = loglik(f.m, f.p, std::span(&u, 1), std::vector<int32_t>{f.prompt[0]});
  REQUIRE(r[0].kept_tokens == int64_t(16) * f.n);
  REQUIRE(r[0].kv_bytes == size_t(16) * f.n * 2 * 64 * 4);
}
