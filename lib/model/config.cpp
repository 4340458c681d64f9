// ModelConfig from GGUF metadata. Keys are "<arch>.<name>" as llama.cpp writes them
// (llama-arch.cpp LLM_KV_*); the per-family differences are the flags set in family_flags().
#include "model/config.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "model/weights.h"

namespace cokv {

namespace {

constexpr const char* kSupportedArchs = "llama (SmolLM2, Llama 2/3, Mistral) or qwen2";

// Family differences as data: llama-family GGUFs are converted with Q/K rows permuted for
// adjacent-pair RoPE; qwen2 keeps the HF layout (Neox pairing) and has q/k/v biases.
bool family_flags(const std::string& arch, ModelConfig& c) {
  if (arch == "llama") {
    c.rope_style = RopeStyle::Norm;
    c.qkv_bias = false;
    return true;
  }
  if (arch == "qwen2") {
    c.rope_style = RopeStyle::Neox;
    c.qkv_bias = true;
    return true;
  }
  return false;
}

std::string file_stem(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = base.rfind('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

// A positive int-sized integer under key; throws naming the key.
int positive_int(const GgufFile& f, const std::string& key, std::optional<int64_t> v) {
  if (!v) fail(f.path(), key, "a positive integer", "missing");
  if (*v <= 0 || *v > std::numeric_limits<int>::max())
    fail(f.path(), key, "a positive integer below 2^31", std::to_string(*v));
  return static_cast<int>(*v);
}

// llama.cpp's rope_freqs (Llama-3.1 scaling as convert_hf_to_gguf.py writes it): F32, one
// positive divisor per rotated pair.
std::vector<float> rope_freqs_tensor(const GgufFile& f, const GgufTensorInfo& t, const ModelConfig& c) {
  const int64_t want = c.rope_dim / 2;
  if (t.type != GgmlType::F32 || t.ne.size() != 1 || t.ne[0] != want)
    fail(f.path(), "tensor 'rope_freqs.weight'", "F32 ne [" + std::to_string(want) + "] (rope dimensions / 2)",
         std::string(t.type == GgmlType::F32 ? "F32" : "another type") + " with " + std::to_string(t.n_elements()) + " values");
  std::vector<float> v(static_cast<size_t>(want));
  std::memcpy(v.data(), t.data, v.size() * sizeof(float));
  for (float x : v)
    if (!(x > 0.f) || !std::isfinite(x)) fail(f.path(), "tensor 'rope_freqs.weight'", "positive finite factors", std::to_string(x));
  return v;
}

}  // namespace

ModelConfig config_from_gguf(const GgufFile& f) {
  ModelConfig c;
  const std::string& path = f.path();
  auto arch = f.find_string("general.architecture");
  if (!arch) fail(path, "general.architecture", std::string("an architecture name: ") + kSupportedArchs, "missing");
  c.arch = *arch;
  if (!family_flags(c.arch, c))
    fail(path, "general.architecture", std::string("a supported architecture: ") + kSupportedArchs, "\"" + c.arch + "\"");
  const std::string p = c.arch + ".";

  c.name = f.find_string("general.name").value_or(file_stem(path));
  c.n_layers = positive_int(f, p + "block_count", f.find_int(p + "block_count"));
  c.hidden = positive_int(f, p + "embedding_length", f.find_int(p + "embedding_length"));
  c.ffn = positive_int(f, p + "feed_forward_length", f.find_int(p + "feed_forward_length"));
  c.n_heads = positive_int(f, p + "attention.head_count", f.find_int(p + "attention.head_count"));
  const std::string kv_key = p + "attention.head_count_kv";
  c.n_kv_heads = f.has(kv_key) ? positive_int(f, kv_key, f.find_int(kv_key)) : c.n_heads;
  c.n_ctx_train = positive_int(f, p + "context_length", f.find_int(p + "context_length"));

  if (c.n_heads % c.n_kv_heads != 0)
    fail(path, kv_key, "a divisor of " + p + "attention.head_count (" + std::to_string(c.n_heads) + ")",
         std::to_string(c.n_kv_heads));

  // Head size: explicit key_length when the file has it (models whose heads * head_dim differs
  // from the embedding), else embedding / heads.
  const std::string kl_key = p + "attention.key_length", vl_key = p + "attention.value_length";
  if (f.has(kl_key)) {
    c.head_dim = positive_int(f, kl_key, f.find_int(kl_key));
  } else {
    if (c.hidden % c.n_heads != 0)
      fail(path, p + "embedding_length", "a multiple of " + p + "attention.head_count (" + std::to_string(c.n_heads) + ")",
           std::to_string(c.hidden));
    c.head_dim = c.hidden / c.n_heads;
  }
  if (f.has(vl_key) && positive_int(f, vl_key, f.find_int(vl_key)) != c.head_dim)
    fail(path, vl_key, "the key length " + std::to_string(c.head_dim) + " (separate K and V head sizes are not supported)",
         std::to_string(*f.find_int(vl_key)));
  if (c.head_dim % 2 != 0) fail(path, "head_dim", "an even head size (RoPE rotates pairs)", std::to_string(c.head_dim));

  const std::string rd_key = p + "rope.dimension_count";
  c.rope_dim = f.has(rd_key) ? positive_int(f, rd_key, f.find_int(rd_key)) : c.head_dim;
  if (c.rope_dim > c.head_dim || c.rope_dim % 2 != 0)
    fail(path, rd_key, "an even count <= head_dim (" + std::to_string(c.head_dim) + ")", std::to_string(c.rope_dim));

  const std::string fb_key = p + "rope.freq_base";
  c.rope_base = static_cast<float>(f.find_float(fb_key).value_or(10000.0));
  if (!(c.rope_base > 0.f)) fail(path, fb_key, "a positive RoPE base", std::to_string(c.rope_base));

  // rope.scaling.type: linear is a constant divisor; yarn and the others change more than theta.
  const std::string st_key = p + "rope.scaling.type";
  const std::string scaling = f.find_string(st_key).value_or("none");
  if (scaling == "linear") {
    const double factor = f.find_float(p + "rope.scaling.factor").value_or(0.0);
    if (!(factor > 0.0)) fail(path, p + "rope.scaling.factor", "a positive factor (rope.scaling.type is linear)", std::to_string(factor));
    c.rope_freq_factors.assign(static_cast<size_t>(c.rope_dim / 2), static_cast<float>(factor));
  } else if (scaling != "none") {
    fail(path, st_key, "none or linear (Llama-3.1 scaling comes as the rope_freqs tensor)", "\"" + scaling + "\"");
  }

  const std::string eps_key = p + "attention.layer_norm_rms_epsilon";
  auto eps = f.find_float(eps_key);
  if (!eps) fail(path, eps_key, "the RMSNorm epsilon (a float)", "missing");
  if (!(*eps > 0.0 && *eps < 1.0)) fail(path, eps_key, "a value in (0, 1)", std::to_string(*eps));
  c.norm_eps = static_cast<float>(*eps);

  // Vocabulary: the tokenizer's token list is what token_embd is sized by; vocab_size is a
  // fallback for files without a tokenizer.
  if (f.has("tokenizer.ggml.tokens")) {
    const GgufValue& toks = f.value("tokenizer.ggml.tokens");
    if (toks.type != GgufValue::Type::ARRAY)
      fail(path, "tokenizer.ggml.tokens", "an array of string", gguf_type_name(toks.type));
    const size_t n = std::get<std::vector<GgufValue>>(toks.v).size();
    c.n_vocab = positive_int(f, "tokenizer.ggml.tokens (length)", static_cast<int64_t>(n));
  } else {
    const std::string vs_key = p + "vocab_size";
    if (!f.has(vs_key)) fail(path, "tokenizer.ggml.tokens", "a token list (or " + vs_key + ")", "missing");
    c.n_vocab = positive_int(f, vs_key, f.find_int(vs_key));
  }

  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  if (const GgufTensorInfo* rf = f.find_tensor("rope_freqs.weight")) {
    if (!c.rope_freq_factors.empty())
      fail(path, "tensor 'rope_freqs.weight'", "absent when " + st_key + " is linear (two scalings at once)", "present");
    c.rope_freq_factors = rope_freqs_tensor(f, *rf, c);
  }
  // The weights' size saturates at INT64_MAX (weight_memory) when the dimensions' products
  // overflow int64: every dimension below 2^31 is not enough.
  if (weight_memory(c).fp32_bytes == std::numeric_limits<int64_t>::max())
    fail(path, "model dimensions", "sizes whose weights can be counted (under 2^63 bytes in fp32)",
         "hidden " + std::to_string(c.hidden) + ", ffn " + std::to_string(c.ffn) + ", layers " + std::to_string(c.n_layers) +
             ", heads " + std::to_string(c.n_heads) + " x " + std::to_string(c.head_dim) + ", vocab " + std::to_string(c.n_vocab));
  return c;
}

}  // namespace cokv
