// A read-only view of a whole file's bytes: memory-mapped from disk, or an owned in-memory
// buffer (tests, embedded images). Errors name the path.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cokv {

class MappedFile {
 public:
  // Maps `path` read-only; throws Error naming the path when it is missing, not a regular
  // file or cannot be mapped. An empty file maps to size() == 0.
  static MappedFile open(const std::string& path);
  static MappedFile from_buffer(std::vector<uint8_t> bytes, const std::string& name);
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::string& path() const { return path_; }
  const uint8_t* data() const { return base_; }
  size_t size() const { return size_; }

 private:
  MappedFile() = default;
  std::string path_;
  void* map_ = nullptr;  // owned mapping (or null)
  std::vector<uint8_t> buffer_;  // owned bytes (or empty)
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
};

}  // namespace cokv
