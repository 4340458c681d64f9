#include "runtime/model.h"

#include "model/gguf.h"

namespace cokv {

std::unique_ptr<Model> Model::load(const std::string& path, Numerics numerics) {
  GgufFile f = GgufFile::open(path);
  ModelConfig cfg = config_from_gguf(f);
  Weights w = load_weights(f, cfg);
  ModelInfo info{path, std::move(cfg), Tokenizer::from_gguf(f), chat_template_from_gguf(f)};
  const ActQuant aq = numerics == Numerics::Ggml ? ActQuant::Q8Blocks : ActQuant::Fp32;
  return std::unique_ptr<Model>(new Model{std::move(info), std::move(w), aq});
}

}  // namespace cokv
