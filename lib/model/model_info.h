// What every backend knows of its model besides the weights: where it came from, its
// architecture, tokenizer and chat template. Prompts are built from this (data/), budget tables
// are checked against it (kv/), and each backend loads the weights its own way.
#pragma once
#include <string>

#include "model/config.h"
#include "model/tokenizer.h"
#include "model/weights.h"

namespace cokv {

// Where a model comes from: a GGUF file, or a Hugging Face folder (config.json, safetensors,
// tokenizer.json, ...: model/model_source.h).
enum class ModelFormat { Gguf, HfFolder };

struct ModelInfo {
  std::string path;  // the GGUF file or the folder, as given
  ModelFormat format = ModelFormat::Gguf;
  ModelConfig cfg;
  Tokenizer tok;
  ChatTemplate chat;
  // How the backend that loaded the model holds its weights (Auto resolved; weights.h). Metadata
  // readers leave Fp32; a backend sets what it loaded.
  WeightMode weights = WeightMode::Fp32;
};

// Reads config, tokenizer and chat template without the weights (cheap: metadata only), from
// a GGUF file or a folder.
ModelInfo load_model_info(const std::string& path);

}  // namespace cokv
