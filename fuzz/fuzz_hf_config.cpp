// Fuzz target: a Hugging Face config.json (lib/model/hf_config.*) as the apps read it
// (read_model_config on a folder), then what is computed from the config alone: the memory
// report cokv-generate --dry-run prints, the parameter count and the weight mode auto picks.
// An error must be a cokv::Error naming config.json. Seeds: the tiny checkpoints' configs and
// docs/model-configs.
#include <cstdint>

#include "core/error.h"
#include "fuzz_common.h"
#include "model/model_source.h"
#include "model/weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = cokv_fuzz::write_in_dir("config.json", cokv_fuzz::as_text(data, size));
  cokv::ModelConfig c;
  try {
    c = cokv::read_model_config(cokv_fuzz::input_dir());
  } catch (const cokv::Error& e) {
    if (!cokv_fuzz::names_file(e.what(), path)) cokv_fuzz::property_failed("an error that does not name config.json");
    return 0;
  }
  if (c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.head_dim <= 0 || c.n_heads % c.n_kv_heads != 0)
    cokv_fuzz::property_failed("a config with impossible head counts was accepted");
  if (!c.rope_freq_factors.empty() && int(c.rope_freq_factors.size()) != c.rope_dim / 2)
    cokv_fuzz::property_failed("rope factors of the wrong length");
  const cokv::WeightMemory m = cokv::weight_memory(c);
  if (m.n_params <= 0 || m.bf16_bytes > m.fp32_bytes) cokv_fuzz::property_failed("an impossible weight size");
  (void)cokv::memory_report(c);
  return 0;
}
