#include "model/model_info.h"

#include "model/gguf.h"

namespace cokv {

ModelInfo load_model_info(const std::string& path) {
  GgufFile f = GgufFile::open(path);
  ModelConfig cfg = config_from_gguf(f);
  return ModelInfo{path, std::move(cfg), Tokenizer::from_gguf(f), chat_template_from_gguf(f)};
}

}  // namespace cokv
