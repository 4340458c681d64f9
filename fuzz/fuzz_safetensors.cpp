// Fuzz target: safetensors (lib/model/safetensors.*) as the model loader reads them. An input
// starting with '{' is a model.safetensors.index.json beside the three shards of
// tests/data/hf/mistral_tiny; anything else is a model.safetensors. Either way the folder goes
// through the app's path: open_folder (the index, the shard names, the header, the layout),
// then tensor_index and load_weights against the checkpoint's config (qwen2_tiny for a single
// file, mistral_tiny for the index), reading every tensor's bytes. A single file is also parsed
// from an in-memory copy, where ASan sees a read past its end, and every tensor of it must lie
// inside the data section. An error must be a cokv::Error naming a file of the folder.
#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/file_bytes.h"
#include "fuzz_common.h"
#include "model/hf_config.h"
#include "model/model_source.h"
#include "model/safetensors.h"
#include "model/weights.h"

namespace {

const std::string kHf = std::string(COKV_SOURCE_DIR) + "/tests/data/hf";
const char* const kShards[] = {"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                               "model-00003-of-00003.safetensors"};

struct Fixture {
  cokv::ModelConfig single_cfg = cokv::config_from_hf(kHf + "/qwen2_tiny");
  cokv::ModelConfig index_cfg = cokv::config_from_hf(kHf + "/mistral_tiny");
  Fixture() {
    for (const char* s : kShards) cokv_fuzz::write_in_dir(s, cokv::read_file_bytes(kHf + "/mistral_tiny/" + s));
  }
};

// Every tensor of a file that opened lies inside the buffer's data section, and its bytes
// can be read (ASan checks the buffer's bounds).
void check_layout(const uint8_t* data, size_t size) {
  const cokv::SafetensorsFile f = cokv::SafetensorsFile::from_buffer(std::vector<uint8_t>(data, data + size), "fuzz.safetensors");
  uint64_t sum = 0;
  for (const auto& t : f.tensors()) {
    if (t.end < t.begin || t.n_elements() * int64_t(cokv::safetensors_dtype_size(t.dtype)) != int64_t(t.end - t.begin))
      cokv_fuzz::property_failed("a tensor whose byte range does not match its shape opened");
    for (uint64_t i = 0; i < t.end - t.begin; ++i) sum += t.data[i];
  }
  volatile uint64_t keep = sum;
  (void)keep;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture fx;
  const bool index = size > 0 && data[0] == '{';
  const std::string& dir = cokv_fuzz::input_dir();
  if (index) {
    cokv_fuzz::remove_in_dir("model.safetensors");
    cokv_fuzz::write_in_dir("model.safetensors.index.json", cokv_fuzz::as_text(data, size));
  } else {
    cokv_fuzz::remove_in_dir("model.safetensors.index.json");
    cokv_fuzz::write_in_dir("model.safetensors", cokv_fuzz::as_text(data, size));
    try {
      check_layout(data, size);
    } catch (const cokv::Error& e) {
      if (!cokv_fuzz::names_file(e.what(), "fuzz.safetensors")) cokv_fuzz::property_failed("an error that does not name the file");
    }
  }
  try {
    const cokv::SafetensorsSet files = cokv::SafetensorsSet::open_folder(dir);
    const cokv::Weights w = cokv::load_weights(cokv::tensor_index(files, dir), index ? fx.index_cfg : fx.single_cfg,
                                               cokv::WeightMode::Auto);
    (void)w;
  } catch (const cokv::Error& e) {
    if (!cokv_fuzz::names_file(e.what(), dir)) cokv_fuzz::property_failed("an error that does not name the folder's file");
  }
  return 0;
}
