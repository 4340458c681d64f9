// Parity with llama.cpp (an independent implementation) on the default model, against golden
// data in tests/data/reference/ (made by scripts/dev/make_reference.py; see its README).
//
// Two references:
// - logits_f32.json: llama.cpp on an F32 copy of the same weights (scripts/dev/gguf_to_f32.py)
//   with an F32 KV cache, i.e. continuous arithmetic. Our Fp32 numerics compute the same
//   function: measured max |logit difference| over the whole vocabulary 2e-5..7e-5 on all eight
//   prompts (352 tokens the longest). Checked tightly: every top-20 logit within kF32Noise and
//   the same greedy continuation up to the first step whose reference top-2 gap is below kF32Tie.
// - logits.json: llama.cpp on the Q4_1 file itself, the way people run it. Its CPU path rounds
//   every matmul input to 8-bit blocks (Q8_1 for Q4_1 weights, Q8_0 for the Q8_0 LM head) and
//   that rounding is discontinuous: a value whose x*127/amax lies near k+0.5 flips by one step.
//   On this model one step is often large (in 10% of blocks the largest |x| is >= 19x the
//   median, up to 480x), and a few flips move the logits by tenths. Measured with
//   scripts/dev/q8_sensitivity.py, an independent numpy forward whose ops reproduced
//   llama.cpp's to ~1e-7 when fed llama.cpp's own inputs (its eval callback): jittering the
//   RMSNorm outputs by 1e-7 (relative, ~1 float ulp) moves the top-20 logits by 0.32-0.64
//   (plain_fox, plain_code, chat_france, 3 seeds each; 1e-6: 0.21-0.75); the same jitter
//   without the 8-bit rounding moves them by < 0.005 (1e-6: < 0.015). So the Q8 path's logits
//   are reproducible only bit for bit (same SIMD kernels and summation order): the same
//   llama-cpp-python 0.3.36 built again on another x86-64 machine (AVX-512) differs from
//   logits.json by up to 0.49, about as much as we do. That noise, not a bug, is why this
//   comparison needs kNoise; the Ggml numerics (which imitate the rounding) do not shrink it.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/paths.h"
#include "model_fixture.h"
#include "runtime/batch_decode.h"
#include "runtime/prefill.h"

using namespace cokv;

namespace {
nlohmann::json load_reference(const std::string& file = "logits.json") {
  std::ifstream f(std::string(COKV_SOURCE_DIR) + "/tests/data/reference/" + file);
  REQUIRE(f.good());
  return nlohmann::json::parse(f);
}
}  // namespace

// Against logits.json (llama.cpp's 8-bit activation rounding): max |logit difference| over the
// top-20 is 0.76 (fp32) / 0.55 (ggml emulation), within the 0.32-0.64 that a 1-ulp jitter
// causes inside that rounding (see the top of the file), so it cannot be tightened; reference
// top-2 gaps of 0.35 (chat_france, fp32) and 0.16-0.26 (greedy steps of plain_story,
// chat_system, chat_multiturn) flip under it.
constexpr double kNoise = 0.4;

// Against logits_f32.json (continuous arithmetic on both sides): measured max |difference|
// 7e-5 over the whole vocabulary; the tolerance leaves 10x for other CPUs' summation orders.
constexpr double kF32Noise = 1e-3;
// Greedy continuations must agree up to the first step whose reference top-2 gap is below this
// (a near tie): 10x the logit tolerance.
constexpr double kF32Tie = 0.01;

TEST_CASE("Fp32 logits and greedy continuations match llama.cpp on an F32 copy of the weights",
          "[parity][model]") {
  const Model& m = cokv_test::default_model();  // Fp32 numerics
  const nlohmann::json ref = load_reference("logits_f32.json");
  REQUIRE(ref["kv_cache_type"] == "f32");
  REQUIRE(ref["prompts"].size() >= 6);
  double max_err = 0;
  size_t checked_steps = 0;
  for (const auto& pr : ref["prompts"]) {
    const std::string name = pr["name"];
    INFO("prompt " << name);
    const std::vector<int32_t> ids = pr["prompt_ids"].get<std::vector<int32_t>>();
    REQUIRE(m.tok.encode(pr["text"].get<std::string>()) == ids);
    PromptKV p = prefill(m, ids);
    for (const auto& e : pr["top_logits"]) {
      const int id = e[0].get<int>();
      INFO("token " << id);
      const double err = std::abs(p.logits[id] - e[1].get<double>());
      max_err = std::max(max_err, err);
      CHECK(err < kF32Noise);
    }
    const auto& top = pr["top_logits"];
    if (top[0][1].get<double>() - top[1][1].get<double>() >= kF32Tie) REQUIRE(argmax(p.logits) == top[0][0].get<int>());

    const auto& greedy = pr["greedy"];
    Policy full{BudgetVector::all(m.cfg.n_kv_players())};
    GenOptions go;
    go.max_new = int(greedy.size());  // no stop tokens: the reference includes its EOG token
    auto gen = generate(m, p, std::span(&full, 1), go);
    for (size_t i = 0; i < greedy.size(); ++i) {
      INFO("step " << i);
      REQUIRE(i < gen[0].tokens.size());
      const int32_t tok = greedy[i]["token"].get<int32_t>(), runner = greedy[i]["runner_up"].get<int32_t>();
      if (greedy[i]["gap"].get<double>() < kF32Tie) {  // near tie: either, then free to diverge
        REQUIRE((gen[0].tokens[i] == tok || gen[0].tokens[i] == runner));
        break;
      }
      REQUIRE(gen[0].tokens[i] == tok);
      ++checked_steps;
    }
  }
  REQUIRE(checked_steps >= 100);  // 180 measured: the greedy check must not pass vacuously
  WARN("fp32 vs llama.cpp (F32 weights, F32 KV): max |logit difference| over the top-20 = " << max_err
       << "; greedy steps compared: " << checked_steps);
}

TEST_CASE("prompt tokens, top-20 logits and greedy continuations match llama.cpp", "[parity][model]") {
  // fp32 and ggml numerics on fp32 weights, and ggml numerics on the file's own Q4_1/Q8_0 blocks:
  // integer dot products there (runtime/q8_linear.h), llama.cpp's own arithmetic.
  auto [numerics, weights] = GENERATE(std::pair{Model::Numerics::Fp32, WeightMode::Fp32},
                                      std::pair{Model::Numerics::Ggml, WeightMode::Fp32},
                                      std::pair{Model::Numerics::Ggml, WeightMode::File});
  auto owned = Model::load(default_model_path(), numerics, weights);
  const Model& m = *owned;
  const nlohmann::json ref = load_reference();
  double max_err = 0;
  REQUIRE(ref["prompts"].size() >= 6);
  for (const auto& pr : ref["prompts"]) {
    const std::string name = pr["name"];
    INFO("prompt " << name);
    const std::vector<int32_t> ids = m.tok.encode(pr["text"].get<std::string>());
    REQUIRE(ids == pr["prompt_ids"].get<std::vector<int32_t>>());

    PromptKV p = prefill(m, ids);
    std::vector<int> order(p.logits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = int(i);
    std::partial_sort(order.begin(), order.begin() + 20, order.end(),
                      [&](int a, int b) { return p.logits[a] > p.logits[b]; });
    std::set<int> ours(order.begin(), order.begin() + 20), theirs;
    for (const auto& e : pr["top_logits"]) theirs.insert(e[0].get<int>());
    const auto& top = pr["top_logits"];
    if (top[0][1].get<double>() - top[1][1].get<double>() > kNoise) REQUIRE(order[0] == top[0][0].get<int>());
    else REQUIRE((order[0] == top[0][0].get<int>() || order[0] == top[1][0].get<int>()));
    int shared = 0;
    for (int t : ours) shared += int(theirs.count(t));
    CHECK(shared >= 18);
    for (const auto& e : top) max_err = std::max(max_err, std::abs(p.logits[e[0].get<int>()] - e[1].get<double>()));

    const auto& greedy = pr["greedy"];
    Policy full{BudgetVector::all(m.cfg.n_kv_players())};
    GenOptions go;
    go.max_new = int(greedy.size());  // no stop tokens: the reference includes its EOG token
    auto gen = generate(m, p, std::span(&full, 1), go);
    size_t i = 0;
    for (; i < greedy.size(); ++i) {
      INFO("step " << i);
      REQUIRE(i < gen[0].tokens.size());
      const int32_t tok = greedy[i]["token"].get<int32_t>(), runner = greedy[i]["runner_up"].get<int32_t>();
      if (greedy[i]["gap"].get<double>() < kNoise) {  // near-tie: either, then free to diverge
        REQUIRE((gen[0].tokens[i] == tok || gen[0].tokens[i] == runner));
        break;
      }
      REQUIRE(gen[0].tokens[i] == tok);
    }
  }
  WARN("numerics " << (numerics == Model::Numerics::Ggml ? "ggml" : "fp32") << ", weights " << weight_mode_name(weights)
                   << ": max |logit - llama.cpp| over the top-20 of every prompt = " << max_err);
  CHECK(max_err < 1.0);
}

TEST_CASE("the ChatML capital-of-France question is answered with Paris", "[parity][model]") {
  const Model& m = cokv_test::default_model();
  const std::vector<int32_t> ids = m.tok.encode(m.chat.apply_user("What is the capital of France?"));
  PromptKV p = prefill(m, ids);
  Policy full{BudgetVector::all(m.cfg.n_kv_players())};
  GenOptions go;
  go.max_new = 32;
  go.stop = m.tok.stop_tokens();
  auto gen = generate(m, p, std::span(&full, 1), go);
  const std::string text = m.tok.decode(gen[0].tokens, true);
  INFO(text);
  REQUIRE(text.find("Paris") != std::string::npos);
  REQUIRE(gen[0].stopped);
}
