#include "model/model_info.h"

#include "model/gguf.h"
#include "model/hf_config.h"
#include "model/hf_tokenizer.h"
#include "model/model_source.h"

namespace cokv {

ModelInfo load_model_info(const std::string& path) {
  if (model_format(path) == ModelFormat::HfFolder) {
    ModelConfig cfg = config_from_hf(path);
    return ModelInfo{path, ModelFormat::HfFolder, std::move(cfg), Tokenizer::from_spec(tokenizer_spec_from_hf(path)),
                     chat_template_from_hf(path)};
  }
  GgufFile f = GgufFile::open(path);
  ModelConfig cfg = config_from_gguf(f);
  return ModelInfo{path, ModelFormat::Gguf, std::move(cfg), Tokenizer::from_gguf(f), chat_template_from_gguf(f)};
}

}  // namespace cokv
