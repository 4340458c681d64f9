// bench/sha256_file: times cokv::sha256_file_hex on a file (default: the default model).
//   ./build/sha256_file [path] [--portable]   (--portable: without SHA-NI, for comparison)
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <vector>

#include "core/paths.h"
#include "core/sha256.h"

int main(int argc, char** argv) try {
  const std::string path = argc > 1 ? argv[1] : cokv::default_model_path();
  const bool portable = argc > 2 && std::strcmp(argv[2], "--portable") == 0;
  const auto t0 = std::chrono::steady_clock::now();
  std::string hex;
  if (!portable) {
    hex = cokv::sha256_file_hex(path);
  } else {
    cokv::Sha256 h;
    h.force_portable = true;
    std::vector<char> buf(1 << 20);
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return 1;
    size_t got;
    while ((got = std::fread(buf.data(), 1, buf.size(), f)) > 0) h.update(buf.data(), got);
    std::fclose(f);
    hex = h.hex_digest();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double mb = std::filesystem::file_size(path) / 1e6;
  std::cout << hex << "  " << path << "\n"
            << mb << " MB in " << s << " s = " << mb / s << " MB/s (SHA-NI "
            << (cokv::sha256_has_hw() && !portable ? "on" : "off") << ")\n";
} catch (const std::exception& e) {
  std::cerr << "sha256_file: " << e.what() << "\n";
  return 1;
}
