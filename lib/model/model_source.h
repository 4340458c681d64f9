// A model on disk, read one way whatever its format: a GGUF file, or a Hugging Face folder
// (config.json, model.safetensors or model.safetensors.index.json + shards, tokenizer.json,
// tokenizer_config.json, generation_config.json). `--model` takes either everywhere.
#pragma once
#include <string>

#include "model/config.h"
#include "model/model_info.h"
#include "model/weights.h"

namespace cokv {

ModelFormat model_format(const std::string& path);  // a folder is HfFolder; throws if path is missing
const char* model_format_name(ModelFormat f);       // "gguf" | "hf-folder"

// The config alone (GGUF: header and metadata; folder: config.json), no weights decoded.
ModelConfig read_model_config(const std::string& path);

// The weights of the model at `path` (cfg: its config, from load_model_info / read_model_config),
// decoded into the storage `mode` asks for (Auto resolved from cfg).
Weights load_model_weights(const std::string& path, const ModelConfig& cfg, WeightMode mode);

// The tensors of a folder's safetensors files (which stay mapped while `files` lives).
class SafetensorsSet;
TensorIndex tensor_index(const SafetensorsSet& files, const std::string& dir);

// What the model needs in memory, from its config alone: parameters, weights in each
// --weights mode (and what auto picks), and the fp32 KV cache per token and at the trained
// context. Several lines of text (cokv-generate --dry-run prints it).
std::string memory_report(const ModelConfig& cfg);

// What budget tables record as model.file_sha256.
//  GGUF file: the sha256 of the file.
//  Folder:    the sha256 of a manifest: "cokv.hf-folder.v1\n" then, for each file cokv reads
//             (config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
//             chat_template.jinja where present, then the safetensors weight files sorted by
//             name), a line "<sha256 of the file>  <file name>\n".
std::string model_sha256(const std::string& path);
// The manifest itself (for messages and tests).
std::string hf_folder_manifest(const std::string& dir);

}  // namespace cokv
