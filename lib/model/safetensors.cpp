// Safetensors: header parsing and layout validation (see safetensors.h), and the folder's
// file set (single file or index + shards).
#include "model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/file_bytes.h"

namespace cokv {

namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeader = 100'000'000;  // the format's own limit (safetensors MAX_HEADER_SIZE)
constexpr int kMaxDepth = 8;                  // a valid header nests 3 deep; deeper is refused before parsing

// Every dtype the format defines, with its element size in bytes.
const std::map<std::string, size_t>& dtype_sizes() {
  static const std::map<std::string, size_t> m = {
      {"BOOL", 1}, {"U8", 1},   {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
      {"I16", 2},  {"U16", 2},  {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
      {"F32", 4},  {"F64", 8},  {"I64", 8}, {"U64", 8},
  };
  return m;
}

// Bracket depth of a JSON text, ignoring brackets inside strings (nlohmann's DOM would recurse
// on a deeply nested hostile header).
int json_depth(const char* s, size_t n) {
  int depth = 0, max_depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = false;
    } else if (c == '"') {
      in_str = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > kMaxDepth) return max_depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return max_depth;
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// A non-negative integer that fits int64 (JSON numbers may be signed, unsigned or float).
bool as_count(const json& v, uint64_t& out) {
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
  } else if (v.is_number_integer()) {
    if (v.get<int64_t>() < 0) return false;
    out = static_cast<uint64_t>(v.get<int64_t>());
  } else {
    return false;
  }
  return out <= uint64_t(std::numeric_limits<int64_t>::max());
}

}  // namespace

int64_t SafetensorsTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated at open: no overflow
  return n;
}

size_t safetensors_dtype_size(const std::string& dtype) {
  auto it = dtype_sizes().find(dtype);
  return it == dtype_sizes().end() ? 0 : it->second;
}

std::optional<GgmlType> safetensors_weight_type(const std::string& dtype) {
  if (dtype == "F32") return GgmlType::F32;
  if (dtype == "F16") return GgmlType::F16;
  if (dtype == "BF16") return GgmlType::BF16;
  return std::nullopt;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f(MappedFile::open(path));
  f.parse();
  return f;
}

SafetensorsFile SafetensorsFile::from_buffer(std::vector<uint8_t> bytes, const std::string& name) {
  SafetensorsFile f(MappedFile::from_buffer(std::move(bytes), name));
  f.parse();
  return f;
}

const SafetensorsTensor* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void SafetensorsFile::parse() {
  const std::string& path = file_.path();
  const size_t size = file_.size();
  if (size < 8) fail(path, "header length", "an 8-byte little-endian length (not a safetensors file?)",
                     std::to_string(size) + " bytes in the file");
  const uint64_t n = read_u64_le(file_.data());
  if (n > kMaxHeader) fail(path, "header length", "at most " + std::to_string(kMaxHeader) + " bytes", std::to_string(n));
  if (n > size - 8)
    fail(path, "header length", "at most the file size minus 8 (" + std::to_string(size - 8) + " bytes)",
         std::to_string(n) + " (truncated file?)");
  const char* text = reinterpret_cast<const char*>(file_.data() + 8);
  if (json_depth(text, n) > kMaxDepth)
    fail(path, "header", "a JSON object nested at most " + std::to_string(kMaxDepth) + " deep", "deeper nesting");
  json h;
  try {
    h = json::parse(text, text + n);
  } catch (const json::exception& e) {
    fail(path, "header", "valid JSON", e.what());
  }
  if (!h.is_object()) fail(path, "header", "a JSON object", h.type_name());

  const uint8_t* data0 = file_.data() + 8 + n;
  const uint64_t data_size = size - 8 - n;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(path, "__metadata__", "an object of strings", v.type_name());
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail(path, "__metadata__." + m.key(), "a string", m.value().type_name());
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string field = "tensor '" + name + "'";
    if (!v.is_object()) fail(path, field, "an object with dtype, shape, data_offsets", v.type_name());
    SafetensorsTensor t;
    t.name = name;
    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) fail(path, field + " dtype", "a dtype string", dt == v.end() ? "missing" : dt->type_name());
    t.dtype = dt->get<std::string>();
    const size_t esize = safetensors_dtype_size(t.dtype);
    if (esize == 0) fail(path, field + " dtype", "a safetensors dtype (F32, F16, BF16, I64, ...)", "\"" + t.dtype + "\"");
    auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) fail(path, field + " shape", "an array of sizes", sh == v.end() ? "missing" : sh->type_name());
    uint64_t elems = 1;
    bool overflow = false;
    for (const json& d : *sh) {
      uint64_t x;
      if (!as_count(d, x)) fail(path, field + " shape", "non-negative integer sizes", sh->dump());
      if (x != 0 && elems > (uint64_t(1) << 62) / x) overflow = true;
      elems *= x;
      t.shape.push_back(static_cast<int64_t>(x));
    }
    if (overflow) fail(path, field + " shape", "fewer than 2^62 elements", shape_str(t.shape));
    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !as_count((*off)[0], t.begin) ||
        !as_count((*off)[1], t.end))
      fail(path, field + " data_offsets", "[begin, end] byte offsets", off == v.end() ? "missing" : off->dump());
    if (t.end < t.begin || t.end > data_size)
      fail(path, field + " data_offsets",
           "begin <= end <= the data section's " + std::to_string(data_size) + " bytes", off->dump());
    if (elems > (uint64_t(1) << 62) / esize || t.end - t.begin != elems * esize)
      fail(path, field + " data_offsets",
           std::to_string(elems) + " x " + std::to_string(esize) + " bytes for " + t.dtype + " " + shape_str(t.shape),
           std::to_string(t.end - t.begin) + " bytes");
    t.data = data0 + t.begin;
    index_.emplace(name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // The tensors must tile the data section: sorted by offset, each starts where the last ended.
  std::vector<const SafetensorsTensor*> by_off;
  for (const auto& t : tensors_) by_off.push_back(&t);
  std::sort(by_off.begin(), by_off.end(), [](auto* a, auto* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
  uint64_t at = 0;
  const SafetensorsTensor* prev = nullptr;
  for (const auto* t : by_off) {
    if (t->begin < at)
      fail(path, "tensor '" + t->name + "' data_offsets",
           "bytes no other tensor uses", "an overlap with tensor '" + prev->name + "' (which ends at " + std::to_string(at) + ")");
    if (t->begin > at)
      fail(path, "tensor '" + t->name + "' data_offsets", "to start at byte " + std::to_string(at) + " (no gaps)",
           std::to_string(t->begin));
    at = t->end;
    prev = t;
  }
  if (at != data_size)
    fail(path, "data section", std::to_string(at) + " bytes (the end of the last tensor)", std::to_string(data_size));
}

SafetensorsSet SafetensorsSet::open_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  SafetensorsSet s;
  const fs::path single = fs::path(dir) / "model.safetensors", index = fs::path(dir) / "model.safetensors.index.json";
  std::map<std::string, std::string> weight_map;  // tensor -> shard file name
  if (fs::exists(index)) {
    json j;
    try {
      j = json::parse(read_file_bytes(index.string()));
    } catch (const json::exception& e) {
      fail(index.string(), "file", "valid JSON", e.what());
    }
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      fail(index.string(), "weight_map", "an object from tensor names to shard files", "missing");
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string()) fail(index.string(), "weight_map." + it.key(), "a shard file name", it.value().type_name());
      const std::string shard = it.value().get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..")
        fail(index.string(), "weight_map." + it.key(), "a file name in the folder", "\"" + shard + "\"");
      weight_map[it.key()] = shard;
    }
    std::set<std::string> shards;
    for (const auto& [t, f] : weight_map) shards.insert(f);
    std::map<std::string, size_t> shard_pos;
    for (const auto& f : shards) {
      const fs::path p = fs::path(dir) / f;
      if (!fs::exists(p))
        fail(index.string(), "weight_map", "shard files that exist",
             "missing shard " + p.string() + " (holds tensor '" +
                 std::find_if(weight_map.begin(), weight_map.end(), [&](auto& e) { return e.second == f; })->first + "')");
      shard_pos[f] = s.files_.size();
      s.files_.push_back(SafetensorsFile::open(p.string()));
    }
    for (const auto& [t, f] : weight_map) {
      const SafetensorsFile& sf = s.files_[shard_pos[f]];
      const SafetensorsTensor* st = sf.find(t);
      if (!st) fail(sf.path(), "tensor '" + t + "'", "present (" + index.string() + " maps it to this shard)", "missing");
      s.index_[t] = {shard_pos[f], st};
    }
    for (size_t i = 0; i < s.files_.size(); ++i)
      for (const auto& t : s.files_[i].tensors())
        if (!weight_map.count(t.name))
          fail(s.files_[i].path(), "tensor '" + t.name + "'", "listed in " + index.string() + "'s weight_map", "not listed");
  } else if (fs::exists(single)) {
    s.files_.push_back(SafetensorsFile::open(single.string()));
    for (const auto& t : s.files_[0].tensors()) s.index_[t.name] = {0, &t};
  } else {
    fail(dir, "weights", "model.safetensors or model.safetensors.index.json in the folder", "neither");
  }
  return s;
}

const SafetensorsTensor* SafetensorsSet::find(const std::string& name, const std::string** file) const {
  auto it = index_.find(name);
  if (it == index_.end()) return nullptr;
  if (file) *file = &files_[it->second.first].path();
  return it->second.second;
}

std::vector<std::string> SafetensorsSet::paths() const {
  std::vector<std::string> p;
  for (const auto& f : files_) p.push_back(f.path());
  std::sort(p.begin(), p.end());
  return p;
}

}  // namespace cokv
