#include "runtime/model.h"

#include "model/model_source.h"

namespace cokv {

std::unique_ptr<Model> Model::load(const std::string& path, Numerics numerics, WeightMode weights) {
  ModelParts p = load_model_parts(path, weights);
  const ActQuant aq = numerics == Numerics::Ggml ? ActQuant::Q8Blocks : ActQuant::Fp32;
  return std::unique_ptr<Model>(new Model{path, std::move(p.cfg), std::move(p.w), std::move(p.tok), std::move(p.chat),
                                          aq, p.format, p.weights});
}

}  // namespace cokv
