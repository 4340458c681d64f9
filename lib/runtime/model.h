// A loaded model: config, weights (fp32, or bf16/fp16 when asked), tokenizer and chat template,
// from a GGUF file or a Hugging Face folder (model/model_source.h).
#pragma once
#include <memory>
#include <string>

#include "model/config.h"
#include "model/model_source.h"
#include "model/tokenizer.h"
#include "model/weights.h"
#include "runtime/ops.h"

namespace cokv {

struct Model {
  std::string path;
  ModelConfig cfg;
  Weights w;
  Tokenizer tok;
  ChatTemplate chat;
  ActQuant act_quant = ActQuant::Fp32;  // how matmul inputs are rounded (see ops.h)
  ModelFormat format = ModelFormat::Gguf;
  WeightMode weights = WeightMode::Fp32;  // how the weights are held (Auto resolved)

  // Fp32: exact arithmetic on the dequantised weights (the reference). Ggml: round matmul
  // inputs to 8-bit blocks and Q/K/V to fp16 as llama.cpp's CPU path does for
  // block-quantised weights; the same kind of rounding, but not measurably closer logits
  // (that rounding is chaotic at the last bit: see ops.h ActQuant).
  enum class Numerics { Fp32, Ggml };
  // Maps the GGUF (or the folder's safetensors), reads config and tokenizer, decodes every
  // weight once into the storage `weights` asks for (weights.h WeightMode).
  static std::unique_ptr<Model> load(const std::string& path, Numerics numerics = Numerics::Fp32,
                                     WeightMode weights = WeightMode::Auto);
};

}  // namespace cokv
