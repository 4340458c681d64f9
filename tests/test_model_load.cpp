// Config and weight loading: tiny synthetic llama/qwen2 files (tests/gguf_writer.h) check the
// tensor-name table, the [in, out] -> Mat(out, in) mapping and every config/weights error; the
// real default model checks its config, shapes, and every tensor against gguf-py
// (tests/data/model, scripts/dev/make_model_golden.py). Run: ./build/cokv-tests "[model]"
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/paths.h"
#include "gguf_writer.h"
#include "model/config.h"
#include "model/dequant.h"
#include "model/gguf.h"
#include "model/weights.h"

using namespace cokv;
using gguf_test::Writer;

namespace {

// A tiny llama-style model: E=8, H=2, G=1, D=4, F=12, V=5, 2 layers; tensor values encode
// their own position so layout mistakes show.
struct Tiny {
  std::string arch = "llama";
  int n_layers = 2, hidden = 8, heads = 2, kv_heads = 1, ffn = 12, vocab = 5;
  bool bias = false, output = true;

  static std::vector<float> iota(size_t n, float base) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = base + static_cast<float>(i);
    return v;
  }
  void add(Writer& w, const std::string& name, std::vector<uint64_t> ne, float base) const {
    size_t n = 1;
    for (auto d : ne) n *= d;
    w.tensor_f32(name, std::move(ne), iota(n, base));
  }
  Writer writer() const {
    Writer w;
    const std::string p = arch + ".";
    w.kv_str("general.architecture", arch).kv_str("general.name", "tiny");
    w.kv_u32(p + "block_count", n_layers).kv_u32(p + "embedding_length", hidden);
    w.kv_u32(p + "feed_forward_length", ffn).kv_u32(p + "attention.head_count", heads);
    w.kv_u32(p + "attention.head_count_kv", kv_heads).kv_u32(p + "context_length", 64);
    w.kv_f32(p + "attention.layer_norm_rms_epsilon", 1e-6f).kv_f32(p + "rope.freq_base", 5000.f);
    std::vector<std::string> toks;
    for (int i = 0; i < vocab; ++i) toks.push_back(std::to_string(i) + "t");  // ("t" + s trips a GCC 12 -Wrestrict false positive)
    w.kv_strs("tokenizer.ggml.tokens", toks);
    const uint64_t E = hidden, Q = static_cast<uint64_t>(heads) * (hidden / heads),
                   K = static_cast<uint64_t>(kv_heads) * (hidden / heads), F = ffn, V = vocab;
    add(w, "token_embd.weight", {E, V}, 0);
    add(w, "output_norm.weight", {E}, 100);
    if (output) add(w, "output.weight", {E, V}, 1000);
    for (int il = 0; il < n_layers; ++il) {
      const std::string b = "blk." + std::to_string(il) + ".";
      const float o = 10000.f * (il + 1);
      add(w, b + "attn_norm.weight", {E}, o);
      add(w, b + "attn_q.weight", {E, Q}, o + 100);
      add(w, b + "attn_k.weight", {E, K}, o + 200);
      add(w, b + "attn_v.weight", {E, K}, o + 300);
      if (bias) {
        add(w, b + "attn_q.bias", {Q}, o + 400);
        add(w, b + "attn_k.bias", {K}, o + 500);
        add(w, b + "attn_v.bias", {K}, o + 600);
      }
      add(w, b + "attn_output.weight", {Q, E}, o + 700);
      add(w, b + "ffn_norm.weight", {E}, o + 800);
      add(w, b + "ffn_gate.weight", {E, F}, o + 900);
      add(w, b + "ffn_up.weight", {E, F}, o + 1100);
      add(w, b + "ffn_down.weight", {F, E}, o + 1300);
    }
    return w;
  }
};

GgufFile parse(const Writer& w) { return GgufFile::from_buffer(w.build(), "tiny.gguf"); }

void expect_config_error(const Writer& w, std::vector<std::string> needles) {
  GgufFile f = parse(w);
  needles.push_back("tiny.gguf");
  try {
    config_from_gguf(f);
    FAIL("no error");
  } catch (const Error& e) {
    INFO("message: " << e.what());
    for (const auto& n : needles) CHECK(std::string(e.what()).find(n) != std::string::npos);
  }
}

void expect_weights_error(const Writer& w, std::vector<std::string> needles) {
  GgufFile f = parse(w);
  ModelConfig c = config_from_gguf(f);
  needles.push_back("tiny.gguf");
  try {
    load_weights(f, c);
    FAIL("no error");
  } catch (const Error& e) {
    INFO("message: " << e.what());
    for (const auto& n : needles) CHECK(std::string(e.what()).find(n) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("config: tiny llama file", "[model]") {
  Tiny t;
  GgufFile f = parse(t.writer());
  ModelConfig c = config_from_gguf(f);
  CHECK(c.arch == "llama");
  CHECK(c.name == "tiny");
  CHECK(c.n_layers == 2);
  CHECK(c.hidden == 8);
  CHECK(c.n_heads == 2);
  CHECK(c.n_kv_heads == 1);
  CHECK(c.head_dim == 4);
  CHECK(c.ffn == 12);
  CHECK(c.n_vocab == 5);
  CHECK(c.n_ctx_train == 64);
  CHECK(c.rope_dim == 4);  // default head_dim
  CHECK(c.rope_base == 5000.f);
  CHECK(c.norm_eps == 1e-6f);
  CHECK(c.rope_style == RopeStyle::Norm);
  CHECK_FALSE(c.qkv_bias);
  CHECK_FALSE(c.tied_embeddings);
  CHECK(c.group_size() == 2);
  CHECK(c.n_kv_players() == 2);
}

TEST_CASE("config: qwen2 flags, defaults and key_length", "[model]") {
  Tiny t;
  t.arch = "qwen2";
  t.bias = true;
  t.output = false;
  Writer w = t.writer();
  w.kv_u32("qwen2.attention.key_length", 4).kv_u32("qwen2.rope.dimension_count", 2);
  ModelConfig c = config_from_gguf(parse(w));
  CHECK(c.arch == "qwen2");
  CHECK(c.rope_style == RopeStyle::Neox);
  CHECK(c.qkv_bias);
  CHECK(c.tied_embeddings);
  CHECK(c.head_dim == 4);
  CHECK(c.rope_dim == 2);

  // head_count_kv and freq_base absent: defaults (= head_count, 10000).
  Writer m;
  m.kv_str("general.architecture", "llama");
  m.kv_u32("llama.block_count", 1).kv_u32("llama.embedding_length", 8).kv_u32("llama.feed_forward_length", 4);
  m.kv_u32("llama.attention.head_count", 2).kv_u32("llama.context_length", 16);
  m.kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f).kv_u32("llama.vocab_size", 7);
  ModelConfig d = config_from_gguf(GgufFile::from_buffer(m.build(), "min.gguf"));
  CHECK(d.n_kv_heads == 2);
  CHECK(d.rope_base == 10000.f);
  CHECK(d.n_vocab == 7);  // from vocab_size when there is no token list
  CHECK(d.name == "min");  // file stem when general.name is absent
}

TEST_CASE("config: errors name the file and the key", "[model]") {
  {
    Tiny t;
    t.arch = "gpt2";
    expect_config_error(t.writer(), {"general.architecture", "llama", "qwen2", "\"gpt2\""});
  }
  {
    Tiny t;
    t.kv_heads = 3;  // 2 heads are not divisible into 3 groups
    expect_config_error(t.writer(), {"llama.attention.head_count_kv", "divisor", "got 3"});
  }
  {
    Tiny t;
    t.n_layers = 0;
    expect_config_error(t.writer(), {"llama.block_count", "positive", "got 0"});
  }
  {
    Tiny t;
    t.heads = 3;  // 8 is not a multiple of 3
    t.kv_heads = 1;
    expect_config_error(t.writer(), {"llama.embedding_length", "multiple of llama.attention.head_count"});
  }
  {
    Writer w;
    w.kv_str("general.architecture", "llama");
    expect_config_error(w, {"llama.block_count", "missing"});
  }
  {
    Writer w;
    w.kv_u32("general.architecture", 1);
    expect_config_error(w, {"general.architecture", "expected a string, got u32"});
  }
  {
    Tiny t;
    Writer w = t.writer();
    w.kv_u32("llama.rope.dimension_count", 6);
    expect_config_error(w, {"llama.rope.dimension_count", "<= head_dim (4)", "got 6"});
  }
  {
    Tiny t;
    Writer w = t.writer();
    w.kv_u32("llama.attention.value_length", 8);
    expect_config_error(w, {"llama.attention.value_length", "key length 4"});
  }
}

TEST_CASE("weights: tiny file maps ne [in, out] to Mat(out, in)", "[model]") {
  Tiny t;
  GgufFile f = parse(t.writer());
  ModelConfig c = config_from_gguf(f);
  Weights w = load_weights(f, c);
  REQUIRE(w.layers.size() == 2);
  CHECK(w.tok_embd.rows() == 5);
  CHECK(w.tok_embd.cols() == 8);
  CHECK(w.tok_embd(3, 2) == 3 * 8 + 2);  // row r of the Mat is ggml row r
  CHECK(w.out_norm.size() == 8);
  CHECK(w.out_norm(7) == 107);
  CHECK(w.output(4, 7) == 1000 + 4 * 8 + 7);
  CHECK(&w.lm_head() == &w.output);
  const LayerWeights& l1 = w.layers[1];
  CHECK(l1.wq.rows() == 8);
  CHECK(l1.wq.cols() == 8);
  CHECK(l1.wk.rows() == 4);
  CHECK(l1.wk.cols() == 8);
  CHECK(l1.wk(3, 5) == 20200 + 3 * 8 + 5);
  CHECK(l1.wv(0, 1) == 20301);
  CHECK(l1.wo.rows() == 8);
  CHECK(l1.wo(1, 0) == 20700 + 8);
  CHECK(l1.w_gate.rows() == 12);
  CHECK(l1.w_gate(11, 7) == 20900 + 11 * 8 + 7);
  CHECK(l1.w_up(0, 0) == 21100);
  CHECK(l1.w_down.rows() == 8);
  CHECK(l1.w_down.cols() == 12);
  CHECK(l1.w_down(7, 11) == 21300 + 7 * 12 + 11);
  CHECK(l1.attn_norm(2) == 20002);
  CHECK(l1.ffn_norm(3) == 20803);
  CHECK(l1.bq.size() == 0);
  CHECK(w.layers[0].wq(0, 0) == 10100);
}

TEST_CASE("weights: qwen2 biases and tied head", "[model]") {
  Tiny t;
  t.arch = "qwen2";
  t.bias = true;
  t.output = false;
  GgufFile f = parse(t.writer());
  ModelConfig c = config_from_gguf(f);
  Weights w = load_weights(f, c);
  CHECK(w.output.size() == 0);
  CHECK(&w.lm_head() == &w.tok_embd);
  CHECK(w.layers[0].bq.size() == 8);
  CHECK(w.layers[0].bk.size() == 4);
  CHECK(w.layers[0].bv.size() == 4);
  CHECK(w.layers[1].bk(3) == 20503);
}

TEST_CASE("weights: errors name the file and the tensor", "[model]") {
  {
    Tiny t;
    Writer w = t.writer();
    w.tensors.erase(w.tensors.begin() + 4);  // blk.0.attn_q.weight
    expect_weights_error(w, {"tensor 'blk.0.attn_q.weight'", "missing"});
  }
  {
    Tiny t;
    Writer w = t.writer();
    w.tensors[3].ne = {4, 8};  // blk.0.attn_norm.weight as a matrix
    w.tensors[3].data.resize(4 * 32);
    expect_weights_error(w, {"tensor 'blk.0.attn_norm.weight' shape", "ne [8]", "got ne [4, 8]"});
  }
  {
    Tiny t;
    Writer w = t.writer();
    w.tensors[5].ne = {4, 8};  // attn_k stored transposed
    expect_weights_error(w, {"tensor 'blk.0.attn_k.weight' shape", "ne [8, 4]", "got ne [4, 8]"});
  }
  {
    Tiny t;
    t.arch = "qwen2";
    t.bias = false;  // qwen2 needs them
    expect_weights_error(t.writer(), {"tensor 'blk.0.attn_q.bias'", "missing"});
  }
  {
    Tiny t;
    t.bias = true;  // llama with biases: cokv would ignore them
    expect_weights_error(t.writer(), {"tensor 'blk.0.attn_q.bias'", "no q/k/v bias"});
  }
  {
    Tiny t;
    Writer w = t.writer();
    w.tensor_f32("blk.0.attn_rot_embd", {2}, {1, 2});
    expect_weights_error(w, {"1 unused: blk.0.attn_rot_embd"});
  }
  {
    Tiny t;
    Writer w = t.writer();
    w.tensors[1].type = 16;  // output_norm as IQ2_XXS (block 256 does not divide 8)
    CHECK_THROWS_WITH(GgufFile::from_buffer(w.build(), "tiny.gguf"), Catch::Contains("multiple of 256"));
  }
}

// ---- the real default model ----------------------------------------------------------------

namespace {

struct Loaded {
  GgufFile file;
  ModelConfig cfg;
  Weights w;
  double open_s, load_s;
};

// Loaded once for all test cases below (about a second).
const Loaded& default_model() {
  static const Loaded m = [] {
    const std::string path = default_model_path();
    INFO("default model " << path << " (scripts/setup fetches it)");
    REQUIRE(std::filesystem::exists(path));
    auto t0 = std::chrono::steady_clock::now();
    GgufFile f = GgufFile::open(path);
    ModelConfig c = config_from_gguf(f);
    auto t1 = std::chrono::steady_clock::now();
    Weights w = load_weights(f, c);
    auto t2 = std::chrono::steady_clock::now();
    return Loaded{std::move(f), c, std::move(w), std::chrono::duration<double>(t1 - t0).count(),
                  std::chrono::duration<double>(t2 - t1).count()};
  }();
  return m;
}

// Flat data of a tensor by its GGUF name.
const float* tensor_data(const Weights& w, const std::string& name, int64_t& n) {
  auto mat = [&](const WeightMatrix& m) { n = m.size(); return m.f32().data(); };
  auto vec = [&](const auto& v) { n = v.size(); return v.data(); };
  if (name == "token_embd.weight") return mat(w.tok_embd);
  if (name == "output_norm.weight") return vec(w.out_norm);
  if (name == "output.weight") return mat(w.output);
  REQUIRE(name.rfind("blk.", 0) == 0);
  const size_t dot = name.find('.', 4);
  const int il = std::stoi(name.substr(4, dot - 4));
  const std::string s = name.substr(dot + 1);
  const LayerWeights& l = w.layers.at(static_cast<size_t>(il));
  if (s == "attn_norm.weight") return vec(l.attn_norm);
  if (s == "attn_q.weight") return mat(l.wq);
  if (s == "attn_k.weight") return mat(l.wk);
  if (s == "attn_v.weight") return mat(l.wv);
  if (s == "attn_output.weight") return mat(l.wo);
  if (s == "ffn_norm.weight") return vec(l.ffn_norm);
  if (s == "ffn_gate.weight") return mat(l.w_gate);
  if (s == "ffn_up.weight") return mat(l.w_up);
  if (s == "ffn_down.weight") return mat(l.w_down);
  FAIL("no field for " << name);
  return nullptr;
}

}  // namespace

TEST_CASE("default model: GGUF header and config", "[model]") {
  const Loaded& m = default_model();
  const GgufFile& f = m.file;
  CHECK(f.version() == 3);
  CHECK(f.alignment() == 32);
  CHECK(f.tensors().size() == 272);
  CHECK(f.metadata().size() == 33);
  CHECK(f.get_string("tokenizer.ggml.model") == "gpt2");
  CHECK(f.get_string_array("tokenizer.ggml.tokens").size() == 49152);
  CHECK(f.get_int_array("tokenizer.ggml.token_type").size() == 49152);
  CHECK(f.get_string_array("tokenizer.ggml.merges").size() == 48900);
  CHECK(f.get_int("tokenizer.ggml.bos_token_id") == 1);
  CHECK(f.tensor("token_embd.weight").type == GgmlType::Q8_0);
  CHECK(f.tensor("blk.0.attn_q.weight").type == GgmlType::Q4_1);
  CHECK(f.tensor("blk.0.attn_norm.weight").type == GgmlType::F32);
  CHECK(f.tensor("token_embd.weight").offset == 0);

  const ModelConfig& c = m.cfg;
  CHECK(c.arch == "llama");
  CHECK(c.n_layers == 30);
  CHECK(c.n_heads == 9);
  CHECK(c.n_kv_heads == 3);
  CHECK(c.head_dim == 64);
  CHECK(c.hidden == 576);
  CHECK(c.ffn == 1536);
  CHECK(c.n_vocab == 49152);
  CHECK(c.n_ctx_train == 8192);
  CHECK(c.rope_dim == 64);
  CHECK(c.rope_base == 100000.f);
  CHECK(c.norm_eps == Approx(1e-5f));
  CHECK(c.rope_style == RopeStyle::Norm);
  CHECK_FALSE(c.qkv_bias);
  CHECK(c.tied_embeddings);
  CHECK(c.group_size() == 3);
  CHECK(c.n_kv_players() == 90);
}

TEST_CASE("default model: weights equal gguf-py's dequantisation", "[model]") {
  const Loaded& m = default_model();
  const Weights& w = m.w;
  // Load time is reported, not asserted (machines differ): run with -s to see it.
  INFO("default model: open+config " << m.open_s << " s, load_weights " << m.load_s << " s");
  CHECK(m.load_s > 0);
  CHECK(w.tok_embd.rows() == 49152);
  CHECK(w.tok_embd.cols() == 576);
  CHECK(w.output.size() == 0);
  CHECK(w.lm_head().rows() == 49152);
  REQUIRE(w.layers.size() == 30);
  for (const auto& l : w.layers) {
    CHECK((l.wq.rows() == 576 && l.wq.cols() == 576));
    CHECK((l.wk.rows() == 192 && l.wk.cols() == 576));
    CHECK((l.wv.rows() == 192 && l.wv.cols() == 576));
    CHECK((l.wo.rows() == 576 && l.wo.cols() == 576));
    CHECK((l.w_gate.rows() == 1536 && l.w_gate.cols() == 576));
    CHECK((l.w_up.rows() == 1536 && l.w_up.cols() == 576));
    CHECK((l.w_down.rows() == 576 && l.w_down.cols() == 1536));
    CHECK((l.attn_norm.size() == 576 && l.ffn_norm.size() == 576));
    CHECK(l.bq.size() == 0);
  }

  std::ifstream gf(std::string(COKV_SOURCE_DIR) + "/tests/data/model/smollm2_135m_q4_1.json");
  REQUIRE(gf.good());
  nlohmann::json g = nlohmann::json::parse(gf);
  REQUIRE(g["tensors"].size() == 272);
  for (const auto& t : g["tensors"]) {
    const std::string name = t["name"];
    INFO("tensor " << name);
    const GgufTensorInfo& info = m.file.tensor(name);
    CHECK(t["type"].get<std::string>() == ggml_type_name(info.type));
    CHECK(t["ne"].get<std::vector<int64_t>>() == info.ne);
    int64_t n = 0;
    const float* x = tensor_data(w, name, n);
    REQUIRE(n == info.n_elements());
    // Samples: decoding is exact, so values must match bit for bit.
    for (const auto& s : t["samples"]) {
      const int64_t i = s[0];
      CHECK(x[i] == s[1].get<float>());
    }
    // Whole-tensor checksums in double: summation order differs from numpy's, so allow the
    // forward error bound n * eps * sum|x| (with sum|x| <= sqrt(n * sum x^2)).
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; ++i) {
      sum += x[i];
      sq += double(x[i]) * x[i];
    }
    const double eps = std::ldexp(1.0, -52) * static_cast<double>(n);
    CHECK(std::abs(sum - t["sum"].get<double>()) <= eps * std::sqrt(static_cast<double>(n) * sq) + 1e-300);
    CHECK(std::abs(sq - t["sum_sq"].get<double>()) <= eps * sq + 1e-300);
  }
}
