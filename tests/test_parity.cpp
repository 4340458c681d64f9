// Parity with llama.cpp (an independent implementation) on the default model, against golden
// data in tests/data/reference/ (made by scripts/dev/make_reference.py; see its README).
// llama.cpp multiplies Q4_1 weights with activations quantised to Q8_1 and keeps an f16 KV
// cache, so its logits differ from ours by up to ~0.8 (measured here: the max |difference|
// over the top-20 is printed). The test asks, in both numerics modes
// (Fp32, and Ggml which emulates that rounding), for >= 18 of the top-20 shared, the same
// top-1 wherever llama.cpp's own top-2 gap exceeds that noise (kNoise), and the same greedy
// continuation up to the first step whose reference gap is below kNoise.
// A 0.05 near-tie threshold is below that noise: e.g. plain_code (reference gap 0.117) and
// plain_fox step 6 (gap 0.068) flip between the two modes.
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
nlohmann::json load_reference() {
  std::ifstream f(std::string(COKV_SOURCE_DIR) + "/tests/data/reference/logits.json");
  REQUIRE(f.good());
  return nlohmann::json::parse(f);
}
}  // namespace

// llama.cpp's rounding noise on this model, measured: max |logit difference| over the top-20
// is 0.76 (fp32) / 0.71 (ggml emulation); reference top-2 gaps of 0.35 (chat_france, fp32)
// and 0.16-0.26 (greedy steps of plain_story, chat_system, chat_multiturn) flip under it.
constexpr double kNoise = 0.4;

TEST_CASE("prompt tokens, top-20 logits and greedy continuations match llama.cpp", "[parity][model]") {
  auto numerics = GENERATE(Model::Numerics::Fp32, Model::Numerics::Ggml);
  auto owned = Model::load(default_model_path(), numerics);
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
  WARN("numerics " << (numerics == Model::Numerics::Ggml ? "ggml" : "fp32")
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
