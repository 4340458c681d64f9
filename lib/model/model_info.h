// What every backend knows of its model besides the weights: where it came from, its
// architecture, tokenizer and chat template. Prompts are built from this (data/), budget tables
// are checked against it (kv/), and each backend loads the weights its own way.
#pragma once
#include <string>

#include "model/config.h"
#include "model/tokenizer.h"

namespace cokv {

struct ModelInfo {
  std::string path;  // the model file (GGUF) as given
  ModelConfig cfg;
  Tokenizer tok;
  ChatTemplate chat;
};

// Reads config, tokenizer and chat template without the weights (cheap: metadata only).
ModelInfo load_model_info(const std::string& path);

}  // namespace cokv
