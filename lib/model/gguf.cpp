// GGUF v2/v3 reader: maps the file read-only, walks header -> metadata -> tensor infos with a
// bounds-checked cursor, then validates the tensor layout (alignment, sizes, overlaps).
// Layout (little-endian; ggml docs/gguf.md):
//   u32 magic "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//   kv_count x { string key | u32 type | value }          string = u64 len + bytes
//   tensor_count x { string name | u32 n_dims | u64 ne[n_dims] | u32 type | u64 offset }
//   padding to general.alignment | tensor data (offsets relative to here)
#include "model/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "core/error.h"
#include "core/file_bytes.h"
#include "model/dequant.h"

namespace cokv {

const char* gguf_type_name(GgufValue::Type t) {
  switch (t) {
    case GgufValue::Type::U8: return "u8";
    case GgufValue::Type::I8: return "i8";
    case GgufValue::Type::U16: return "u16";
    case GgufValue::Type::I16: return "i16";
    case GgufValue::Type::U32: return "u32";
    case GgufValue::Type::I32: return "i32";
    case GgufValue::Type::F32: return "f32";
    case GgufValue::Type::BOOL: return "bool";
    case GgufValue::Type::STRING: return "string";
    case GgufValue::Type::ARRAY: return "array";
    case GgufValue::Type::U64: return "u64";
    case GgufValue::Type::I64: return "i64";
    case GgufValue::Type::F64: return "f64";
  }
  return "unknown";
}

int64_t GgufTensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;  // validated at open: no overflow
  return n;
}

namespace {

using VT = GgufValue::Type;

constexpr uint32_t kMaxDims = 4;        // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 16;      // nested arrays deeper than this are rejected (stack)
constexpr uint64_t kDefaultAlignment = 32;

// Smallest encoding of one value of type t; used to reject counts the file cannot hold.
size_t min_value_bytes(VT t) {
  switch (t) {
    case VT::U8: case VT::I8: case VT::BOOL: return 1;
    case VT::U16: case VT::I16: return 2;
    case VT::U32: case VT::I32: case VT::F32: return 4;
    case VT::U64: case VT::I64: case VT::F64: case VT::STRING: return 8;
    case VT::ARRAY: return 12;  // u32 type + u64 count
  }
  return 1;
}

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(VT::F64); }

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// Reads little-endian scalars; every read is checked against the end of the image. The
// field being read is given by (ctx, part) and only formatted into a string on failure.
class Cursor {
 public:
  Cursor(const uint8_t* base, size_t size, const std::string& where) : base_(base), size_(size), where_(where) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  const std::string& where() const { return where_; }

  // The field the next reads belong to, e.g. key "general.name" or "tensor 'x' ne[1]".
  void set_field(std::string f) { field_ = std::move(f); }
  const std::string& field() const { return field_; }

  void need(size_t n, const char* what) {
    if (n > remaining())
      fail(where_, field_, std::to_string(n) + " bytes of " + what + " at offset " + std::to_string(pos_),
           "end of file at offset " + std::to_string(size_) + " (file truncated?)");
  }
  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));  // unaligned-safe; GGUF is little-endian like the host
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(const char* what) {
    uint64_t len = read<uint64_t>(what);
    if (len > remaining())
      fail(where_, field_, std::string(what) + " of at most " + std::to_string(remaining()) +
                               " bytes (what is left of the file)", "length " + std::to_string(len));
    std::string s(reinterpret_cast<const char*>(base_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }

 private:
  const uint8_t* base_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& where_;
  std::string field_;
};

GgufValue read_value(Cursor& c, VT t, int depth);

GgufValue read_array(Cursor& c, int depth) {
  if (depth >= kMaxArrayDepth)
    fail(c.where(), c.field(), "arrays nested at most " + std::to_string(kMaxArrayDepth) + " deep");
  uint32_t et = c.read<uint32_t>("array element type");
  if (!valid_value_type(et))
    fail(c.where(), c.field(), "an array element type 0..12 (u8,i8,u16,i16,u32,i32,f32,bool,string,array,u64,i64,f64)",
         std::to_string(et));
  uint64_t n = c.read<uint64_t>("array length");
  VT etype = static_cast<VT>(et);
  if (n > c.remaining() / min_value_bytes(etype))
    fail(c.where(), c.field(), "an array length the rest of the file can hold (at most " +
                                   std::to_string(c.remaining() / min_value_bytes(etype)) + " " +
                                   gguf_type_name(etype) + " values)", std::to_string(n));
  GgufValue out;
  out.type = VT::ARRAY;
  out.array_type = etype;
  std::vector<GgufValue> items;
  items.reserve(static_cast<size_t>(n));
  for (uint64_t i = 0; i < n; ++i) items.push_back(read_value(c, etype, depth + 1));
  out.v = std::move(items);
  return out;
}

GgufValue read_value(Cursor& c, VT t, int depth) {
  GgufValue out;
  out.type = t;
  switch (t) {
    case VT::U8: out.v = uint64_t{c.read<uint8_t>("u8 value")}; break;
    case VT::I8: out.v = int64_t{c.read<int8_t>("i8 value")}; break;
    case VT::U16: out.v = uint64_t{c.read<uint16_t>("u16 value")}; break;
    case VT::I16: out.v = int64_t{c.read<int16_t>("i16 value")}; break;
    case VT::U32: out.v = uint64_t{c.read<uint32_t>("u32 value")}; break;
    case VT::I32: out.v = int64_t{c.read<int32_t>("i32 value")}; break;
    case VT::U64: out.v = c.read<uint64_t>("u64 value"); break;
    case VT::I64: out.v = c.read<int64_t>("i64 value"); break;
    case VT::F32: out.v = double{c.read<float>("f32 value")}; break;
    case VT::F64: out.v = c.read<double>("f64 value"); break;
    case VT::BOOL: {
      uint8_t b = c.read<uint8_t>("bool value");
      if (b > 1) fail(c.where(), c.field(), "a bool stored as 0 or 1", std::to_string(b));
      out.v = b == 1;
      break;
    }
    case VT::STRING: out.v = c.read_string("string value"); break;
    case VT::ARRAY: return read_array(c, depth);
  }
  return out;
}

bool is_int_type(VT t) {
  return t == VT::U8 || t == VT::I8 || t == VT::U16 || t == VT::I16 || t == VT::U32 || t == VT::I32 ||
         t == VT::U64 || t == VT::I64;
}

// Integer value as int64 when it fits, else nullopt.
std::optional<int64_t> as_int64(const GgufValue& v) {
  if (const auto* u = std::get_if<uint64_t>(&v.v)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&v.v)) return *i;
  return std::nullopt;
}

std::string describe(const GgufValue& v) {
  std::string s = gguf_type_name(v.type);
  if (v.type == VT::ARRAY) s += std::string(" of ") + gguf_type_name(v.array_type);
  return s;
}

}  // namespace

struct GgufFile::Impl {
  std::string path;
  // Exactly one of these owns the bytes.
  void* map = nullptr;
  size_t map_size = 0;
  std::vector<uint8_t> buffer;
  const uint8_t* base = nullptr;
  size_t size = 0;

  uint32_t version = 0;
  uint64_t alignment = kDefaultAlignment;
  uint64_t data_offset = 0;
  std::map<std::string, GgufValue> metadata;
  std::vector<GgufTensorInfo> tensors;
  std::unordered_map<std::string, size_t> tensor_index;

  ~Impl() {
    if (map) munmap(map, map_size);
  }

  void parse();
  void parse_alignment();
};

void GgufFile::Impl::parse() {
  Cursor c(base, size, path);

  c.set_field("header.magic");
  c.need(4, "magic");
  uint32_t magic = c.read<uint32_t>("magic");
  if (std::memcmp(&magic, "GGUF", 4) != 0) {
    char got[5] = {0};
    std::memcpy(got, &magic, 4);
    for (char& ch : got)
      if (ch && (ch < 32 || ch > 126)) ch = '?';
    fail(path, "header.magic", "\"GGUF\" (not a GGUF file?)", "\"" + std::string(got) + "\" (" + hex32(magic) + ")");
  }
  c.set_field("header.version");
  version = c.read<uint32_t>("version");
  if (version != 2 && version != 3) {
    std::string got = std::to_string(version);
    if (version == 1) got += " (GGUF v1, written before 2023-08: reconvert the model)";
    else if ((version & 0xffff) == 0 && version != 0) got += " (a big-endian GGUF file?)";
    fail(path, "header.version", "2 or 3", got);
  }
  c.set_field("header.tensor_count");
  uint64_t n_tensors = c.read<uint64_t>("tensor count");
  c.set_field("header.kv_count");
  uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Each key/value takes >= 13 bytes (u64 key length, u32 type, 1 byte value); each tensor
  // info >= 32 (u64 name length, u32 n_dims, u64 ne[0], u32 type, u64 offset).
  if (n_kv > c.remaining() / 13)
    fail(path, "header.kv_count", "at most " + std::to_string(c.remaining() / 13) + " (what the file can hold)",
         std::to_string(n_kv));
  if (n_tensors > c.remaining() / 32)
    fail(path, "header.tensor_count", "at most " + std::to_string(c.remaining() / 32) + " (what the file can hold)",
         std::to_string(n_tensors));

  for (uint64_t i = 0; i < n_kv; ++i) {
    c.set_field("metadata[" + std::to_string(i) + "].key");
    std::string key = c.read_string("key");
    if (metadata.count(key)) fail(path, key, "a key that appears once", "a duplicate key (metadata[" + std::to_string(i) + "])");
    c.set_field(key);
    uint32_t t = c.read<uint32_t>("value type");
    if (!valid_value_type(t))
      fail(path, key, "a value type 0..12 (u8,i8,u16,i16,u32,i32,f32,bool,string,array,u64,i64,f64)",
           std::to_string(t));
    metadata.emplace(std::move(key), read_value(c, static_cast<VT>(t), 0));
  }
  parse_alignment();

  tensors.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo ti;
    c.set_field("tensor[" + std::to_string(i) + "].name");
    ti.name = c.read_string("tensor name");
    if (tensor_index.count(ti.name))
      fail(path, "tensor '" + ti.name + "'", "a tensor name that appears once", "a duplicate (tensor[" + std::to_string(i) + "])");
    const std::string tf = "tensor '" + ti.name + "'";
    c.set_field(tf + " n_dims");
    uint32_t n_dims = c.read<uint32_t>("n_dims");
    if (n_dims < 1 || n_dims > kMaxDims) fail(path, tf + " n_dims", "1 to 4", std::to_string(n_dims));
    int64_t n_el = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      c.set_field(tf + " ne[" + std::to_string(d) + "]");
      int64_t ne = static_cast<int64_t>(c.read<uint64_t>("dimension"));
      if (ne < 0) fail(path, c.field(), "a non-negative dimension", std::to_string(ne));
      if (ne != 0 && n_el > std::numeric_limits<int64_t>::max() / ne)
        fail(path, c.field(), "dimensions whose product fits in int64", "overflow at ne[" + std::to_string(d) + "] = " + std::to_string(ne));
      n_el *= ne;
      ti.ne.push_back(ne);
    }
    c.set_field(tf + " type");
    uint32_t type = c.read<uint32_t>("tensor type");
    if (!ggml_type_known(type))
      fail(path, tf + " type", "a ggml tensor type (0-3, 6-30, 34, 35, 39-41)", std::to_string(type));
    ti.type = static_cast<GgmlType>(type);
    const int64_t bs = ggml_block_size(ti.type);
    if (ti.ne[0] % bs != 0)
      fail(path, tf + " ne[0]", "a multiple of " + std::to_string(bs) + " (the " + ggml_type_name(ti.type) + " block size)",
           std::to_string(ti.ne[0]));
    // Row bytes times rows; computed in unsigned 128-bit-free steps with overflow checks.
    const uint64_t row_bytes = static_cast<uint64_t>(ti.ne[0] / bs) * ggml_block_bytes(ti.type);
    const uint64_t rows = ti.ne[0] == 0 ? 0 : static_cast<uint64_t>(n_el / ti.ne[0]);
    if (rows != 0 && row_bytes > std::numeric_limits<uint64_t>::max() / rows)
      fail(path, tf, "a data size that fits in 64 bits");
    ti.n_bytes = row_bytes * rows;
    c.set_field(tf + " offset");
    ti.offset = c.read<uint64_t>("offset");
    if (ti.offset % alignment != 0)
      fail(path, tf + " offset", "a multiple of the alignment " + std::to_string(alignment), std::to_string(ti.offset));
    tensor_index.emplace(ti.name, tensors.size());
    tensors.push_back(std::move(ti));
  }

  // Data section: next multiple of the alignment after the tensor infos.
  data_offset = (c.pos() + alignment - 1) / alignment * alignment;
  const uint64_t data_size = data_offset <= size ? size - data_offset : 0;
  for (auto& ti : tensors) {
    if (ti.offset > data_size || ti.n_bytes > data_size - ti.offset)
      fail(path, "tensor '" + ti.name + "' data",
           "offset + size within the file: data section at " + std::to_string(data_offset) + " holds " +
               std::to_string(data_size) + " bytes",
           "offset " + std::to_string(ti.offset) + " + " + std::to_string(ti.n_bytes) + " bytes (file truncated?)");
    ti.data = base + data_offset + ti.offset;
  }
  // Tensors must not share bytes (ggml writes them back to back, each padded).
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tensors[a].offset < tensors[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const auto& prev = tensors[order[k - 1]];
    const auto& cur = tensors[order[k]];
    if (prev.n_bytes > 0 && cur.offset < prev.offset + prev.n_bytes)
      fail(path, "tensor '" + cur.name + "' offset",
           "data that does not overlap tensor '" + prev.name + "' (which ends at " + std::to_string(prev.offset + prev.n_bytes) + ")",
           std::to_string(cur.offset));
  }
}

void GgufFile::Impl::parse_alignment() {
  auto it = metadata.find("general.alignment");
  if (it == metadata.end()) return;
  auto v = is_int_type(it->second.type) ? as_int64(it->second) : std::nullopt;
  if (!v || *v <= 0 || (*v & (*v - 1)) != 0)
    fail(path, "general.alignment", "a positive power of two (u32)",
         v ? std::to_string(*v) : describe(it->second));
  alignment = static_cast<uint64_t>(*v);
}

GgufFile::GgufFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

GgufFile GgufFile::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  require_regular_file(path, "file");  // a FIFO or a device: refused before it is opened
  // O_NONBLOCK too: a FIFO put in place after that check must not block the open.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail(path, "file", "a readable GGUF file", std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "file", "a regular file");
  }
  impl->size = static_cast<size_t>(st.st_size);
  if (impl->size == 0) {
    ::close(fd);
    fail(path, "header.magic", "\"GGUF\"", "an empty file");
  }
  void* m = mmap(nullptr, impl->size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (m == MAP_FAILED) fail(path, "file", "a file that can be memory-mapped", std::strerror(err));
  impl->map = m;
  impl->map_size = impl->size;
  impl->base = static_cast<const uint8_t*>(m);
  impl->parse();
  return GgufFile(std::move(impl));
}

GgufFile GgufFile::from_buffer(std::vector<uint8_t> bytes, const std::string& name) {
  auto impl = std::make_unique<Impl>();
  impl->path = name;
  impl->buffer = std::move(bytes);
  impl->base = impl->buffer.data();
  impl->size = impl->buffer.size();
  impl->parse();
  return GgufFile(std::move(impl));
}

const std::string& GgufFile::path() const { return impl_->path; }
uint32_t GgufFile::version() const { return impl_->version; }
uint64_t GgufFile::alignment() const { return impl_->alignment; }
uint64_t GgufFile::data_offset() const { return impl_->data_offset; }
const std::map<std::string, GgufValue>& GgufFile::metadata() const { return impl_->metadata; }
bool GgufFile::has(const std::string& key) const { return impl_->metadata.count(key) != 0; }

const GgufValue& GgufFile::value(const std::string& key) const {
  auto it = impl_->metadata.find(key);
  if (it == impl_->metadata.end()) fail(impl_->path, key, "a metadata key that is present", "missing");
  return it->second;
}

std::optional<int64_t> GgufFile::find_int(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  const GgufValue& v = value(key);
  auto i = is_int_type(v.type) ? as_int64(v) : std::nullopt;
  if (!i) fail(impl_->path, key, "an integer that fits in int64", describe(v));
  return i;
}
std::optional<double> GgufFile::find_float(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  const GgufValue& v = value(key);
  if (v.type != VT::F32 && v.type != VT::F64) fail(impl_->path, key, "a float (f32 or f64)", describe(v));
  return std::get<double>(v.v);
}
std::optional<bool> GgufFile::find_bool(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  const GgufValue& v = value(key);
  if (v.type != VT::BOOL) fail(impl_->path, key, "a bool", describe(v));
  return std::get<bool>(v.v);
}
std::optional<std::string> GgufFile::find_string(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  const GgufValue& v = value(key);
  if (v.type != VT::STRING) fail(impl_->path, key, "a string", describe(v));
  return std::get<std::string>(v.v);
}

int64_t GgufFile::get_int(const std::string& key) const {
  value(key);  // throws "missing"
  return *find_int(key);
}
double GgufFile::get_float(const std::string& key) const {
  value(key);
  return *find_float(key);
}
bool GgufFile::get_bool(const std::string& key) const {
  value(key);
  return *find_bool(key);
}
std::string GgufFile::get_string(const std::string& key) const {
  value(key);
  return *find_string(key);
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != VT::ARRAY || v.array_type != VT::STRING) fail(impl_->path, key, "an array of string", describe(v));
  const auto& items = std::get<std::vector<GgufValue>>(v.v);
  std::vector<std::string> out;
  out.reserve(items.size());
  for (const auto& it : items) out.push_back(std::get<std::string>(it.v));
  return out;
}
std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != VT::ARRAY || !is_int_type(v.array_type)) fail(impl_->path, key, "an array of integers", describe(v));
  const auto& items = std::get<std::vector<GgufValue>>(v.v);
  std::vector<int64_t> out;
  out.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    auto x = as_int64(items[i]);
    if (!x) fail(impl_->path, key + "[" + std::to_string(i) + "]", "an integer that fits in int64", "a larger u64");
    out.push_back(*x);
  }
  return out;
}
std::vector<float> GgufFile::get_float_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != VT::ARRAY || (v.array_type != VT::F32 && v.array_type != VT::F64))
    fail(impl_->path, key, "an array of f32 or f64", describe(v));
  const auto& items = std::get<std::vector<GgufValue>>(v.v);
  std::vector<float> out;
  out.reserve(items.size());
  for (const auto& it : items) out.push_back(static_cast<float>(std::get<double>(it.v)));
  return out;
}

const std::vector<GgufTensorInfo>& GgufFile::tensors() const { return impl_->tensors; }
const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = impl_->tensor_index.find(name);
  return it == impl_->tensor_index.end() ? nullptr : &impl_->tensors[it->second];
}
const GgufTensorInfo& GgufFile::tensor(const std::string& name) const {
  const GgufTensorInfo* t = find_tensor(name);
  if (!t) fail(impl_->path, "tensor '" + name + "'", "a tensor that is present", "missing");
  return *t;
}

}  // namespace cokv
