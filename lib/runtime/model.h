// The CPU backend's loaded model: what every backend knows (ModelInfo: path, config, tokenizer,
// chat template) plus fp32 weights in host memory, from one GGUF file.
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
  // Maps the GGUF, reads config and tokenizer, dequantises every weight once.
  static std::unique_ptr<Model> load(const std::string& path, Numerics numerics = Numerics::Fp32);
};

}  // namespace cokv
