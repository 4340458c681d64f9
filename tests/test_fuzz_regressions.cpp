// Faults in the readers of outside files found by the fuzz targets (fuzz/, scripts/fuzz) or
// while writing them, kept as tests: each input is the smallest form of the fault, and the test
// fails on the code before its fix (under the sanitizer build of scripts/test, where undefined
// behaviour aborts; the error checks fail in any build).
//   ./build/cokv-tests "[fuzz]"
#include <catch2/catch.hpp>

#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "model/hf_config.h"
#include "model/model_source.h"
#include "model/tokenizer.h"
#include "model/weights.h"

using namespace cokv;
using json = nlohmann::json;

namespace {

json tiny_llama() {
  return {{"model_type", "llama"},       {"hidden_size", 64},       {"intermediate_size", 128},
          {"num_hidden_layers", 2},      {"num_attention_heads", 4}, {"num_key_value_heads", 2},
          {"vocab_size", 700},           {"rms_norm_eps", 1e-5}};
}

std::string error_of(const json& j) {
  try {
    (void)config_from_hf_json(j, "dir/config.json", "dir");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// Seen while writing fuzz_hf_config: every dimension may be up to 2^31 - 1, and the weight
// count of such a config overflowed int64 in weight_memory (signed overflow, undefined). Now the count saturates
// and the reader refuses the config naming the file and the dimensions.
TEST_CASE("fuzz: config.json dimensions whose weight count overflows int64 are refused", "[fuzz][hf]") {
  json j = tiny_llama();
  j["hidden_size"] = 2147483644;  // head_dim 2^30 - 2: even
  j["intermediate_size"] = 2147483646;
  j["num_attention_heads"] = 2;
  j["num_key_value_heads"] = 2;
  const std::string e = error_of(j);
  CHECK(e.find("dir/config.json") != std::string::npos);
  CHECK(e.find("model dimensions") != std::string::npos);
  CHECK(e.find("hidden 2147483644") != std::string::npos);

  ModelConfig c = config_from_hf_json(tiny_llama(), "dir/config.json", "dir");
  c.hidden = c.ffn = c.n_vocab = std::numeric_limits<int>::max() - 1;
  c.n_layers = 1000;
  const WeightMemory m = weight_memory(c);  // saturates instead of overflowing
  CHECK(m.fp32_bytes == std::numeric_limits<int64_t>::max());
  CHECK(m.n_params == std::numeric_limits<int64_t>::max());
}

// The largest config the reader accepts still gives a memory report: the KV cache at the
// trained context (layers x KV heads x head size x context) is computed in double.
TEST_CASE("fuzz: the memory report of huge accepted dimensions does not overflow", "[fuzz][hf]") {
  json j = tiny_llama();
  j["num_hidden_layers"] = 1 << 20;
  j["num_attention_heads"] = 1 << 12;
  j["num_key_value_heads"] = 1 << 12;
  j["hidden_size"] = 1 << 12;
  j["head_dim"] = 1 << 14;
  j["max_position_embeddings"] = 2147483647;
  const ModelConfig c = config_from_hf_json(j, "dir/config.json", "dir");
  const std::string r = memory_report(c);
  // 2 x 2^20 x 2^12 x 2^14 x 4 bytes = 2^49 bytes per token = 2^39 KiB.
  CHECK(r.find("549755813888 KiB per token") != std::string::npos);
}

// fuzz_hf_tokenizer (its first 47k inputs, a mutated SentencePiece vocabulary): a token typed as
// a byte whose text is not <0xHH> made std::stoi throw std::invalid_argument out of
// Tokenizer::from_spec, which decodes every piece. Such a token now decodes to nothing, and
// tokenizer.json's byte tokens need two hex digits.
TEST_CASE("fuzz: a byte token whose text is not <0xHH> decodes to nothing", "[fuzz][tokenizer]") {
  TokenizerSpec s;
  s.tokens = {"a", "b", "<0xZZ>", "<0x41>", "<0x-1>"};
  s.token_types = {1, 1, 6, 6, 6};
  s.missing_special_id = -1;
  const Tokenizer t = Tokenizer::from_spec(s);
  CHECK(t.decode({3}) == "A");
  CHECK(t.decode({2}).empty());
  CHECK(t.decode({4}).empty());
  CHECK(t.decode({0, 3, 1}) == "aAb");
}

// fuzz_hf_config (CI of 2026-12-04, after 105,893 inputs): a rope_scaling key of the wrong type
// (here llama3's factor as a string) made the error read the name of a Keys object built from a
// temporary string, already freed (heap-use-after-free under ASan). The error now names the
// nested key.
TEST_CASE("fuzz: a wrongly typed rope_scaling key gives an error naming it", "[fuzz][hf]") {
  json j = tiny_llama();
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", "8"},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  const std::string e = error_of(j);
  CHECK(e.find("dir/config.json (rope_scaling)") != std::string::npos);
  CHECK(e.find("factor") != std::string::npos);
  CHECK(e.find("a number") != std::string::npos);
  j["rope_scaling"] = {{"type", 3}};
  CHECK(error_of(j).find("rope_scaling") != std::string::npos);
}
