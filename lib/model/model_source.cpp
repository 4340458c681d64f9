#include "model/model_source.h"

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/sha256.h"
#include "model/gguf.h"
#include "model/hf_config.h"
#include "model/safetensors.h"

namespace cokv {

namespace fs = std::filesystem;

ModelFormat model_format(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return ModelFormat::HfFolder;
  if (!fs::exists(path, ec)) fail(path, "model", "a GGUF file or a Hugging Face model folder", "no such file or folder");
  return ModelFormat::Gguf;
}

const char* model_format_name(ModelFormat f) { return f == ModelFormat::Gguf ? "gguf" : "hf-folder"; }

ModelConfig read_model_config(const std::string& path) {
  if (model_format(path) == ModelFormat::HfFolder) return config_from_hf(path);
  return config_from_gguf(GgufFile::open(path));
}

TensorIndex tensor_index(const SafetensorsSet& files, const std::string& dir) {
  TensorIndex ix;
  ix.naming = TensorNaming::HuggingFace;
  ix.where = dir;
  for (const auto& f : files.files())
    for (const auto& t : f.tensors()) {
      TensorRef r;
      r.file = f.path();
      r.name = t.name;
      if (auto type = safetensors_weight_type(t.dtype)) r.type = *type;
      else r.unsupported = t.dtype;
      r.shape = t.shape;
      r.data = t.data;
      ix.by_name[t.name] = ix.tensors.size();
      ix.tensors.push_back(std::move(r));
    }
  return ix;
}

Weights load_model_weights(const std::string& path, const ModelConfig& cfg, WeightMode mode) {
  if (model_format(path) == ModelFormat::Gguf) return load_weights(GgufFile::open(path), cfg, mode);
  const SafetensorsSet files = SafetensorsSet::open_folder(path);
  return load_weights(tensor_index(files, path), cfg, mode);
}

namespace {
std::string gib(double bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f GiB (%.2f GB)", bytes / double(int64_t{1} << 30), bytes / 1e9);
  return buf;
}
}  // namespace

std::string memory_report(const ModelConfig& c) {
  const WeightMemory m = weight_memory(c);
  // K and V, fp32; in double: a config may give sizes whose product overflows int64.
  const double kv_per_token = 2.0 * c.n_layers * c.n_kv_heads * c.head_dim * 4;
  char params[64];
  std::snprintf(params, sizeof params, "%.3f B (%lld)", double(m.n_params) / 1e9, static_cast<long long>(m.n_params));
  std::string r;
  r += "parameters:        " + std::string(params) + "\n";
  r += "weights fp32:      " + gib(m.fp32_bytes) + "\n";
  r += "weights bf16:      " + gib(m.bf16_bytes) + " (matrices 2 bytes, norms and biases fp32)\n";
  r += "weights q8_0:      " + gib(m.q8_0_bytes) + " (matrices 34 bytes per 32 weights, norms and biases fp32)\n";
  r += "weights file:      as the file stores its matrices (about the file's size)\n";
  r += "weights auto:      " + std::string(weight_mode_name(m.auto_pick)) + " (fp32 up to " + gib(kAutoFp32Bytes) + " of fp32 weights)\n";
  r += "KV cache (fp32):   " + std::to_string(int64_t(kv_per_token / 1024)) + " KiB per token; " + gib(kv_per_token * c.n_ctx_train) +
       " at the trained context of " + std::to_string(c.n_ctx_train) + " tokens\n";
  return r;
}

std::string hf_folder_manifest(const std::string& dir) {
  std::vector<std::string> files;
  for (const char* name : {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                           "chat_template.jinja"})
    if (fs::exists(fs::path(dir) / name)) files.push_back((fs::path(dir) / name).string());
  for (const auto& p : SafetensorsSet::open_folder(dir).paths()) files.push_back(p);
  std::string m = "cokv.hf-folder.v1\n";
  for (const auto& f : files) m += sha256_file_hex(f) + "  " + fs::path(f).filename().string() + "\n";
  return m;
}

std::string model_sha256(const std::string& path) {
  if (model_format(path) == ModelFormat::Gguf) return sha256_file_hex(path);
  return sha256_hex(hf_folder_manifest(path));
}

}  // namespace cokv
