// Whole-backend parity: the CUDA backend (runtime/cuda_backend.h) against the CPU backend on the
// real default model, one parametrised table of cases in the manner of ggml's test-backend-ops.
// In cokv-tests it runs emulated (--backend cuda-emu: the kernels on the emulator, cuBLAS on
// Eigen); compiled into cokv-cuda-tests it runs the same cases on the GPU (scripts/gpu-check).
//
// Tolerances come from bf16 weights. The CUDA backend holds its matrices in bf16 and rounds
// activations to bf16 between kernels; the CPU reference is fp32 throughout. How far bf16 alone
// moves a quantity on this model and prompt is measured, not guessed: every case also runs the
// CPU backend with each matrix rounded to bf16 (nearest even), and delta = max |bf16-weights CPU
// - fp32 CPU| over the quantity (logits, log-probabilities, scores). The CUDA backend rounds
// each matmul input to bf16 as well (about 1.5x as many roundings of the same unit as the
// weights alone: Q/K/V, attention output, norm outputs, the SwiGLU product), so its error is
// allowed kSpread x delta (errors of independent roundings add in quadrature, sqrt(2.5) ~ 1.6;
// kSpread = 4 leaves room for the reduction orders) plus kFloor x |value| x 2^-8 for quantities
// delta happens to leave untouched. Ranking scores come from attention probabilities, which
// the rounding of Q and K to bf16 moves more than delta shows: attention_rounding() states
// that term. Greedy tokens must be equal until the first step at which the fp32 CPU's own
// log-probabilities of the two tokens are within twice the logit tolerance (a near-tie: each
// may be off by it), kept sets equal except positions whose fp32 score is within twice the
// score tolerance of the budget's boundary, kept tokens and KV bytes exactly. Bit-stability: a policy alone and
// in its batch, and the compacted and the index-view cache, give the same bits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>

#include "hf_from_gguf.h"
#include "kv/budget.h"
#include "model_fixture.h"
#include "runtime/backend.h"
#include "runtime/cpu_backend.h"

using namespace cokv;
using cokv_test::default_model;

namespace {

#if COKV_EMU
constexpr BackendKind kKind = BackendKind::CudaEmulated;
constexpr const char* kMode = "emulated";
#else
constexpr BackendKind kKind = BackendKind::Cuda;
constexpr const char* kMode = "on the GPU";
#endif

constexpr double kSpread = 4.0;      // allowed multiple of the bf16-weights effect (see above)
constexpr double kFloor = 2.0;       // ... plus this many bf16 roundings of the value itself
constexpr double kUb = 1.0 / 256.0;  // bf16 unit roundoff 2^-8

struct Tally {
  int cases = 0;
  double worst = 0;  // max |error| / tolerance
  std::string worst_what;
  double seconds = 0;
};
Tally& tally() {
  static Tally t;
  return t;
}

void note(const std::string& what, double err, double tol) {
  const double r = tol > 0 ? err / tol : (err > 0 ? INFINITY : 0);
  if (r > tally().worst) tally().worst = r, tally().worst_what = what;
}

// ---- the three backends ---------------------------------------------------------------------

Backend& cuda() {
  static std::unique_ptr<Backend> b = [] {
    BackendOptions o;
    o.kind = kKind;
    return open_backend(o);
  }();
  return *b;
}

Backend& cpu() {
  static CpuBackend b(default_model());
  return b;
}

// The default model with every matrix rounded to bf16 (the loader's --weights bf16: nearest
// even, exact fp32 arithmetic on the rounded values): the CUDA backend's weights, fp32 math.
Backend& cpu_bf16() {
  static std::unique_ptr<Model> m;
  static std::unique_ptr<CpuBackend> b;
  if (!b) {
    m = Model::load(default_model_path(), Model::Numerics::Fp32, WeightMode::Bf16);
    REQUIRE(m->weights == WeightMode::Bf16);
    b = std::make_unique<CpuBackend>(*m);
  }
  return *b;
}

// ---- prompts and their states ---------------------------------------------------------------

const char* kTexts[] = {
    "The old lighthouse keeper wrote in his log every evening. On the first of March the wind came from "
    "the north, and the boats stayed in the harbour. The password is amber-falcon. The password is",
    "Maria packed three things for the trip: a blue notebook, a brass compass and a jar of honey. Her "
    "brother Tomas carried the tent, two lamps and the map of the northern valley. They left at dawn, "
    "crossed the river by the old stone bridge and reached the first camp before noon, where an old "
    "shepherd told them about the storm coming from the west. Question: what did Maria pack? Answer:",
};
constexpr int kPrompts = 2;

struct Prompt {
  std::vector<int32_t> tokens;
  std::unique_ptr<PromptState> g, c, w;  // on cuda, cpu fp32, cpu bf16 weights
};

Prompt& prompt(int i) {
  static std::unique_ptr<Prompt> p[kPrompts];
  if (!p[i]) {
    p[i] = std::make_unique<Prompt>();
    p[i]->tokens = default_model().tok.encode(kTexts[i]);
    p[i]->g = cuda().prefill(p[i]->tokens);
    p[i]->c = cpu().prefill(p[i]->tokens);
    p[i]->w = cpu_bf16().prefill(p[i]->tokens);
  }
  return *p[i];
}

// max |a - b|
double max_diff(std::span<const float> a, std::span<const float> b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}
double max_abs(std::span<const float> a) {
  double m = 0;
  for (float v : a) m = std::max(m, std::fabs(double(v)));
  return m;
}

// got vs the reference within kSpread x delta (the bf16-weights effect) + (kFloor u_bf16 + rel)
// |ref| (rel: a relative effect stated by the caller).
void within_delta(const std::string& what, std::span<const float> got, std::span<const float> ref, double delta,
                  double rel = 0) {
  REQUIRE(got.size() == ref.size());
  int bad = 0;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - ref[i]);
    const double tol = kSpread * delta + (kFloor * kUb + rel) * std::fabs(double(ref[i]));
    worst = std::max(worst, tol > 0 ? err / tol : err > 0 ? INFINITY : 0);
    note(what, err, tol);
    if (!(err <= tol) && bad++ < 5)
      FAIL_CHECK(what << "[" << i << "]: got " << got[i] << ", reference " << ref[i] << " (tolerance " << tol
                      << ")");
  }
  INFO(what << ": worst |error| / tolerance " << worst << " (delta " << delta << ")");
  CHECK(bad == 0);
}

// The same against the fp32 CPU, delta measured by the CPU with bf16 weights on the same input.
void within(const std::string& what, std::span<const float> got, std::span<const float> ref,
            std::span<const float> ref_bf16w) {
  within_delta(what, got, ref, max_diff(ref, ref_bf16w));
}

// ---- policies -------------------------------------------------------------------------------

// A batch covering every kind of kept set: whole prompt, window only, a CoKV coalition (both),
// zeroed heads, one uniform ranked budget, per-head ranked budgets.
std::vector<Policy> policy_mix(const Rankings& rk, int n_heads, int T, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> members(n_heads);
  for (auto& m : members) m = rng() % 2;
  std::vector<Policy> p;
  p.push_back({BudgetVector::all(n_heads), &rk, rk.window});
  p.push_back({BudgetVector::uniform(n_heads, rk.window), &rk, rk.window});
  p.push_back({BudgetVector::coalition(members, rk.window), &rk, rk.window});
  p.push_back({BudgetVector::coalition(members, kZeroHead), &rk, rk.window});
  p.push_back({BudgetVector::uniform(n_heads, rk.window + 12), &rk, rk.window});
  BudgetVector adaptive = BudgetVector::uniform(n_heads, 0);
  for (auto& b : adaptive.keep) b = int32_t(rk.window + rng() % uint32_t(T));
  p.push_back({adaptive, &rk, rk.window});
  return p;
}

const Rankings& cpu_ranking(int i) {
  static std::unique_ptr<Rankings> r[kPrompts];
  if (!r[i]) r[i] = std::make_unique<Rankings>(cpu().rank(*prompt(i).c, ScorerConfig{}));
  return *r[i];
}

// ---- the cases ------------------------------------------------------------------------------

void prefill_case(int i) {
  Prompt& p = prompt(i);
  within("prefill logits", p.g->last_logits(), p.c->last_logits(), p.w->last_logits());
  CHECK(p.g->n_tokens() == int(p.tokens.size()));
}

// Scores by position of every head.
std::vector<std::vector<float>> by_position(const Rankings& r) {
  std::vector<std::vector<float>> s(r.heads.size());
  for (size_t h = 0; h < r.heads.size(); ++h) {
    s[h].assign(r.heads[h].order.size(), 0.f);
    for (size_t k = 0; k < s[h].size(); ++k) s[h][r.heads[h].order[k]] = r.heads[h].score[k];
  }
  return s;
}

// The relative effect on a head's attention probabilities of the CUDA backend rounding its Q and
// K to bf16 before attention (which the bf16-weights CPU does not: its delta misses it). Each
// element is rounded once with a relative error of standard deviation u/sqrt(3), so a logit
// s = scale q.k moves by ds with standard deviation scale u sqrt(2/3 sum_x (q_x k_x)^2); take
// 4 of them, the largest over the group's query heads, the window rows and the keys they see.
// A probability p = e^s / sum e^s then moves by a factor within e^(+-2 ds), and SnapKV / AhaKV /
// Task-KV scores (non-negative sums and maxima of probabilities) by the same factor.
double attention_rounding(const PromptKV& kv, int il, int g) {
  const int T = kv.n_tokens, W = kv.n_win, D = kv.head_dim, gs = kv.n_heads / kv.n_kv_heads;
  const double scale = 1.0 / std::sqrt(double(D));
  const float* k = kv.k_head(il, g);
  double ds = 0;
  for (int h = g * gs; h < (g + 1) * gs; ++h)
    for (int w = 0; w < W; ++w) {
      const float* q = kv.q_head(il, h) + size_t(w) * D;
      for (int t = 0; t <= T - W + w; ++t) {
        double sq = 0;
        for (int x = 0; x < D; ++x) sq += std::pow(double(q[x]) * k[size_t(t) * D + x], 2);
        ds = std::max(ds, 4 * scale * kUb * std::sqrt(2.0 / 3.0 * sq));
      }
    }
  return std::expm1(2 * ds);
}

void rank_case(int i, ScorerKind kind) {
  Prompt& p = prompt(i);
  ScorerConfig sc;
  sc.kind = kind;
  if (kind == ScorerKind::TaskKV) sc.recent = 8;  // a middle left to score in a short prompt
  const Rankings g = cuda().rank(*p.g, sc), c = cpu().rank(*p.c, sc), w = cpu_bf16().rank(*p.w, sc);
  REQUIRE(g.heads.size() == c.heads.size());
  CHECK(g.window == c.window);
  CHECK(g.n_tokens == c.n_tokens);
  const auto gs = by_position(g), cs = by_position(c), ws = by_position(w);
  double delta = 0;
  for (size_t h = 0; h < cs.size(); ++h) delta = std::max(delta, max_diff(cs[h], ws[h]));
  const PromptKV& kv = cpu().host_kv(*p.c);
  const int G = kv.n_kv_heads;
  int swaps = 0, bad = 0;
  for (size_t h = 0; h < cs.size(); ++h) {
    const int N = int(cs[h].size());
    REQUIRE(int(gs[h].size()) == N);
    if (kind == ScorerKind::Streaming) {  // positions only: exact
      CHECK(g.heads[h].order == c.heads[h].order);
      continue;
    }
    const double rel = attention_rounding(kv, int(h) / G, int(h) % G);
    within_delta("scores of head " + std::to_string(h), gs[h], cs[h], max_diff(cs[h], ws[h]), rel);

    for (int n : {1, 4, N / 2}) {
      if (n <= 0 || n >= N) continue;
      std::vector<int8_t> in_g(N, 0), in_c(N, 0);
      for (int k = 0; k < n; ++k) in_g[g.heads[h].order[k]] = 1, in_c[c.heads[h].order[k]] = 1;
      const double boundary = c.heads[h].score[n - 1];
      // Both scores of a swap, near the boundary, may move by their tolerance.
      const double tol = 2 * (kSpread * delta + (kFloor * kUb + rel) * std::fabs(boundary));
      for (int pos = 0; pos < N; ++pos) {
        if (in_g[pos] == in_c[pos]) continue;
        ++swaps;
        const double off = std::fabs(double(cs[h][pos]) - boundary);
        note("kept-set boundary", off, tol);
        if (!(off <= tol) && bad++ < 5)
          FAIL_CHECK("head " << h << " budget " << n << ": position " << pos << " kept by one backend only, its fp32 score "
                             << cs[h][pos] << " is " << off << " from the boundary " << boundary << " (tolerance " << tol
                             << ")");
      }
    }
  }
  INFO(scorer_name(kind) << ": " << swaps << " kept-set swaps at near-ties");
  CHECK(bad == 0);
}

// The fp32 CPU's log-probabilities of `answer` after the prompt under one policy.
std::vector<float> cpu_logp(const PromptState& s, const Policy& pol, const std::vector<int32_t>& answer,
                            Backend& b) {
  return b.loglik(s, std::span(&pol, 1), answer)[0].token_logp;
}

void generate_case(int i, bool compacted) {
  Prompt& p = prompt(i);
  const Rankings& rk = cpu_ranking(i);
  const int n = cuda().model().cfg.n_kv_players(), T = int(p.tokens.size()), D = cuda().model().cfg.head_dim;
  const auto pols = policy_mix(rk, n, T, 7 + i);
  GenOptions go;
  go.max_new = 6;
  go.compacted = compacted;
  const auto g = cuda().generate(*p.g, pols, go), c = cpu().generate(*p.c, pols, go);
  REQUIRE(g.size() == c.size());
  for (size_t k = 0; k < pols.size(); ++k) {
    INFO("policy " << k);
    CHECK(g[k].kept_tokens == c[k].kept_tokens);
    CHECK(g[k].kv_bytes == size_t(c[k].kept_tokens) * 2 * D * cuda().kv_element_bytes());
    CHECK(c[k].kv_bytes == size_t(c[k].kept_tokens) * 2 * D * sizeof(float));
    size_t j = 0;
    while (j < g[k].tokens.size() && j < c[k].tokens.size() && g[k].tokens[j] == c[k].tokens[j]) ++j;
    if (j == g[k].tokens.size() && j == c[k].tokens.size()) continue;
    // They part at step j: a near-tie of the fp32 CPU's own log-probabilities there.
    REQUIRE(j < g[k].tokens.size());
    REQUIRE(j < c[k].tokens.size());
    std::vector<int32_t> a(c[k].tokens.begin(), c[k].tokens.begin() + j + 1), b = a;
    b[j] = g[k].tokens[j];
    const auto la = cpu_logp(*p.c, pols[k], a, cpu()), lb = cpu_logp(*p.c, pols[k], b, cpu());
    const auto wa = cpu_logp(*p.w, pols[k], a, cpu_bf16());
    const double gap = double(la[j]) - lb[j];
    // Each of the two tokens' log-probabilities may be off by the logit tolerance.
    const double tol = 2 * (kSpread * max_diff(la, wa) + kFloor * kUb * std::fabs(la[j]));
    note("greedy near-tie", gap, tol);
    CHECK(gap >= 0);
    CHECK(gap <= tol);
    WARN("policy " << k << ": greedy tokens part at step " << j << ", a near-tie (fp32 log-prob gap " << gap
                   << ", tolerance " << tol << ")");
  }
}

std::vector<int32_t> answer_tokens(int i) {
  const char* answers[] = {" amber-falcon. On the second of March", " a blue notebook, a brass compass"};
  return default_model().tok.encode(answers[i]);
}

void loglik_case(int i, bool compacted) {
  Prompt& p = prompt(i);
  const Rankings& rk = cpu_ranking(i);
  const int n = cuda().model().cfg.n_kv_players(), T = int(p.tokens.size());
  const auto pols = policy_mix(rk, n, T, 11 + i);
  const std::vector<int32_t> ans = answer_tokens(i);
  DecodeOptions o;
  o.compacted = compacted;
  const auto g = cuda().loglik(*p.g, pols, ans, o), c = cpu().loglik(*p.c, pols, ans, o),
             w = cpu_bf16().loglik(*p.w, pols, ans, o);
  for (size_t k = 0; k < pols.size(); ++k) {
    INFO("policy " << k);
    CHECK(g[k].kept_tokens == c[k].kept_tokens);
    within("token log-probabilities", g[k].token_logp, c[k].token_logp, w[k].token_logp);
  }
}

// A policy alone and in its batch, and the two cache layouts, give the same bits.
void invariance_case(int i) {
  Prompt& p = prompt(i);
  const Rankings& rk = cpu_ranking(i);
  const int n = cuda().model().cfg.n_kv_players(), T = int(p.tokens.size());
  const auto pols = policy_mix(rk, n, T, 13 + i);
  const std::vector<int32_t> ans = answer_tokens(i);
  GenOptions go;
  go.max_new = 4;
  const auto batch = cuda().generate(*p.g, pols, go);
  const auto ll = cuda().loglik(*p.g, pols, ans);
  DecodeOptions comp;
  comp.compacted = true;
  const auto ll_comp = cuda().loglik(*p.g, pols, ans, comp);
  for (size_t k : {size_t(2), size_t(5)}) {
    INFO("policy " << k);
    const auto alone = cuda().generate(*p.g, std::span(&pols[k], 1), go);
    CHECK(alone[0].tokens == batch[k].tokens);
    const auto ll_alone = cuda().loglik(*p.g, std::span(&pols[k], 1), ans);
    CHECK(std::memcmp(ll_alone[0].token_logp.data(), ll[k].token_logp.data(), ans.size() * sizeof(float)) == 0);
  }
  for (size_t k = 0; k < pols.size(); ++k)
    CHECK(std::memcmp(ll_comp[k].token_logp.data(), ll[k].token_logp.data(), ans.size() * sizeof(float)) == 0);
}

struct Case {
  std::string name;
  std::function<void()> run;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (int i = 0; i < kPrompts; ++i) {
    const std::string pn = "prompt " + std::to_string(i) + ": ";
    out.push_back({pn + "prefill logits", [i] { prefill_case(i); }});
    for (ScorerKind k : {ScorerKind::SnapKV, ScorerKind::AhaKV, ScorerKind::Streaming, ScorerKind::TaskKV})
      out.push_back({pn + "rank " + scorer_name(k), [i, k] { rank_case(i, k); }});
    for (bool comp : {false, true}) {
      const std::string layout = comp ? " (compacted)" : " (index view)";
      out.push_back({pn + "generate" + layout, [i, comp] { generate_case(i, comp); }});
      out.push_back({pn + "loglik" + layout, [i, comp] { loglik_case(i, comp); }});
    }
    out.push_back({pn + "batch-invariant bits", [i] { invariance_case(i); }});
  }
  return out;
}

}  // namespace

TEST_CASE("cuda backend: parity with the CPU backend on the default model", "[cuda-backend]") {
  const auto t0 = std::chrono::steady_clock::now();
  (void)cuda();
  for (const Case& c : cases()) {
    SECTION(c.name) {
      c.run();
      ++tally().cases;
    }
  }
  tally().seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const BackendCounters bc = cuda().counters();
  std::printf("backend parity: %d cases ran %s in %.1f s (worst |error|/tolerance %.3f: %s); device peak %.1f MiB\n",
              tally().cases, kMode, tally().seconds, tally().worst, tally().worst_what.c_str(),
              double(bc.peak_device_bytes) / (1 << 20));
}

// ---- one arena across records ----------------------------------------------------------------

namespace {

// One record's work as the evaluator does it: prefill, rank, greedy and teacher-forced decoding
// of the policy mix in both cache layouts; the state dies at the end.
void run_record(Backend& b, int i) {
  const std::vector<int32_t> tokens = default_model().tok.encode(kTexts[i]);
  auto s = b.prefill(tokens);
  const Rankings rk = b.rank(*s, ScorerConfig{});
  const auto pols = policy_mix(rk, b.model().cfg.n_kv_players(), int(tokens.size()), 17 + i);
  GenOptions go;
  go.max_new = 3;
  DecodeOptions comp;
  comp.compacted = true;
  b.generate(*s, pols, go);
  b.loglik(*s, pols, answer_tokens(i));
  b.loglik(*s, pols, answer_tokens(i), comp);
}

}  // namespace

TEST_CASE("cuda backend: one device arena reused across records, peak device memory reported",
          "[cuda-backend][arena]") {
  Backend& b = cuda();
  const size_t states_before = b.counters().state_bytes;  // other cases' prompts, in one process
  run_record(b, 1);  // the longer prompt first: it sizes the arena
  const BackendCounters first = b.counters();
  CHECK(first.state_bytes == states_before);                       // the state released its blocks
  CHECK(first.peak_device_bytes > first.weight_bytes);             // weights + a record's state and scratch
  CHECK(first.device_reserved_bytes >= first.peak_device_bytes);
  run_record(b, 0);
  run_record(b, 1);
  const BackendCounters later = b.counters();
  // Every request of the later records was a reuse: nothing more was taken from the device, and
  // the same record again places the same blocks (first fit by address), so the peak is equal.
  CHECK(later.device_reserved_bytes == first.device_reserved_bytes);
  CHECK(later.peak_device_bytes == first.peak_device_bytes);
  CHECK(later.prefills == first.prefills + 2);
  std::printf("arena: weights %.1f MiB, peak %.1f MiB, reserved %.1f MiB after 3 records\n",
              double(later.weight_bytes) / (1 << 20), double(later.peak_device_bytes) / (1 << 20),
              double(later.device_reserved_bytes) / (1 << 20));
}

// ---- Llama-3.1 rope scaling and the half-split pairs ------------------------------------------

namespace {

// The default model as a Hugging Face folder (tests/hf_from_gguf.h: bf16 safetensors, Q/K rows
// in the half-split layout) with Llama-3.1's rope scaling added to its config.json; the other
// files are links to the plain folder's.
std::string llama3_scaled_folder() {
  namespace fs = std::filesystem;
  const fs::path plain = hf_test::write_hf_folder(default_model_path(), std::string(COKV_BUILD_DIR) + "/test-hf-default");
  const fs::path dir = fs::path(COKV_BUILD_DIR) / ("test-hf-default-llama3." + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(plain))
    if (e.path().filename() != "config.json") fs::create_symlink(fs::absolute(e.path()), dir / e.path().filename());
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(plain / "config.json"));
  // original_max_position_embeddings 32: wavelengths above 32 positions are scaled 8x, those
  // between 8 and 32 blended, so most of the 32 frequencies of a head change.
  cfg["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 32}};
  std::ofstream(dir / "config.json") << cfg.dump(1);
  return dir.string();
}

}  // namespace

TEST_CASE("cuda backend: Llama-3.1 rope scaling and half-split RoPE pairs reach the kernels", "[cuda-backend][rope]") {
  const std::string dir = llama3_scaled_folder();
  auto host = Model::load(dir, Model::Numerics::Fp32, WeightMode::Bf16);
  REQUIRE(host->cfg.rope_style == RopeStyle::Neox);
  REQUIRE(int(host->cfg.rope_freq_factors.size()) == host->cfg.rope_dim / 2);
  CpuBackend ref_cpu(*host);
  Backend& ref = ref_cpu;  // (the base class declares the default arguments)
  BackendOptions o;
  o.kind = kKind;
  o.model_path = dir;
  auto dev = open_backend(o);
  REQUIRE(dev->model().cfg.rope_freq_factors == host->cfg.rope_freq_factors);
  std::filesystem::remove_all(dir);  // the links only; both backends have loaded

  // The tolerance is the GGUF case's (prompt_case: same model and prompt, the same roundings of
  // the activations); the folder's weights are bf16 already, so there is no weight rounding here
  // to measure it by.
  Prompt& p = prompt(0);
  const auto s_ref = ref.prefill(p.tokens), s_dev = dev->prefill(p.tokens);
  within_delta("scaled prefill logits", s_dev->last_logits(), s_ref->last_logits(),
               max_diff(p.c->last_logits(), p.w->last_logits()));
  // The scaling is not a detail the tolerance hides: the unscaled model is far outside it.
  const double moved = max_diff(s_ref->last_logits(), p.w->last_logits());
  const double tol = kSpread * max_diff(p.c->last_logits(), p.w->last_logits());
  INFO("rope scaling moves the logits by " << moved << "; tolerance " << tol);
  CHECK(moved > 4 * tol);

  // Decoding rotates the generated rows at their own positions with the same frequencies.
  const Rankings rk = ref.rank(*s_ref, ScorerConfig{});
  const Policy all{BudgetVector::all(host->cfg.n_kv_players()), &rk, rk.window};
  const auto ans = answer_tokens(0);
  const auto l_ref = ref.loglik(*s_ref, std::span(&all, 1), ans), l_dev = dev->loglik(*s_dev, std::span(&all, 1), ans);
  const auto lw = cpu_bf16().loglik(*p.w, std::span(&all, 1), ans), lc = cpu().loglik(*p.c, std::span(&all, 1), ans);
  within_delta("scaled token log-probabilities", l_dev[0].token_logp, l_ref[0].token_logp,
               max_diff(lc[0].token_logp, lw[0].token_logp));
}
