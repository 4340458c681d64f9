// A tiny GGUF writer for tests: builds v2/v3 images in memory, byte by byte as docs/gguf.md
// lays them out, with hooks to break any field (the malformed-file tests). Not part of lib/:
// cokv never writes GGUF.
#pragma once
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace gguf_test {

// Little-endian byte sink for one section.
struct Bytes {
  std::vector<uint8_t> b;
  template <class T>
  Bytes& put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
    return *this;
  }
  Bytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& raw(const std::vector<uint8_t>& r) {
    b.insert(b.end(), r.begin(), r.end());
    return *this;
  }
};

// GGUF value type codes (docs/gguf.md).
enum : uint32_t { U8 = 0, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 };

struct Writer {
  uint32_t magic = 0x46554747;  // "GGUF" little-endian
  uint32_t version = 3;
  uint64_t alignment = 32;      // layout alignment (set general.alignment to match)
  std::optional<uint64_t> n_kv_override, n_tensors_override;
  Bytes kvs;
  uint64_t n_kv = 0;

  struct Tensor {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type = 0;
    std::vector<uint8_t> data;
    std::optional<uint64_t> offset;  // override the computed offset
  };
  std::vector<Tensor> tensors;

  // A key with a value whose encoding the caller writes (type code + payload).
  Writer& kv_raw(const std::string& key, uint32_t type, const Bytes& payload) {
    kvs.str(key).put<uint32_t>(type).raw(payload.b);
    ++n_kv;
    return *this;
  }
  template <class T>
  Writer& kv(const std::string& key, uint32_t type, T v) {
    return kv_raw(key, type, Bytes().put<T>(v));
  }
  Writer& kv_u32(const std::string& k, uint32_t v) { return kv(k, U32, v); }
  Writer& kv_f32(const std::string& k, float v) { return kv(k, F32, v); }
  Writer& kv_str(const std::string& k, const std::string& v) { return kv_raw(k, STRING, Bytes().str(v)); }
  Writer& kv_strs(const std::string& k, const std::vector<std::string>& v) {
    Bytes p;
    p.put<uint32_t>(STRING).put<uint64_t>(v.size());
    for (const auto& s : v) p.str(s);
    return kv_raw(k, ARRAY, p);
  }

  Writer& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, std::vector<uint8_t> data) {
    tensors.push_back({name, std::move(ne), type, std::move(data), std::nullopt});
    return *this;
  }
  Writer& tensor_f32(const std::string& name, std::vector<uint64_t> ne, const std::vector<float>& v) {
    std::vector<uint8_t> d(v.size() * 4);
    std::memcpy(d.data(), v.data(), d.size());
    return tensor(name, std::move(ne), 0, std::move(d));
  }

  static uint64_t pad(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

  std::vector<uint8_t> build() const {
    Bytes out;
    out.put<uint32_t>(magic).put<uint32_t>(version);
    out.put<uint64_t>(n_tensors_override.value_or(tensors.size()));
    out.put<uint64_t>(n_kv_override.value_or(n_kv));
    out.raw(kvs.b);
    uint64_t off = 0;
    std::vector<uint64_t> offsets;
    for (const auto& t : tensors) {
      out.str(t.name).put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
      for (uint64_t d : t.ne) out.put<uint64_t>(d);
      out.put<uint32_t>(t.type);
      const uint64_t o = t.offset.value_or(off);
      out.put<uint64_t>(o);
      offsets.push_back(o);
      off = pad(o + t.data.size(), alignment);
    }
    out.b.resize(pad(out.b.size(), alignment), 0);
    const size_t data0 = out.b.size();
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (offsets[i] > (uint64_t{1} << 30)) continue;  // absurd test offsets: no data written
      const size_t at = data0 + offsets[i];
      if (out.b.size() < at + tensors[i].data.size()) out.b.resize(at + tensors[i].data.size(), 0);
      if (!tensors[i].data.empty())
        std::memcpy(out.b.data() + at, tensors[i].data.data(), tensors[i].data.size());
    }
    if (!tensors.empty()) out.b.resize(pad(out.b.size(), alignment), 0);
    return out.b;
  }
};

}  // namespace gguf_test
