#include "runtime/model.h"

#include "model/model_source.h"
#include "runtime/q8_linear.h"

namespace cokv {

std::unique_ptr<Model> Model::load(const std::string& path, Numerics numerics, WeightMode weights) {
  ModelInfo info = load_model_info(path);  // config and tokenizer first: their errors come before the weights'
  info.weights = resolve_weight_mode(weights, info.cfg);
  Weights w = load_model_weights(path, info.cfg, info.weights);
  const ActQuant aq = numerics == Numerics::Ggml ? ActQuant::Q8Blocks : ActQuant::Fp32;
  if (aq == ActQuant::Q8Blocks) interleave_q8_weights(w);  // the layout linear_q8 reads
  return std::unique_ptr<Model>(new Model{std::move(info), std::move(w), aq});
}

}  // namespace cokv
