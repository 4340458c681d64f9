// Architecture as data: one config struct filled from GGUF keys. Family differences
// (llama, mistral, qwen2) are flags here, never subclasses.
#pragma once
#include <string>

#include "model/gguf.h"

namespace cokv {

// RoPE pairing: Norm rotates adjacent pairs (x0,x1),(x2,x3).. (llama family in GGUF, whose
// converter permutes Q/K rows); Neox rotates (x_i, x_{i+d/2}) (qwen2).
enum class RopeStyle { Norm, Neox };

struct ModelConfig {
  std::string arch;        // "llama" | "qwen2"
  std::string name;        // general.name, or the file stem
  int n_layers = 0;
  int n_heads = 0;         // query heads
  int n_kv_heads = 0;
  int head_dim = 0;
  int hidden = 0;          // embedding length
  int ffn = 0;             // feed-forward length
  int n_vocab = 0;
  int n_ctx_train = 0;     // context length the model was trained for
  int rope_dim = 0;        // rotated dimensions per head (== head_dim for these families)
  float rope_base = 10000.f;
  float norm_eps = 1e-5f;
  RopeStyle rope_style = RopeStyle::Norm;
  bool qkv_bias = false;
  bool tied_embeddings = false;  // no output.weight: the head reuses token_embd

  int group_size() const { return n_heads / n_kv_heads; }  // query heads per KV head
  int n_kv_players() const { return n_layers * n_kv_heads; }
};

// Reads and validates the config; throws naming the file and the missing/invalid key.
ModelConfig config_from_gguf(const GgufFile& f);

}  // namespace cokv
