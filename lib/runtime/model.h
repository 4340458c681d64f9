// A loaded model: config, fp32 weights, tokenizer and chat template, from one GGUF file.
#pragma once
#include <memory>
#include <string>

#include "model/config.h"
#include "model/tokenizer.h"
#include "model/weights.h"

namespace cokv {

struct Model {
  std::string path;
  ModelConfig cfg;
  Weights w;
  Tokenizer tok;
  ChatTemplate chat;

  // Maps the GGUF, reads config and tokenizer, dequantises every weight once.
  static std::unique_ptr<Model> load(const std::string& path);
};

}  // namespace cokv
