// Model weights, dequantised once at load into fp32 row-major matrices [out, in], so a
// linear layer is Y = X * W^T with X row-major [tokens, in].
//
// Dimension legend: V vocab, E hidden (embedding), F ffn, H query heads, G KV heads, D head dim.
#pragma once
#include <Eigen/Core>
#include <vector>

#include "model/config.h"
#include "model/gguf.h"

namespace cokv {

using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vec = Eigen::VectorXf;
using RowVec = Eigen::RowVectorXf;

struct LayerWeights {
  Vec attn_norm;      // [E]
  Mat wq;             // [H*D, E]
  Mat wk;             // [G*D, E]
  Mat wv;             // [G*D, E]
  RowVec bq, bk, bv;  // [H*D], [G*D], [G*D]; present iff config.qkv_bias (qwen2)
  Mat wo;             // [E, H*D]
  Vec ffn_norm;       // [E]
  Mat w_gate;         // [F, E]
  Mat w_up;           // [F, E]
  Mat w_down;         // [E, F]
};

struct Weights {
  Mat tok_embd;     // [V, E]
  Vec out_norm;     // [E]
  Mat output;       // [V, E]; empty when tied (use tok_embd)
  std::vector<LayerWeights> layers;
  const Mat& lm_head() const { return output.size() ? output : tok_embd; }
};

// Loads every tensor by name (llama.cpp names: token_embd, blk.N.attn_q, ...), checks shapes
// against the config and throws naming the file, tensor and expected shape on a mismatch.
// Also throws when the file holds a tensor no field takes (e.g. rope_freqs.weight), since
// ignoring it would silently change the model. Decodes in parallel (OpenMP).
Weights load_weights(const GgufFile& f, const ModelConfig& cfg);

}  // namespace cokv
