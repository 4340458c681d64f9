// Safetensors reader (one file) and the set of files a Hugging Face folder holds (one
// model.safetensors, or shards listed by model.safetensors.index.json).
//
// File layout (little-endian; the format's README): u64 N | N bytes of a JSON object
//   {"<name>": {"dtype": "BF16", "shape": [rows, cols], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"<key>": "<string>"}}
// (the JSON may be padded with trailing spaces) | the data, offsets relative to its start.
// Checked as the format's own validator does: N within the file, a JSON object, a known
// dtype, end - begin = elements x dtype size, and the tensors tiling the data section exactly
// (no overlap, no gap, nothing past its end). Every fault throws Error naming the file and,
// where there is one, the tensor.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/mapped_file.h"
#include "model/gguf.h"

namespace cokv {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;            // as written: "F32", "BF16", "I64", ...
  std::vector<int64_t> shape;   // row-major, outermost first
  uint64_t begin = 0, end = 0;  // byte range within the data section
  const uint8_t* data = nullptr;
  int64_t n_elements() const;
};

// Bytes per element of a safetensors dtype; 0 for a name the format does not define.
size_t safetensors_dtype_size(const std::string& dtype);
// The ggml storage type of a dtype cokv can load as weights (F32, F16, BF16); nullopt otherwise.
std::optional<GgmlType> safetensors_weight_type(const std::string& dtype);

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);
  static SafetensorsFile from_buffer(std::vector<uint8_t> bytes, const std::string& name);

  const std::string& path() const { return file_.path(); }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }  // in header order
  const SafetensorsTensor* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  explicit SafetensorsFile(MappedFile f) : file_(std::move(f)) {}
  void parse();
  MappedFile file_;
  std::vector<SafetensorsTensor> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// All weight files of a folder: model.safetensors, or model.safetensors.index.json and the
// shards its weight_map names (each shard must exist and hold the tensors mapped to it; a
// tensor in a shard that the index does not list is an error too).
class SafetensorsSet {
 public:
  static SafetensorsSet open_folder(const std::string& dir);
  const std::vector<SafetensorsFile>& files() const { return files_; }
  // The tensor and the file it is in; nullptr when no file has it.
  const SafetensorsTensor* find(const std::string& name, const std::string** file = nullptr) const;
  // Weight file paths in a fixed order (sorted by name): what the folder's content hash covers.
  std::vector<std::string> paths() const;

 private:
  std::vector<SafetensorsFile> files_;
  std::unordered_map<std::string, std::pair<size_t, const SafetensorsTensor*>> index_;
};

}  // namespace cokv
