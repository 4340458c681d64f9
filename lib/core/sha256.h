// SHA-256 (FIPS 180-4) of strings and files, used for the model's file_sha256 in budget
// tables. Files are streamed in 1 MiB chunks. On x86 CPUs with the SHA extensions (when the
// build enables them, e.g. -march=native) the compression runs on SHA-NI; otherwise a
// portable implementation. Both are checked against the FIPS test vectors.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cokv {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<uint8_t, 32> digest();  // finalises; the object must not be updated afterwards
  std::string hex_digest();          // lowercase hex of digest()

  // Test hook: force the portable compression even when SHA-NI is compiled in.
  bool force_portable = false;

 private:
  void compress(const uint8_t* blocks, size_t n_blocks);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_ = 0;  // bytes hashed so far
};

std::string sha256_hex(std::string_view data);
// Streams the file; throws cokv::Error naming the path when it cannot be read.
std::string sha256_file_hex(const std::string& path);
// True when this build uses the x86 SHA extensions.
bool sha256_has_hw();

}  // namespace cokv
