// The CPU backend's loaded model: what every backend knows (ModelInfo: path, format, config,
// tokenizer, chat template) plus the weights in host memory (fp32, or bf16/fp16 when asked),
// from a GGUF file or a Hugging Face folder.
#pragma once
#include <memory>
#include <string>

#include "model/model_info.h"
#include "model/weights.h"
#include "runtime/ops.h"

namespace cokv {

struct Model : ModelInfo {
  Weights w;
  ActQuant act_quant = ActQuant::Fp32;  // how matmul inputs are rounded (see ops.h)

  // Fp32: exact arithmetic on the dequantised weights (the reference). Ggml: round matmul
  // inputs to 8-bit blocks and Q/K/V to fp16 as llama.cpp's CPU path does for
  // block-quantised weights; the same kind of rounding, but not measurably closer logits
  // (that rounding is chaotic at the last bit: see ops.h ActQuant).
  enum class Numerics { Fp32, Ggml };
  // Maps the GGUF (or the folder's safetensors), reads config and tokenizer, decodes every
  // weight once into the storage `weights` asks for (model/weights.h WeightMode; Auto is
  // resolved by resolve_weight_mode from the config, the rule every backend follows).
  static std::unique_ptr<Model> load(const std::string& path, Numerics numerics = Numerics::Fp32,
                                     WeightMode weights = WeightMode::Auto);
};

}  // namespace cokv
