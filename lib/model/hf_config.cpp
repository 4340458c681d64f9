// config.json -> ModelConfig (see hf_config.h). Defaults are transformers' LlamaConfig /
// MistralConfig / Qwen2Config defaults, so a file written by transformers reads the same here.
#include "model/hf_config.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/error.h"
#include "core/file_bytes.h"
#include "model/weights.h"

namespace cokv {

namespace {

using json = nlohmann::json;

struct Family {
  const char* model_type;
  const char* architecture;  // the architectures[0] transformers writes
  bool qkv_bias;
  int default_ctx;
  int default_vocab;
};
const Family kFamilies[] = {
    {"llama", "LlamaForCausalLM", false, 2048, 32000},
    {"mistral", "MistralForCausalLM", false, 131072, 32000},
    {"qwen2", "Qwen2ForCausalLM", true, 32768, 151936},
};
constexpr const char* kSupported = "llama, mistral or qwen2";

// Typed access to config.json keys; every error names the file and the key. `where` is kept
// by value: a nested object's is built on the spot ("config.json (rope_scaling)").
class Keys {
 public:
  Keys(const json& j, std::string where) : j_(j), where_(std::move(where)) {}
  bool has(const char* k) const { return j_.contains(k) && !j_[k].is_null(); }
  int positive_int(const char* k) const {
    if (!has(k)) fail(where_, k, "a positive integer", "missing");
    return positive_int_value(k, j_[k]);
  }
  int positive_int(const char* k, int dflt) const { return has(k) ? positive_int_value(k, j_[k]) : dflt; }
  double number(const char* k, double dflt) const {
    if (!has(k)) return dflt;
    if (!j_[k].is_number()) fail(where_, k, "a number", j_[k].dump());
    return j_[k].get<double>();
  }
  bool boolean(const char* k, bool dflt) const {
    if (!has(k)) return dflt;
    if (!j_[k].is_boolean()) fail(where_, k, "true or false", j_[k].dump());
    return j_[k].get<bool>();
  }
  std::string string(const char* k, const std::string& dflt) const {
    if (!has(k)) return dflt;
    if (!j_[k].is_string()) fail(where_, k, "a string", j_[k].dump());
    return j_[k].get<std::string>();
  }
  int positive_int_value(const std::string& k, const json& v) const {
    if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > std::numeric_limits<int>::max())
      fail(where_, k, "a positive integer below 2^31", v.dump());
    return v.get<int>();
  }

 private:
  const json& j_;
  std::string where_;
};

// rope_parameters (transformers >= 5: rope_type, rope_theta and the scaling keys in one object)
// or rope_scaling (older: "type" or "rope_type", theta at the top level as rope_theta).
void read_rope(const json& j, const std::string& where, ModelConfig& c) {
  const bool v5 = j.contains("rope_parameters") && !j["rope_parameters"].is_null();
  const char* key = v5 ? "rope_parameters" : "rope_scaling";
  const json none = json::object();
  const json& r = j.contains(key) && !j[key].is_null() ? j[key] : none;
  if (!r.is_object()) fail(where, key, "an object or null", r.dump());
  const Keys top(j, where), rk(r, where + " (" + key + ")");
  c.rope_base = static_cast<float>(v5 && rk.has("rope_theta") ? rk.number("rope_theta", 10000.0)
                                                               : top.number("rope_theta", 10000.0));
  if (!(c.rope_base > 0.f)) fail(where, "rope_theta", "a positive RoPE base", std::to_string(c.rope_base));
  const std::string type = rk.has("rope_type") ? rk.string("rope_type", "default") : rk.string("type", "default");
  const int half = c.rope_dim / 2;
  if (type == "default") return;
  if (type == "linear") {
    const double f = rk.number("factor", 0.0);
    if (!(f > 0.0)) fail(where, std::string(key) + ".factor", "a positive factor", std::to_string(f));
    c.rope_freq_factors.assign(static_cast<size_t>(half), static_cast<float>(f));
    return;
  }
  if (type == "llama3") {
    auto need = [&](const char* k) {
      if (!rk.has(k)) fail(where, std::string(key) + "." + k, "a number (rope_type llama3)", "missing");
      const double v = rk.number(k, 0.0);
      if (!(v > 0.0)) fail(where, std::string(key) + "." + k, "a positive number", std::to_string(v));
      return v;
    };
    const double factor = need("factor"), low = need("low_freq_factor"), high = need("high_freq_factor"),
                 orig = need("original_max_position_embeddings");
    if (!(high > low)) fail(where, std::string(key) + ".high_freq_factor", "more than low_freq_factor", std::to_string(high));
    c.rope_freq_factors = llama3_rope_factors(c.rope_dim, c.rope_base, factor, low, high, orig);
    return;
  }
  fail(where, std::string(key) + (rk.has("rope_type") ? ".rope_type" : ".type"),
       "default, linear or llama3 (yarn, dynamic and longrope change more than the frequencies)", "\"" + type + "\"");
}

// Sliding-window attention: Mistral's single window is honoured by refusing longer sequences
// (runtime); Qwen2's per-layer windows (use_sliding_window) are not implemented.
void read_sliding_window(const json& j, const std::string& where, const Family& fam, ModelConfig& c) {
  const Keys k(j, where);
  if (std::string(fam.model_type) == "qwen2") {
    if (k.boolean("use_sliding_window", false))
      fail(where, "use_sliding_window", "false (Qwen2's per-layer sliding windows are not implemented)", "true");
    if (j.contains("layer_types") && j["layer_types"].is_array())
      for (const auto& t : j["layer_types"])
        if (t != "full_attention") fail(where, "layer_types", "\"full_attention\" for every layer", t.dump());
    return;
  }
  if (std::string(fam.model_type) == "mistral") c.sliding_window = k.positive_int("sliding_window", 0);
}

}  // namespace

std::vector<float> llama3_rope_factors(int rope_dim, double base, double factor, double low_freq_factor,
                                       double high_freq_factor, double original_max_positions) {
  const double kPi = 3.14159265358979323846;
  const double low_freq_wavelen = original_max_positions / low_freq_factor;
  const double high_freq_wavelen = original_max_positions / high_freq_factor;
  std::vector<float> out(static_cast<size_t>(rope_dim / 2));
  for (int i = 0; i < rope_dim / 2; ++i) {
    const double inv_freq = std::pow(base, -2.0 * i / rope_dim);
    const double wavelen = 2 * kPi / inv_freq;
    double divisor = 1.0;
    if (wavelen > low_freq_wavelen) {
      divisor = factor;
    } else if (wavelen >= high_freq_wavelen) {  // the medium band: a blend
      const double smooth = (original_max_positions / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
      divisor = 1.0 / ((1 - smooth) / factor + smooth);
    }
    out[static_cast<size_t>(i)] = static_cast<float>(divisor);
  }
  return out;
}

ModelConfig config_from_hf_json(const json& j, const std::string& where, const std::string& name) {
  if (!j.is_object()) fail(where, "config", "a JSON object", j.type_name());
  const Keys k(j, where);
  ModelConfig c;
  const std::string mt = k.string("model_type", "");
  const Family* fam = nullptr;
  for (const auto& f : kFamilies)
    if (mt == f.model_type) fam = &f;
  if (!fam) fail(where, "model_type", std::string("a supported architecture: ") + kSupported, mt.empty() ? "missing" : "\"" + mt + "\"");
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0] != fam->architecture)
    fail(where, "architectures", std::string("[\"") + fam->architecture + "\"] (model_type " + mt + ")", j["architectures"].dump());
  c.arch = mt;
  c.name = k.string("_name_or_path", name);
  if (c.name.empty()) c.name = name;
  c.qkv_bias = fam->qkv_bias;
  c.rope_style = RopeStyle::Neox;  // Hugging Face keeps Q/K rows in the half-split layout

  c.hidden = k.positive_int("hidden_size");
  c.ffn = k.positive_int("intermediate_size");
  c.n_layers = k.positive_int("num_hidden_layers");
  c.n_heads = k.positive_int("num_attention_heads");
  c.n_kv_heads = k.positive_int("num_key_value_heads", c.n_heads);
  c.n_vocab = k.positive_int("vocab_size", fam->default_vocab);
  c.n_ctx_train = k.positive_int("max_position_embeddings", fam->default_ctx);
  if (c.n_heads % c.n_kv_heads != 0)
    fail(where, "num_key_value_heads", "a divisor of num_attention_heads (" + std::to_string(c.n_heads) + ")",
         std::to_string(c.n_kv_heads));
  if (k.has("head_dim")) {
    c.head_dim = k.positive_int("head_dim");
  } else {
    if (c.hidden % c.n_heads != 0)
      fail(where, "hidden_size", "a multiple of num_attention_heads (" + std::to_string(c.n_heads) + ") or a head_dim key",
           std::to_string(c.hidden));
    c.head_dim = c.hidden / c.n_heads;
  }
  if (c.head_dim % 2 != 0) fail(where, "head_dim", "an even head size (RoPE rotates pairs)", std::to_string(c.head_dim));
  c.rope_dim = c.head_dim;
  if (k.number("partial_rotary_factor", 1.0) != 1.0)
    fail(where, "partial_rotary_factor", "1 (every head dimension rotated)", std::to_string(k.number("partial_rotary_factor", 1.0)));

  c.norm_eps = static_cast<float>(k.number("rms_norm_eps", 1e-6));
  if (!(c.norm_eps > 0.f && c.norm_eps < 1.f)) fail(where, "rms_norm_eps", "a value in (0, 1)", std::to_string(c.norm_eps));
  const std::string act = k.string("hidden_act", "silu");
  if (act != "silu") fail(where, "hidden_act", "\"silu\" (SwiGLU)", "\"" + act + "\"");
  if (k.boolean("attention_bias", false) && !fam->qkv_bias)
    fail(where, "attention_bias", "false (cokv has no q/k/v/o biases for " + mt + ")", "true");
  if (k.boolean("mlp_bias", false)) fail(where, "mlp_bias", "false (the MLP has no biases in cokv)", "true");
  c.tied_embeddings = k.boolean("tie_word_embeddings", false);
  read_rope(j, where, c);
  read_sliding_window(j, where, *fam, c);
  // The weights' size saturates at INT64_MAX (weight_memory) when the dimensions' products
  // overflow int64: every dimension below 2^31 is not enough.
  if (weight_memory(c).fp32_bytes == std::numeric_limits<int64_t>::max())
    fail(where, "model dimensions", "sizes whose weights can be counted (under 2^63 bytes in fp32)",
         "hidden " + std::to_string(c.hidden) + ", ffn " + std::to_string(c.ffn) + ", layers " + std::to_string(c.n_layers) +
             ", heads " + std::to_string(c.n_heads) + " x " + std::to_string(c.head_dim) + ", vocab " + std::to_string(c.n_vocab));
  return c;
}

ModelConfig config_from_hf(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  json j;
  try {
    j = json::parse(read_file_bytes(path));
  } catch (const json::exception& e) {
    fail(path, "file", "valid JSON", e.what());
  }
  std::string name = std::filesystem::path(dir).lexically_normal().filename().string();
  if (name.empty()) name = std::filesystem::path(dir).lexically_normal().parent_path().filename().string();
  return config_from_hf_json(j, path, name);
}

}  // namespace cokv
