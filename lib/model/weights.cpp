// load_weights: a table from llama.cpp tensor names to Weights fields (required/optional,
// expected shape), checked against the config, then every tensor dequantised once to fp32
// in parallel (the work is cut into row chunks so the big token_embd does not serialise it).
//
// Dimension legend: V vocab, E hidden, F ffn, Q = H*D (query width), K = G*D (KV width).
// ggml stores ne[0] = input dim: a tensor with ne = [in, out] becomes a row-major Mat(out, in),
// the same bytes in the same order.
#include "model/weights.h"

#include <algorithm>
#include <set>
#include <type_traits>
#include <variant>

#include "core/error.h"
#include "model/dequant.h"

namespace cokv {

namespace {

enum class Need { Required, Optional, IfBias };  // IfBias: required iff cfg.qkv_bias, else absent

// A destination: a matrix [out, in] or a vector [n], at global scope or in a layer.
using LayerField = std::variant<Mat LayerWeights::*, Vec LayerWeights::*, RowVec LayerWeights::*>;
using GlobalField = std::variant<Mat Weights::*, Vec Weights::*>;

struct GlobalSpec {
  const char* name;
  GlobalField field;
  const char* shape;  // dimension letters, [out, in] for matrices, [n] for vectors
  Need need;
};
struct LayerSpec {
  const char* name;  // after "blk.N."
  LayerField field;
  const char* shape;
  Need need;
};

const GlobalSpec kGlobal[] = {
    {"token_embd.weight", &Weights::tok_embd, "VE", Need::Required},
    {"output_norm.weight", &Weights::out_norm, "E", Need::Required},
    {"output.weight", &Weights::output, "VE", Need::Optional},  // absent: tied to token_embd
};

const LayerSpec kLayer[] = {
    {"attn_norm.weight", &LayerWeights::attn_norm, "E", Need::Required},
    {"attn_q.weight", &LayerWeights::wq, "QE", Need::Required},
    {"attn_k.weight", &LayerWeights::wk, "KE", Need::Required},
    {"attn_v.weight", &LayerWeights::wv, "KE", Need::Required},
    {"attn_q.bias", &LayerWeights::bq, "Q", Need::IfBias},
    {"attn_k.bias", &LayerWeights::bk, "K", Need::IfBias},
    {"attn_v.bias", &LayerWeights::bv, "K", Need::IfBias},
    {"attn_output.weight", &LayerWeights::wo, "EQ", Need::Required},
    {"ffn_norm.weight", &LayerWeights::ffn_norm, "E", Need::Required},
    {"ffn_gate.weight", &LayerWeights::w_gate, "FE", Need::Required},
    {"ffn_up.weight", &LayerWeights::w_up, "FE", Need::Required},
    {"ffn_down.weight", &LayerWeights::w_down, "EF", Need::Required},
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

std::string shape_str(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// One tensor to decode into already-allocated memory.
struct Job {
  const GgufTensorInfo* info;
  float* dst;
};

class Loader {
 public:
  Loader(const GgufFile& f, const ModelConfig& c) : f_(f), c_(c) {}

  // Finds, checks and allocates one tensor and queues its decoding; an absent optional tensor
  // leaves the target empty.
  template <class T>
  void place(const std::string& name, T& target, const char* shape, Need need) {
    const GgufTensorInfo* t = f_.find_tensor(name);
    const bool required = need == Need::Required || (need == Need::IfBias && c_.qkv_bias);
    if (!t) {
      if (required) fail(f_.path(), "tensor '" + name + "'", "a tensor that is present (required for arch " + c_.arch + ")", "missing");
      return;
    }
    if (need == Need::IfBias && !c_.qkv_bias)
      fail(f_.path(), "tensor '" + name + "'", "no q/k/v bias for arch " + c_.arch + " (cokv would ignore it)", "present");
    used_.insert(name);
    // ggml order: ne[0] is the input dim, so the expected ne is the shape letters reversed.
    std::vector<int64_t> want;
    for (const char* p = shape; *p; ++p) want.insert(want.begin(), dim_of(*p, c_));
    std::vector<int64_t> got = t->ne;
    while (got.size() > 1 && got.back() == 1) got.pop_back();  // ggml trims trailing 1s anyway
    if (got != want)
      fail(f_.path(), "tensor '" + name + "' shape", "ne " + shape_str(want) + " (from the config)", "ne " + shape_str(t->ne));
    if (!ggml_type_supported(t->type))
      fail(f_.path(), "tensor '" + name + "' type",
           "a type cokv can dequantize (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K)",
           ggml_type_name(t->type));
    if constexpr (std::is_same_v<T, Mat>) target.resize(want[1], want[0]);
    else target.resize(want[0]);
    jobs_.push_back({t, target.data()});
  }

  void check_all_used() const {
    std::string unused;
    int n = 0;
    for (const auto& t : f_.tensors())
      if (!used_.count(t.name) && n++ < 8) unused += (unused.empty() ? "" : ", ") + t.name;
    if (n > 0)
      fail(f_.path(), "tensors", "only tensors cokv uses for arch " + c_.arch + " (others would be silently ignored)",
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
      const int64_t ne0 = j.info->ne[0];
      const int64_t n_rows = ne0 ? j.info->n_elements() / ne0 : 0;
      const int64_t step = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(ne0, 1));
      for (int64_t r = 0; r < n_rows; r += step) chunks.push_back({&j, r, std::min(step, n_rows - r)});
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t k = 0; k < chunks.size(); ++k) {
      const Chunk& ch = chunks[k];
      const GgufTensorInfo& t = *ch.job->info;
      const int64_t ne0 = t.ne[0];
      const size_t row_bytes = ggml_row_bytes(t.type, ne0);
      dequantize_row(t.type, t.data + ch.row0 * row_bytes, ch.job->dst + ch.row0 * ne0, ch.rows * ne0);
    }
  }

 private:
  const GgufFile& f_;
  const ModelConfig& c_;
  std::vector<Job> jobs_;
  std::set<std::string> used_;
};

}  // namespace

Weights load_weights(const GgufFile& f, const ModelConfig& cfg) {
  if (cfg.n_layers <= 0 || cfg.hidden <= 0 || cfg.n_heads <= 0 || cfg.n_kv_heads <= 0 || cfg.head_dim <= 0)
    fail(f.path(), "config", "a validated ModelConfig (from config_from_gguf)");
  Weights w;
  w.layers.resize(static_cast<size_t>(cfg.n_layers));
  Loader ld(f, cfg);
  for (const auto& s : kGlobal)
    std::visit([&](auto field) { ld.place(s.name, w.*field, s.shape, s.need); }, s.field);
  if (w.output.size() == 0 && !cfg.tied_embeddings)
    fail(f.path(), "tensor 'output.weight'", "a tensor that is present (the config says the head is not tied)", "missing");
  for (int il = 0; il < cfg.n_layers; ++il) {
    const std::string prefix = "blk." + std::to_string(il) + ".";
    LayerWeights& lw = w.layers[static_cast<size_t>(il)];
    for (const auto& s : kLayer)
      std::visit([&](auto field) { ld.place(prefix + s.name, lw.*field, s.shape, s.need); }, s.field);
  }
  ld.check_all_used();
  ld.run();
  return w;
}

}  // namespace cokv
