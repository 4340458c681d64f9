// load_weights: a table from tensor names (llama.cpp's and Hugging Face's) to Weights fields
// (required/optional, expected shape), checked against the config, then every tensor decoded
// once into its storage type in parallel (the work is cut into row chunks so the big token
// embedding does not serialise it).
//
// Dimension legend: V vocab, E hidden, F ffn, Q = H*D (query width), K = G*D (KV width).
// Shapes are compared row-major, outermost first: a GGUF tensor with ne = [in, out] and a
// safetensors tensor with shape [out, in] are both the matrix [out, in], with the same bytes
// in the same order.
#include "model/weights.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <type_traits>
#include <variant>

#include "core/error.h"
#include "model/dequant.h"

namespace cokv {

namespace {

enum class Need { Required, Optional, IfBias };  // IfBias: required iff cfg.qkv_bias, else absent

// A destination: a matrix [out, in] or a vector [n], at global scope or in a layer.
using LayerField = std::variant<WeightMatrix LayerWeights::*, Vec LayerWeights::*, RowVec LayerWeights::*>;
using GlobalField = std::variant<WeightMatrix Weights::*, Vec Weights::*>;

struct GlobalSpec {
  const char* gguf;
  const char* hf;
  GlobalField field;
  const char* shape;  // dimension letters, [out, in] for matrices, [n] for vectors
  Need need;
};
struct LayerSpec {
  const char* gguf;  // after "blk.N."
  const char* hf;    // after "model.layers.N."
  LayerField field;
  const char* shape;
  Need need;
};

const GlobalSpec kGlobal[] = {
    {"token_embd.weight", "model.embed_tokens.weight", &Weights::tok_embd, "VE", Need::Required},
    {"output_norm.weight", "model.norm.weight", &Weights::out_norm, "E", Need::Required},
    {"output.weight", "lm_head.weight", &Weights::output, "VE", Need::Optional},  // absent: tied
};

const LayerSpec kLayer[] = {
    {"attn_norm.weight", "input_layernorm.weight", &LayerWeights::attn_norm, "E", Need::Required},
    {"attn_q.weight", "self_attn.q_proj.weight", &LayerWeights::wq, "QE", Need::Required},
    {"attn_k.weight", "self_attn.k_proj.weight", &LayerWeights::wk, "KE", Need::Required},
    {"attn_v.weight", "self_attn.v_proj.weight", &LayerWeights::wv, "KE", Need::Required},
    {"attn_q.bias", "self_attn.q_proj.bias", &LayerWeights::bq, "Q", Need::IfBias},
    {"attn_k.bias", "self_attn.k_proj.bias", &LayerWeights::bk, "K", Need::IfBias},
    {"attn_v.bias", "self_attn.v_proj.bias", &LayerWeights::bv, "K", Need::IfBias},
    {"attn_output.weight", "self_attn.o_proj.weight", &LayerWeights::wo, "EQ", Need::Required},
    {"ffn_norm.weight", "post_attention_layernorm.weight", &LayerWeights::ffn_norm, "E", Need::Required},
    {"ffn_gate.weight", "mlp.gate_proj.weight", &LayerWeights::w_gate, "FE", Need::Required},
    {"ffn_up.weight", "mlp.up_proj.weight", &LayerWeights::w_up, "FE", Need::Required},
    {"ffn_down.weight", "mlp.down_proj.weight", &LayerWeights::w_down, "EF", Need::Required},
};

int64_t dim_of(char letter, const ModelConfig& c) {
  switch (letter) {
    case 'V': return c.n_vocab;
    case 'E': return c.hidden;
    case 'F': return c.ffn;
    case 'Q': return int64_t{c.n_heads} * c.head_dim;
    case 'K': return int64_t{c.n_kv_heads} * c.head_dim;
  }
  return -1;
}

std::vector<int64_t> shape_of(const char* letters, const ModelConfig& c) {
  std::vector<int64_t> s;
  for (const char* p = letters; *p; ++p) s.push_back(dim_of(*p, c));
  return s;
}

std::string dims_str(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

// GGUF messages speak ggml's ne (innermost first), Hugging Face ones the row-major shape.
std::string shape_msg(TensorNaming n, std::vector<int64_t> shape) {
  if (n == TensorNaming::Gguf) {
    std::reverse(shape.begin(), shape.end());
    return "ne " + dims_str(shape);
  }
  return "shape " + dims_str(shape);
}

// The type a matrix of `cols` columns stored as `stored` is held in under a resolved mode.
GgmlType storage_type(GgmlType stored, int64_t cols, WeightMode resolved) {
  const bool blocks_fit = cols % 32 == 0;
  switch (resolved) {
    case WeightMode::Fp32: return GgmlType::F32;
    case WeightMode::Q8_0:
      if (blocks_fit) return GgmlType::Q8_0;
      break;
    case WeightMode::File:
      switch (stored) {
        case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16:
        case GgmlType::Q8_0: case GgmlType::Q4_0: case GgmlType::Q4_1: return stored;
        default:
          if (blocks_fit) return GgmlType::Q8_0;
      }
      break;
    default: break;
  }
  return stored == GgmlType::F16 ? GgmlType::F16 : GgmlType::BF16;
}

// One tensor to decode into already-allocated memory of type dst_type.
struct Job {
  const TensorRef* src;
  uint8_t* dst;
  GgmlType dst_type;
  int64_t rows, cols;
};

// Decodes rows [r0, r0 + n) of a job; tmp is per-thread fp32 scratch.
void run_rows(const Job& j, int64_t r0, int64_t n, std::vector<float>& tmp) {
  const size_t src_row = ggml_row_bytes(j.src->type, j.cols), dst_row = ggml_row_bytes(j.dst_type, j.cols);
  const uint8_t* src = j.src->data + size_t(r0) * src_row;
  uint8_t* dst = j.dst + size_t(r0) * dst_row;
  const int64_t count = n * j.cols;
  if (j.dst_type == j.src->type) {
    std::memcpy(dst, src, size_t(n) * src_row);
  } else if (j.dst_type == GgmlType::F32) {
    dequantize_row(j.src->type, src, reinterpret_cast<float*>(dst), count);
  } else if (j.dst_type == GgmlType::BF16) {
    tmp.resize(size_t(count));
    dequantize_row(j.src->type, src, tmp.data(), count);
    auto* out = reinterpret_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < count; ++i) out[i] = fp32_to_bf16(tmp[size_t(i)]);
  } else if (j.dst_type == GgmlType::Q8_0) {
    tmp.resize(size_t(count));
    dequantize_row(j.src->type, src, tmp.data(), count);
    quantize_row_q8_0(tmp.data(), dst, count);
  } else {
    fail(j.src->file, "tensor '" + j.src->name + "'", "a conversion cokv knows",
         std::string(ggml_type_name(j.src->type)) + " -> " + ggml_type_name(j.dst_type));
  }
}

class Loader {
 public:
  Loader(const TensorIndex& s, const ModelConfig& c, WeightMode mode) : s_(s), c_(c), mode_(mode) {}

  // Finds, checks and allocates one tensor and queues its decoding; an absent optional tensor
  // leaves the target empty.
  template <class T>
  void place(const std::string& name, T& target, const char* letters, Need need) {
    const TensorRef* t = s_.find(name);
    const bool required = need == Need::Required || (need == Need::IfBias && c_.qkv_bias);
    if (!t) {
      if (required) fail(s_.where, "tensor '" + name + "'", "a tensor that is present (required for arch " + c_.arch + ")", "missing");
      return;
    }
    if (need == Need::IfBias && !c_.qkv_bias)
      fail(t->file, "tensor '" + name + "'", "no q/k/v bias for arch " + c_.arch + " (cokv would ignore it)", "present");
    used_.insert(name);
    const std::vector<int64_t> want = shape_of(letters, c_);
    std::vector<int64_t> got = t->shape;
    while (got.size() > 1 && got.front() == 1) got.erase(got.begin());  // ggml trims ne's trailing 1s anyway
    if (got != want)
      fail(t->file, "tensor '" + name + "' shape", shape_msg(s_.naming, want) + " (from the config)",
           shape_msg(s_.naming, t->shape));
    if (!t->unsupported.empty())
      fail(t->file, "tensor '" + name + "' dtype", "F32, F16 or BF16", t->unsupported);
    if (!ggml_type_supported(t->type))
      fail(t->file, "tensor '" + name + "' type",
           "a type cokv can dequantize (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K)",
           ggml_type_name(t->type));
    if constexpr (std::is_same_v<T, WeightMatrix>) {
      target = WeightMatrix(storage_type(t->type, want[1], mode_), want[0], want[1]);
      jobs_.push_back({t, target.row_data(0), target.type(), want[0], want[1]});
    } else {
      target.resize(want[0]);
      jobs_.push_back({t, reinterpret_cast<uint8_t*>(target.data()), GgmlType::F32, 1, want[0]});
    }
  }

  // Tensors the config accounts for without a field.
  bool accounted(const std::string& name) const {
    if (s_.naming == TensorNaming::Gguf) return name == "rope_freqs.weight" && !c_.rope_freq_factors.empty();
    const std::string inv = ".self_attn.rotary_emb.inv_freq";  // older checkpoints: a derived buffer
    if (name.size() > inv.size() && name.compare(name.size() - inv.size(), inv.size(), inv) == 0) return true;
    return name == "lm_head.weight" && c_.tied_embeddings;  // transformers ties it to embed_tokens
  }

  void check_all_used() const {
    std::string unused;
    int n = 0;
    for (const auto& t : s_.tensors)
      if (!used_.count(t.name) && !accounted(t.name) && n++ < 8) unused += (unused.empty() ? "" : ", ") + t.name;
    if (n > 0)
      fail(s_.where, "tensors", "only tensors cokv uses for arch " + c_.arch + " (others would be silently ignored)",
           std::to_string(n) + " unused: " + unused + (n > 8 ? ", ..." : ""));
  }

  // Decodes every job; chunks of ~1M elements keep both cores busy to the end.
  void run() const {
    struct Chunk {
      const Job* job;
      int64_t row0, rows;
    };
    std::vector<Chunk> chunks;
    for (const auto& j : jobs_) {
      const int64_t step = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(j.cols, 1));
      for (int64_t r = 0; r < j.rows; r += step) chunks.push_back({&j, r, std::min(step, j.rows - r)});
    }
#pragma omp parallel
    {
      std::vector<float> tmp;
#pragma omp for schedule(dynamic, 1)
      for (size_t k = 0; k < chunks.size(); ++k) run_rows(*chunks[k].job, chunks[k].row0, chunks[k].rows, tmp);
    }
  }

 private:
  const TensorIndex& s_;
  const ModelConfig& c_;
  WeightMode mode_;
  std::vector<Job> jobs_;
  std::set<std::string> used_;
};

}  // namespace

size_t Weights::n_bytes() const {
  size_t n = tok_embd.n_bytes() + output.n_bytes() + size_t(out_norm.size()) * 4;
  for (const auto& l : layers)
    n += l.wq.n_bytes() + l.wk.n_bytes() + l.wv.n_bytes() + l.wo.n_bytes() + l.w_gate.n_bytes() +
         l.w_up.n_bytes() + l.w_down.n_bytes() +
         size_t(l.attn_norm.size() + l.ffn_norm.size() + l.bq.size() + l.bk.size() + l.bv.size()) * 4;
  return n;
}

WeightMode parse_weight_mode(const std::string& s) {
  if (s == "fp32") return WeightMode::Fp32;
  if (s == "bf16") return WeightMode::Bf16;
  if (s == "q8_0") return WeightMode::Q8_0;
  if (s == "file") return WeightMode::File;
  if (s == "auto") return WeightMode::Auto;
  fail("--weights", "mode", "fp32, bf16, q8_0, file or auto", "\"" + s + "\"");
}

std::vector<std::string> weight_mode_names() { return {"fp32", "bf16", "q8_0", "file", "auto"}; }

const char* weight_mode_name(WeightMode m) {
  switch (m) {
    case WeightMode::Fp32: return "fp32";
    case WeightMode::Bf16: return "bf16";
    case WeightMode::Q8_0: return "q8_0";
    case WeightMode::File: return "file";
    case WeightMode::Auto: return "auto";
  }
  return "?";
}

int64_t WeightMemory::bytes(WeightMode m) const {
  if (m == WeightMode::Auto) m = auto_pick;
  switch (m) {
    case WeightMode::Fp32: return fp32_bytes;
    case WeightMode::Bf16: return bf16_bytes;
    case WeightMode::Q8_0: return q8_0_bytes;
    default: fail("weight_memory", "mode", "fp32, bf16, q8_0 or auto (file needs the file's types)", weight_mode_name(m));
  }
}

namespace {

// a * b and a + b for sizes, saturating at INT64_MAX: a config read from a file may give every
// dimension up to 2^31, whose products overflow int64 (undefined behaviour; seen while
// writing fuzz/fuzz_hf_config). The config readers refuse a config whose size saturates.
int64_t sat_mul(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}
int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}

}  // namespace

WeightMemory weight_memory(const ModelConfig& c) {
  WeightMemory m;
  auto count = [&](const char* letters, bool matrix, int64_t copies) {
    int64_t n = copies;
    for (int64_t d : shape_of(letters, c)) n = sat_mul(n, d);
    m.n_params = sat_add(m.n_params, n);
    m.fp32_bytes = sat_add(m.fp32_bytes, sat_mul(4, n));
    m.bf16_bytes = sat_add(m.bf16_bytes, sat_mul(matrix ? 2 : 4, n));
    const int64_t cols = shape_of(letters, c).back();
    const int64_t q8 = !matrix ? sat_mul(4, n) : cols % 32 == 0 ? sat_mul(n / 32, 34) : sat_mul(2, n);
    m.q8_0_bytes = sat_add(m.q8_0_bytes, q8);
  };
  for (const auto& s : kGlobal) {
    if (s.need == Need::Optional && c.tied_embeddings) continue;
    count(s.shape, std::holds_alternative<WeightMatrix Weights::*>(s.field), 1);
  }
  for (const auto& s : kLayer) {
    if (s.need == Need::IfBias && !c.qkv_bias) continue;
    count(s.shape, std::holds_alternative<WeightMatrix LayerWeights::*>(s.field), c.n_layers);
  }
  m.auto_pick = m.fp32_bytes <= kAutoFp32Bytes ? WeightMode::Fp32 : WeightMode::Bf16;
  return m;
}

WeightMode resolve_weight_mode(WeightMode m, const ModelConfig& cfg) {
  return m == WeightMode::Auto ? weight_memory(cfg).auto_pick : m;
}

const TensorRef* TensorIndex::find(const std::string& name) const {
  auto it = by_name.find(name);
  return it == by_name.end() ? nullptr : &tensors[it->second];
}

TensorIndex tensor_index(const GgufFile& f) {
  TensorIndex ix;
  ix.naming = TensorNaming::Gguf;
  ix.where = f.path();
  for (const auto& t : f.tensors()) {
    TensorRef r;
    r.file = f.path();
    r.name = t.name;
    r.type = t.type;
    r.shape.assign(t.ne.rbegin(), t.ne.rend());
    r.data = t.data;
    ix.by_name[t.name] = ix.tensors.size();
    ix.tensors.push_back(std::move(r));
  }
  return ix;
}

Weights load_weights(const TensorIndex& src, const ModelConfig& cfg, WeightMode mode) {
  if (cfg.n_layers <= 0 || cfg.hidden <= 0 || cfg.n_heads <= 0 || cfg.n_kv_heads <= 0 || cfg.head_dim <= 0)
    fail(src.where, "config", "a validated ModelConfig (from config_from_gguf / config_from_hf)");
  const bool hf = src.naming == TensorNaming::HuggingFace;
  Weights w;
  w.layers.resize(static_cast<size_t>(cfg.n_layers));
  Loader ld(src, cfg, resolve_weight_mode(mode, cfg));
  for (const auto& s : kGlobal) {
    if (hf && s.need == Need::Optional && cfg.tied_embeddings) continue;  // a stored lm_head is ignored, as transformers does
    std::visit([&](auto field) { ld.place(hf ? s.hf : s.gguf, w.*field, s.shape, s.need); }, s.field);
  }
  if (w.output.empty() && !cfg.tied_embeddings)
    fail(src.where, std::string("tensor '") + (hf ? "lm_head.weight" : "output.weight") + "'",
         "a tensor that is present (the config says the head is not tied)", "missing");
  for (int il = 0; il < cfg.n_layers; ++il) {
    const std::string prefix = (hf ? "model.layers." : "blk.") + std::to_string(il) + ".";
    LayerWeights& lw = w.layers[static_cast<size_t>(il)];
    for (const auto& s : kLayer)
      std::visit([&](auto field) { ld.place(prefix + (hf ? s.hf : s.gguf), lw.*field, s.shape, s.need); }, s.field);
  }
  ld.check_all_used();
  ld.run();
  return w;
}

Weights load_weights(const GgufFile& f, const ModelConfig& cfg, WeightMode mode) {
  return load_weights(tensor_index(f), cfg, mode);
}

}  // namespace cokv
