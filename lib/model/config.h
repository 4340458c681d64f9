// Architecture as data: one config struct filled from GGUF keys (here) or a Hugging Face
// config.json (model/hf_config.h). Family differences (llama, mistral, qwen2) are flags here,
// never subclasses.
#pragma once
#include <string>
#include <vector>

#include "model/gguf.h"

namespace cokv {

// RoPE pairing: Norm rotates adjacent pairs (x0,x1),(x2,x3).. (llama family in GGUF, whose
// converter permutes Q/K rows); Neox rotates (x_i, x_{i+d/2}) (qwen2 in GGUF, and every
// Hugging Face checkpoint: their Q/K rows are in the half-split layout).
enum class RopeStyle { Norm, Neox };

struct ModelConfig {
  std::string arch;        // "llama" | "mistral" | "qwen2" (GGUF mistral files say "llama")
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
  // Per-frequency divisors of RoPE's theta_i = pos * base^(-2i/rope_dim), [rope_dim/2]; empty
  // = none. Llama-3.1/3.2 scaling: from GGUF's rope_freqs tensor, or computed from config.json
  // rope_scaling (type llama3, or linear: every entry = factor).
  std::vector<float> rope_freq_factors;
  int sliding_window = 0;  // attention window (Mistral v0.1: 4096); 0 = full causal attention
  float norm_eps = 1e-5f;
  RopeStyle rope_style = RopeStyle::Norm;
  bool qkv_bias = false;
  bool tied_embeddings = false;  // no output.weight: the head reuses token_embd

  int group_size() const { return n_heads / n_kv_heads; }  // query heads per KV head
  int n_kv_players() const { return n_layers * n_kv_heads; }
};

// Reads and validates the config; throws naming the file and the missing/invalid key. Reads
// the rope_freqs tensor too (F32 [rope_dim/2]) when the file has one.
ModelConfig config_from_gguf(const GgufFile& f);

}  // namespace cokv
