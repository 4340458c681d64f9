// Model weights: matrices as WeightMatrix [out, in] (row-major, so a linear layer is
// Y = X * W^T with X row-major [tokens, in]) in fp32 or kept compact (bf16/fp16), vectors
// (norms, biases) always fp32. Loaded from a GGUF file or a Hugging Face folder's safetensors
// through one name table.
//
// Dimension legend: V vocab, E hidden (embedding), F ffn, H query heads, G KV heads, D head dim.
#pragma once
#include <Eigen/Core>
#include <map>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/gguf.h"
#include "model/weight_matrix.h"

namespace cokv {

using Vec = Eigen::VectorXf;
using RowVec = Eigen::RowVectorXf;

struct LayerWeights {
  Vec attn_norm;      // [E]
  WeightMatrix wq;    // [H*D, E]
  WeightMatrix wk;    // [G*D, E]
  WeightMatrix wv;    // [G*D, E]
  RowVec bq, bk, bv;  // [H*D], [G*D], [G*D]; present iff config.qkv_bias (qwen2)
  WeightMatrix wo;    // [E, H*D]
  Vec ffn_norm;       // [E]
  WeightMatrix w_gate;  // [F, E]
  WeightMatrix w_up;    // [F, E]
  WeightMatrix w_down;  // [E, F]
};

struct Weights {
  WeightMatrix tok_embd;  // [V, E]
  Vec out_norm;           // [E]
  WeightMatrix output;    // [V, E]; empty when tied (use tok_embd)
  std::vector<LayerWeights> layers;
  const WeightMatrix& lm_head() const { return output.empty() ? tok_embd : output; }
  size_t n_bytes() const;  // memory of all weights as held
};

// How weights are held in memory.
//  Fp32: every matrix dequantised to fp32 (the reference numerics).
//  Bf16: matrices stored as F16 stay F16, every other matrix is rounded to bf16 (nearest
//        even); the kernels convert to fp32 exactly and accumulate in fp32.
//  Q8_0: every matrix in ggml's Q8_0 blocks (34 bytes per 32 weights): Q8_0 tensors copied,
//        others decoded and quantised with ggml's rule (d = max|x| / 127, q = round(x / d)).
//  File: every matrix kept as the file stores it when the kernels read that type directly
//        (F32, F16, BF16, Q8_0, Q4_0, Q4_1), other block types (Q5_*, K-quants) as Q8_0: the
//        smallest mode, about the file's size.
//  Auto: Fp32 when the fp32 weights take at most kAutoFp32Bytes, else Bf16.
// In every mode the kernels convert weights to fp32 exactly and accumulate in fp32, so a
// mode's numerics are fp32 arithmetic on the weights as held. A matrix whose width is not a
// multiple of 32 cannot be Q8_0 and is held as Bf16 instead.
enum class WeightMode { Fp32, Bf16, Q8_0, File, Auto };
constexpr int64_t kAutoFp32Bytes = int64_t{4} << 30;  // 4 GiB: about 1B parameters
WeightMode parse_weight_mode(const std::string& s);    // "fp32" | "bf16" | "q8_0" | "file" | "auto"; throws otherwise
const char* weight_mode_name(WeightMode m);
std::vector<std::string> weight_mode_names();          // for --weights' help and checks

// Weight memory from the config alone (no file is read): what `cokv-generate --dry-run` prints.
// File depends on the file's types and has no figure here.
struct WeightMemory {
  int64_t n_params = 0;   // every weight value (matrices and vectors)
  int64_t fp32_bytes = 0;
  int64_t bf16_bytes = 0; // matrices at 2 bytes, vectors fp32
  int64_t q8_0_bytes = 0; // matrices at 34 bytes per 32 values, vectors fp32
  WeightMode auto_pick = WeightMode::Fp32;
  int64_t bytes(WeightMode m) const;  // throws for File
};
WeightMemory weight_memory(const ModelConfig& cfg);
WeightMode resolve_weight_mode(WeightMode m, const ModelConfig& cfg);  // Auto -> Fp32 | Bf16

// Where tensors come from, seen one way: a name, a ggml storage type, a row-major shape and the
// bytes. Built from a GGUF file or from a folder's safetensors.
enum class TensorNaming { Gguf, HuggingFace };
struct TensorRef {
  std::string file;  // the file holding it (for messages)
  std::string name;
  GgmlType type = GgmlType::F32;  // for safetensors: F32/F16/BF16 (other dtypes: see unsupported)
  std::string unsupported;        // non-empty: the dtype name cokv cannot load as a weight
  std::vector<int64_t> shape;     // row-major, outermost first ([out, in] for matrices)
  const uint8_t* data = nullptr;
};
struct TensorIndex {
  TensorNaming naming = TensorNaming::Gguf;
  std::string where;                  // the GGUF file or the folder
  std::vector<TensorRef> tensors;     // in file order
  std::map<std::string, size_t> by_name;
  const TensorRef* find(const std::string& name) const;
};
TensorIndex tensor_index(const GgufFile& f);

// Loads every tensor by name (llama.cpp names: token_embd, blk.N.attn_q, ...; Hugging Face
// names: model.embed_tokens, model.layers.N.self_attn.q_proj, ...), checks shapes against the
// config and throws naming the file, tensor and expected shape on a mismatch. Also throws when
// the source holds a tensor no field takes, since ignoring it would silently change the model;
// the exceptions are tensors the config already accounts for (GGUF rope_freqs, HF rotary
// inv_freq buffers, an HF lm_head stored beside tied embeddings). Decodes in parallel (OpenMP).
Weights load_weights(const TensorIndex& src, const ModelConfig& cfg, WeightMode mode = WeightMode::Fp32);
Weights load_weights(const GgufFile& f, const ModelConfig& cfg, WeightMode mode = WeightMode::Fp32);

}  // namespace cokv
