// Hugging Face folders: config.json reading (both rope formats, defaults, every refusal naming
// its key), tokenizer.json refusals, and weight errors (a shape contradicting config.json, an
// unsupported dtype, a missing or unused tensor, a missing shard), each naming file and tensor.
// The error cases start from the committed tiny folders (tests/data/hf) copied to the build dir.
//   ./build/cokv-tests "[hf]"
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/paths.h"
#include "eval/eval_run.h"
#include "kv/budget_table.h"
#include "model/hf_config.h"
#include "model/hf_tokenizer.h"
#include "model/model_source.h"
#include "model/safetensors.h"
#include "profile/profile_run.h"
#include "runtime/cpu_backend.h"
#include "runtime/model.h"
#include "safetensors_writer.h"

using namespace cokv;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

json llama_config() {
  return json::parse(R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "vocab_size": 100, "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192}, "tie_word_embeddings": false})");
}

void expect_config_error(const json& j, std::vector<std::string> needles) {
  needles.push_back("config.json");
  try {
    config_from_hf_json(j, "x/config.json", "x");
    FAIL("no error");
  } catch (const Error& e) {
    INFO("message: " << e.what());
    for (const auto& n : needles) CHECK(std::string(e.what()).find(n) != std::string::npos);
  }
}

fs::path copy_of(const std::string& folder) {
  const fs::path src = fs::path(COKV_SOURCE_DIR) / "tests/data/hf" / folder;
  const fs::path dst = fs::path(COKV_BUILD_DIR) / "test-tmp" / ("hf_" + folder);
  fs::remove_all(dst);
  fs::create_directories(dst.parent_path());
  fs::copy(src, dst, fs::copy_options::recursive);
  return dst;
}

void edit_json(const fs::path& p, const std::function<void(json&)>& f) {
  json j = json::parse(read_file_bytes(p.string()));
  f(j);
  std::ofstream(p) << j.dump(1);
}

void expect_load_error(const fs::path& dir, std::vector<std::string> needles) {
  try {
    const ModelInfo info = load_model_info(dir.string());
    load_model_weights(dir.string(), info.cfg, WeightMode::Fp32);
    FAIL("no error");
  } catch (const Error& e) {
    INFO("message: " << e.what());
    for (const auto& n : needles) CHECK(std::string(e.what()).find(n) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("config.json: llama with Llama-3.1 scaling, older and transformers-5 rope keys", "[hf]") {
  const ModelConfig c = config_from_hf_json(llama_config(), "x/config.json", "x");
  CHECK(c.arch == "llama");
  CHECK(c.head_dim == 16);
  CHECK(c.n_kv_heads == 2);
  CHECK(c.rope_base == 500000.f);
  CHECK(c.rope_style == RopeStyle::Neox);
  CHECK_FALSE(c.qkv_bias);
  CHECK(c.name == "x");
  // Llama-3.1-8B's rope (head_dim 128, base 5e5, factor 8, original context 8192) against
  // convert_hf_to_gguf.py's formula run in python (float32): the medium band is i = 29..34.
  const auto f = llama3_rope_factors(128, 500000.0, 8.0, 1.0, 4.0, 8192.0);
  const std::vector<double> medium = {1.207484, 1.553415, 2.026313, 2.69453, 3.684253, 5.257327};
  for (int i = 0; i < 64; ++i) {
    INFO("i = " << i);
    const double want = i < 29 ? 1.0 : i > 34 ? 8.0 : medium[size_t(i - 29)];
    CHECK(std::abs(f[size_t(i)] - want) <= 1e-5 * want);
  }
  json v5 = llama_config();
  v5.erase("rope_scaling");
  v5.erase("rope_theta");
  v5["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                           {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  CHECK(config_from_hf_json(v5, "x/config.json", "x").rope_freq_factors == c.rope_freq_factors);
  json lin = llama_config();
  lin["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  CHECK(config_from_hf_json(lin, "x/config.json", "x").rope_freq_factors == std::vector<float>(8, 2.f));
  json plain = llama_config();
  plain.erase("rope_scaling");
  plain.erase("num_key_value_heads");
  plain.erase("rms_norm_eps");
  const ModelConfig p = config_from_hf_json(plain, "x/config.json", "x");
  CHECK(p.rope_freq_factors.empty());
  CHECK(p.n_kv_heads == 4);       // transformers' default: num_attention_heads
  CHECK(p.norm_eps == 1e-6f);     // LlamaConfig's default
}

TEST_CASE("config.json: anything cokv cannot run exactly is refused naming the key", "[hf]") {
  auto with = [](const char* k, json v) {
    json j = llama_config();
    j[k] = v;
    return j;
  };
  expect_config_error(with("model_type", "gemma2"), {"model_type", "llama, mistral or qwen2", "\"gemma2\""});
  expect_config_error(with("architectures", {"LlamaForSequenceClassification"}), {"architectures", "LlamaForCausalLM"});
  expect_config_error(with("attention_bias", true), {"attention_bias", "expected false"});
  expect_config_error(with("mlp_bias", true), {"mlp_bias"});
  expect_config_error(with("hidden_act", "gelu"), {"hidden_act", "silu"});
  expect_config_error(with("partial_rotary_factor", 0.5), {"partial_rotary_factor"});
  expect_config_error(with("num_key_value_heads", 3), {"num_key_value_heads", "divisor of num_attention_heads (4)"});
  expect_config_error(with("hidden_size", -64), {"hidden_size", "positive integer"});
  expect_config_error(with("rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}), {"rope_scaling.rope_type", "\"yarn\""});
  expect_config_error(with("rope_scaling", {{"type", "dynamic"}, {"factor", 4.0}}), {"rope_scaling.type", "\"dynamic\""});
  expect_config_error(with("rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}}), {"low_freq_factor", "missing"});
  json no_hidden = llama_config();
  no_hidden.erase("hidden_size");
  expect_config_error(no_hidden, {"hidden_size", "missing"});
  json q = llama_config();
  q["model_type"] = "qwen2";
  q["architectures"] = {"Qwen2ForCausalLM"};
  q["use_sliding_window"] = true;
  expect_config_error(q, {"use_sliding_window", "not implemented"});
  q["use_sliding_window"] = false;
  q["layer_types"] = {"full_attention", "sliding_attention"};
  expect_config_error(q, {"layer_types", "full_attention"});
  q.erase("layer_types");
  CHECK(config_from_hf_json(q, "x/config.json", "x").qkv_bias);
  json m = llama_config();
  m["model_type"] = "mistral";
  m["architectures"] = {"MistralForCausalLM"};
  m["sliding_window"] = 4096;
  m["head_dim"] = 32;
  const ModelConfig mc = config_from_hf_json(m, "x/config.json", "x");
  CHECK(mc.sliding_window == 4096);
  CHECK(mc.head_dim == 32);
}

TEST_CASE("HF weights: shape against config.json, dtype, missing and unused tensors name file and tensor", "[hf]") {
  {
    const fs::path d = copy_of("llama31_tiny");
    edit_json(d / "config.json", [](json& j) { j["intermediate_size"] = 120; });
    expect_load_error(d, {"model.safetensors", "tensor 'model.layers.0.mlp.gate_proj.weight' shape",
                          "shape [120, 64] (from the config)", "got shape [128, 64]"});
  }
  {  // one tensor's dtype F32 -> I32 (same size, the header keeps its length)
    const fs::path d = copy_of("llama31_tiny");
    std::string bytes = read_file_bytes((d / "model.safetensors").string());
    const size_t at = bytes.find("\"model.norm.weight\":{\"dtype\":\"F32\"");
    REQUIRE(at != std::string::npos);
    bytes.replace(bytes.find("F32", at), 3, "I32");
    write_file_bytes((d / "model.safetensors").string(), bytes);
    expect_load_error(d, {"model.safetensors", "tensor 'model.norm.weight' dtype", "F32, F16 or BF16", "got I32"});
  }
  {  // a tensor cokv has no field for
    const fs::path d = copy_of("qwen2_tiny");
    const auto f = SafetensorsFile::open((d / "model.safetensors").string());
    std::vector<st_test::Tensor> ts;
    for (const auto& t : f.tensors())
      ts.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + (t.end - t.begin))});
    ts.push_back(st_test::f32("model.layers.0.self_attn.o_proj.bias", {48}, std::vector<float>(48, 0.f)));
    st_test::write((d / "model.safetensors").string(), st_test::image(ts));
    expect_load_error(d, {"tensors", "1 unused: model.layers.0.self_attn.o_proj.bias"});
    ts.pop_back();  // and one missing
    ts.erase(std::find_if(ts.begin(), ts.end(), [](auto& t) { return t.name == "model.layers.1.self_attn.k_proj.bias"; }));
    st_test::write((d / "model.safetensors").string(), st_test::image(ts));
    expect_load_error(d, {"tensor 'model.layers.1.self_attn.k_proj.bias'", "missing"});
  }
  {
    const fs::path d = copy_of("mistral_tiny");
    fs::remove(d / "model-00002-of-00003.safetensors");
    expect_load_error(d, {"model.safetensors.index.json", "missing shard", "model-00002-of-00003.safetensors"});
  }
  {
    const fs::path d = copy_of("qwen2_tiny");
    edit_json(d / "config.json", [](json& j) { j["model_type"] = "phi3"; });
    expect_load_error(d, {"config.json", "model_type", "\"phi3\""});
  }
}

TEST_CASE("tokenizer.json: unsupported models and options are refused naming the field", "[hf]") {
  auto expect = [](const std::function<void(json&)>& edit, std::vector<std::string> needles) {
    const fs::path d = copy_of("llama31_tiny");
    edit_json(d / "tokenizer.json", edit);
    needles.push_back("tokenizer.json");
    try {
      tokenizer_spec_from_hf(d.string());
      FAIL("no error");
    } catch (const Error& e) {
      INFO("message: " << e.what());
      for (const auto& n : needles) CHECK(std::string(e.what()).find(n) != std::string::npos);
    }
  };
  expect([](json& j) { j["model"]["type"] = "WordPiece"; }, {"model.type", "\"BPE\"", "WordPiece"});
  expect([](json& j) { j["normalizer"] = {{"type", "Lowercase"}}; }, {"normalizer.type", "Lowercase"});
  expect([](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["type"] = "Whitespace"; }, {"pre_tokenizer.pretokenizers[0].type", "Whitespace"});
  expect([](json& j) { j["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = true; }, {"add_prefix_space"});
  expect([](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed"; }, {"behavior", "Isolated"});
  expect([](json& j) { j["added_tokens"][1]["lstrip"] = true; }, {"added_tokens['<|end_of_text|>'].lstrip"});
  expect([](json& j) { j["model"]["vocab"].erase("a"); }, {"model.vocab", "without gaps"});
  expect([](json& j) { j["pre_tokenizer"] = nullptr; }, {"pre_tokenizer", "neither"});
  expect([](json& j) { j["post_processor"]["processors"][1]["single"].push_back({{"SpecialToken", {{"id", "<|eot_id|>"}}}}); },
         {"post_processor.single", "does not append EOS"});
  expect([](json& j) { j["model"]["merges"][0] = 7; }, {"model.merges"});
  // A merge joining into a text the vocab lacks (Hugging Face refuses it; found by fuzzing).
  expect([](json& j) { j["model"]["merges"][0] = "qqq zzzz"; }, {"model.merges[0]", "\"qqqzzzz\"", "not in it"});
  const fs::path d = copy_of("mistral_tiny");  // SentencePiece-style BPE: the same check
  edit_json(d / "tokenizer.json", [](json& j) { j["model"]["merges"][2] = "qqq zzzz"; });
  CHECK_THROWS_WITH(tokenizer_spec_from_hf(d.string()), Catch::Contains("model.merges[2]") && Catch::Contains("tokenizer.json"));
}

TEST_CASE("folder content hash covers config, tokenizer files and weights", "[hf]") {
  const fs::path d = copy_of("mistral_tiny");
  const std::string manifest = hf_folder_manifest(d.string());
  CHECK(manifest.rfind("cokv.hf-folder.v1\n", 0) == 0);
  for (const char* f : {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                        "model-00001-of-00003.safetensors", "model-00003-of-00003.safetensors"})
    CHECK(manifest.find(std::string("  ") + f + "\n") != std::string::npos);
  const std::string h = model_sha256(d.string());
  CHECK(h.size() == 64);
  CHECK(model_sha256(d.string()) == h);
  edit_json(d / "generation_config.json", [](json& j) { j["eos_token_id"] = 1; });
  CHECK(model_sha256(d.string()) != h);
  CHECK(model_format(d.string()) == ModelFormat::HfFolder);
  CHECK(std::string(model_format_name(ModelFormat::HfFolder)) == "hf-folder");
}

TEST_CASE("memory from config.json alone: Llama-3-8B's published parameter count", "[hf]") {
  const std::string dir = std::string(COKV_SOURCE_DIR) + "/docs/model-configs/llama-3-8b-instruct";
  const ModelConfig c = read_model_config(dir);  // a folder with nothing but config.json
  const WeightMemory m = weight_memory(c);
  CHECK(m.n_params == 8'030'261'248);  // Meta's published count for Llama-3-8B
  const int64_t vectors = int64_t{4096} * (2 * 32 + 1);  // RMSNorm weights, kept fp32
  CHECK(m.fp32_bytes == 4 * m.n_params);
  CHECK(m.bf16_bytes == 2 * (m.n_params - vectors) + 4 * vectors);
  CHECK(m.auto_pick == WeightMode::Bf16);
  CHECK(resolve_weight_mode(WeightMode::Auto, c) == WeightMode::Bf16);
  const std::string r = memory_report(c);
  CHECK(r.find("8.030 B") != std::string::npos);
  CHECK(r.find("256 KiB per token") != std::string::npos);
  const ModelConfig c31 = read_model_config(std::string(COKV_SOURCE_DIR) + "/docs/model-configs/llama-3.1-8b-instruct");
  CHECK(c31.rope_freq_factors.size() == 64);
  CHECK(c31.n_ctx_train == 131072);
}

TEST_CASE("a Hugging Face folder through cokv-profile, cokv-eval and cokv-generate", "[hf][e2e]") {
  const std::string folder = std::string(COKV_SOURCE_DIR) + "/tests/data/hf/llama31_tiny";
  const fs::path out = fs::path(COKV_BUILD_DIR) / "test-tmp" / "hf_e2e";
  fs::remove_all(out);
  profile::ProfileOptions o;
  o.backend.model_path = folder;
  o.backend.weights = WeightMode::Bf16;
  o.longbench_dir = std::string(COKV_SOURCE_DIR) + "/tests/data/profile";
  o.category = "synthetic";
  o.method = profile::ProfileMethod::Baklava;
  o.budgets = {16, 32};
  o.out_dir = (out / "profile").string();
  o.max_length = 96;
  o.max_records = 1;
  o.threads = 1;
  const auto r = profile::run_profile(o, nullptr);
  const BudgetTable t = read_budget_table(r.table_path);
  CHECK(t.model.format == "hf-folder");
  CHECK(t.model.weights == "bf16");
  CHECK(t.model.file_sha256 == model_sha256(folder));
  CHECK(t.model.n_layers == 2);
  CHECK(t.model.n_kv_heads == 2);

  CpuBackend backend(Model::load(folder, Model::Numerics::Fp32, WeightMode::Bf16));
  EvalRunOptions e;
  e.benchmark_dir = std::string(COKV_SOURCE_DIR) + "/tests/data/eval";
  e.dataset_table = configs_dir() + "/longbench.json";
  e.datasets = {"trec"};
  e.methods = {"full"};
  e.budgets = {};
  e.tables = {r.table_path};
  e.split = SplitPart::All;
  e.max_records = 1;
  e.max_new_cap = 4;
  e.max_length = 200;
  e.plots = false;
  e.out_dir = (out / "eval").string();
  const auto sum = run_eval(backend, e, nullptr);
  CHECK(sum.n_predictions_new == 3);  // full + the table's two levels
  const json settings = json::parse(read_file_bytes((out / "eval" / "run.json").string()));
  CHECK(settings["settings"]["weights"] == "bf16");

  const std::string gen = std::string(COKV_BUILD_DIR) + "/cokv-generate";
  INFO("the cokv-generate binary (build the cokv-generate target): " << gen);
  REQUIRE(fs::exists(gen));
  const std::string dry = (out / "dry.txt").string();
  REQUIRE(std::system((gen + " --model '" + folder + "' --dry-run > '" + dry + "'").c_str()) == 0);
  CHECK(read_file_bytes(dry).find("hf-folder; llama, 2 layers") != std::string::npos);
  REQUIRE(std::system((gen + " --model '" + folder + "' --weights bf16 --prompt 'Hello' --max-new 3 > /dev/null").c_str()) == 0);
}
