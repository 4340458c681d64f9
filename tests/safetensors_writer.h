// A tiny safetensors writer for tests: builds file images in memory as the format's README
// lays them out (u64 header length, JSON header padded with spaces to 8 bytes, data), with the
// header available as JSON so tests can break any field. Not part of lib/: cokv never writes
// safetensors.
#pragma once
#include <cstdint>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace st_test {

struct Tensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

inline Tensor f32(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v) {
  Tensor t{name, "F32", std::move(shape), std::vector<uint8_t>(v.size() * 4)};
  std::memcpy(t.data.data(), v.data(), t.data.size());
  return t;
}

// The header a writer would produce: offsets in order.
inline nlohmann::json header_of(const std::vector<Tensor>& ts) {
  nlohmann::json h = nlohmann::json::object();
  uint64_t off = 0;
  for (const auto& t : ts) {
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.data.size()}}};
    off += t.data.size();
  }
  h["__metadata__"] = {{"format", "pt"}};
  return h;
}

// Header text (padded to a multiple of 8 with spaces) + data of every tensor in order.
inline std::vector<uint8_t> image(const std::string& header_text, const std::vector<Tensor>& ts) {
  std::string h = header_text;
  while (h.size() % 8) h += ' ';
  std::vector<uint8_t> out(8);
  const uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[size_t(i)] = uint8_t(n >> (8 * i));
  out.insert(out.end(), h.begin(), h.end());
  for (const auto& t : ts) out.insert(out.end(), t.data.begin(), t.data.end());
  return out;
}
inline std::vector<uint8_t> image(const std::vector<Tensor>& ts) { return image(header_of(ts).dump(), ts); }

inline void write(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

}  // namespace st_test
