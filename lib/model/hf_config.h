// ModelConfig from a Hugging Face config.json (model_type llama, mistral or qwen2), as
// transformers reads it: its class defaults for keys a file may omit, rope settings from
// `rope_parameters` (transformers >= 5) or `rope_scaling` + `rope_theta` (older files).
// Everything cokv cannot run exactly (other architectures, o_proj / MLP biases, yarn or
// dynamic rope scaling, partial rotary, per-layer sliding windows) is refused naming the key.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "model/config.h"

namespace cokv {

// `where` names the file in errors; `name` is the model's display name (the folder's).
ModelConfig config_from_hf_json(const nlohmann::json& j, const std::string& where, const std::string& name);
// Reads <dir>/config.json.
ModelConfig config_from_hf(const std::string& dir);

// Llama-3.1's rope scaling ("rope_type": "llama3") as divisors of theta_i, one per rotated
// pair (transformers' _compute_llama3_parameters; the same numbers convert_hf_to_gguf.py
// writes to GGUF's rope_freqs): 1 for short wavelengths, `factor` for long ones, a smooth
// blend between.
std::vector<float> llama3_rope_factors(int rope_dim, double base, double factor, double low_freq_factor,
                                       double high_freq_factor, double original_max_positions);

}  // namespace cokv
