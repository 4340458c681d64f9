// Shared by the libFuzzer targets (fuzz/fuzz_*.cpp; run them with scripts/fuzz TARGET SECONDS).
// The contract every target checks: bad input throws cokv::Error and nothing else. Any other
// exception escapes LLVMFuzzerTestOneInput, which libFuzzer reports as a crash (with the
// input saved), as it does sanitizer reports, timeouts and running out of memory.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace cokv_fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A file holding the input, for readers that take a path (the path the apps use): one per
// process under $TMPDIR, rewritten for every input, removed at exit.
inline const std::string& input_file(const char* suffix) {
  static const std::string path = [suffix] {
    const char* dir = std::getenv("TMPDIR");
    std::string p = std::string(dir && *dir ? dir : "/tmp") + "/cokv-fuzz-" + std::to_string(::getpid()) + suffix;
    static std::string keep;
    keep = p;
    std::atexit([] { ::unlink(keep.c_str()); });
    return p;
  }();
  return path;
}

// Plain write, no fsync (write_file_bytes syncs: far too slow per input).
inline const std::string& write_input(const uint8_t* data, size_t size, const char* suffix) {
  const std::string& path = input_file(suffix);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

// A folder for readers that take a model folder (config.json, tokenizer.json, safetensors):
// one per process under $TMPDIR, removed with its files at exit.
inline const std::string& input_dir() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string p = std::string(dir && *dir ? dir : "/tmp") + "/cokv-fuzz-" + std::to_string(::getpid()) + ".d";
    std::filesystem::create_directories(p);
    static std::string keep;
    keep = p;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(keep, ec);
    });
    return p;
  }();
  return path;
}

// Writes `bytes` as `name` in input_dir() (plain write, no fsync); returns its path.
inline std::string write_in_dir(const std::string& name, std::string_view bytes) {
  const std::string path = input_dir() + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

// Removes `name` from input_dir() (absent is fine).
inline void remove_in_dir(const std::string& name) { ::unlink((input_dir() + "/" + name).c_str()); }

// True when an error message names `path` (the contract: errors name the file).
inline bool names_file(const char* what, const std::string& path) { return std::string_view(what).find(path) != std::string_view::npos; }

// Stops the run with a message when a property the target checks does not hold (libFuzzer
// saves the input, as for a crash).
[[noreturn]] inline void property_failed(const char* what) {
  std::fprintf(stderr, "property failed: %s\n", what);
  std::abort();
}

}  // namespace cokv_fuzz
