// The default GGUF as a Hugging Face folder (tests/hf_from_gguf.h writes it into the build dir
// once: ~270 MB of bf16 safetensors in two shards + config.json + tokenizer.json written from
// the GGUF metadata, Q/K rows permuted back to the half-split layout). Both loaders must give
// identical tokenization on every tokenizer test string and the same logits:
//   GGUF --weights bf16 (dequantised, rounded to bf16; adjacent-pair RoPE on permuted rows)
//   folder --weights bf16 (the stored bf16; half-split RoPE): equal weights, so the logits
//   differ only by summation order (measured 3e-5 over 30 layers), tolerance 1e-4. (The
//   folder's fp32 mode from bf16 storage is checked on the tiny qwen2 checkpoint.)
// (transformers' own GGUF loading of SmolLM2 adds a BOS the file does not ask for and drops
// the digit split; cokv follows llama.cpp, so the comparison is on ids.)
//   ./build/cokv-tests "[hf]"
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/paths.h"
#include "hf_from_gguf.h"
#include "runtime/batch_decode.h"
#include "runtime/model.h"
#include "runtime/prefill.h"

using namespace cokv;
using json = nlohmann::json;

namespace {

json reference_file(const std::string& name) {
  std::ifstream f(std::string(COKV_SOURCE_DIR) + "/tests/data/reference/" + name);
  REQUIRE(f.good());
  return json::parse(f);
}

std::string case_text(const json& c) {
  if (c.contains("text")) return c["text"].get<std::string>();
  std::string s;
  const std::string hex = c["hex"];
  for (size_t i = 0; i + 1 < hex.size(); i += 2) s += char(std::stoi(hex.substr(i, 2), nullptr, 16));
  return s;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::abs(a[i] - b[i])));
  return m;
}

}  // namespace

TEST_CASE("the default model as a Hugging Face folder: same tokens, logits and greedy tokens", "[hf][model]") {
  const std::string gguf = default_model_path();
  REQUIRE(std::filesystem::exists(gguf));
  const auto t0 = std::chrono::steady_clock::now();
  const std::string dir = hf_test::write_hf_folder(gguf, std::string(COKV_BUILD_DIR) + "/test-hf-default");
  const auto t1 = std::chrono::steady_clock::now();
  auto gg = Model::load(gguf, Model::Numerics::Fp32, WeightMode::Bf16);
  auto hf = Model::load(dir, Model::Numerics::Fp32, WeightMode::Bf16);
  const auto t2 = std::chrono::steady_clock::now();
  WARN("hf folder written (or reused) in " << std::chrono::duration<double>(t1 - t0).count() << " s, two loads in "
                                           << std::chrono::duration<double>(t2 - t1).count() << " s");

  const ModelConfig &a = gg->cfg, &b = hf->cfg;
  CHECK(hf->format == ModelFormat::HfFolder);
  CHECK((a.n_layers == b.n_layers && a.n_heads == b.n_heads && a.n_kv_heads == b.n_kv_heads && a.head_dim == b.head_dim));
  CHECK((a.hidden == b.hidden && a.ffn == b.ffn && a.n_vocab == b.n_vocab && a.n_ctx_train == b.n_ctx_train));
  CHECK((a.rope_base == b.rope_base && a.norm_eps == b.norm_eps && a.tied_embeddings == b.tied_embeddings));
  CHECK(a.rope_style == RopeStyle::Norm);
  CHECK(b.rope_style == RopeStyle::Neox);
  CHECK(hf->w.layers[3].w_up.type() == GgmlType::BF16);

  // Tokenizer: every case of tokens.json (llama.cpp's ids), with and without special parsing.
  const json tokens = reference_file("tokens.json");
  REQUIRE(tokens["cases"].size() >= 90);
  for (const auto& c : tokens["cases"]) {
    INFO("case " << c["name"].get<std::string>());
    const std::string s = case_text(c);
    const auto ids = hf->tok.encode(s);
    CHECK(ids == c["ids"].get<std::vector<int32_t>>());
    CHECK(ids == gg->tok.encode(s));
    CHECK(hf->tok.encode(s, false, false) == gg->tok.encode(s, false, false));
    CHECK(hf->tok.decode(ids) == gg->tok.decode(ids));
  }
  CHECK(hf->tok.bos() == gg->tok.bos());
  CHECK(hf->tok.eos() == gg->tok.eos());
  CHECK(hf->tok.add_bos_default() == gg->tok.add_bos_default());
  CHECK(hf->tok.is_stop(gg->tok.eos()));
  CHECK(hf->chat.style == gg->chat.style);
  CHECK(hf->chat.default_system == gg->chat.default_system);

  // Logits at the last prompt position over the whole vocabulary: the parity prompts, plus 96
  // tokens of the long one so the bf16 Gemm path (>= 64 rows) runs too.
  const json ref = reference_file("logits_f32.json");
  double err = 0;
  int n_prompts = 0;
  for (const auto& pr : ref["prompts"]) {
    auto ids = pr["prompt_ids"].get<std::vector<int32_t>>();
    if (ids.size() > 96) ids.resize(96);
    INFO("prompt " << pr["name"].get<std::string>() << " (" << ids.size() << " tokens)");
    CHECK(hf->tok.encode(pr["text"].get<std::string>()) == pr["prompt_ids"].get<std::vector<int32_t>>());
    const PromptKV pg = prefill(*gg, ids), ph = prefill(*hf, ids);
    err = std::max(err, max_diff(pg.logits, ph.logits));
    ++n_prompts;
    if (n_prompts <= 3) {  // decode (row-stable bf16 kernels, embedding rows) agrees too
      Policy full{BudgetVector::all(a.n_kv_players())};
      GenOptions go;
      go.max_new = 8;
      CHECK(generate(*gg, pg, std::span(&full, 1), go)[0].tokens == generate(*hf, ph, std::span(&full, 1), go)[0].tokens);
    }
  }
  CHECK(n_prompts >= 6);
  CHECK(err <= 1e-4);
  WARN("GGUF vs HF folder, both bf16: max |logit difference| " << err);
}
