// .npy / .npz reading and writing; see npy.h for the format contract.
#include "core/npy.h"

#include <array>
#include <cctype>
#include <cstring>

#include "core/error.h"
#include "core/file_bytes.h"

namespace cokv::npy {

static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE float sizes assumed");

const char* descr(Dtype t) {
  switch (t) {
    case Dtype::f4:
      return "<f4";
    case Dtype::i4:
      return "<i4";
    case Dtype::f8:
      return "<f8";
    case Dtype::i8:
      return "<i8";
  }
  return "?";
}

size_t dtype_size(Dtype t) { return (t == Dtype::f4 || t == Dtype::i4) ? 4 : 8; }

int64_t Array::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

template <class T>
std::vector<T> Array::values(const std::string& where) const {
  if (dtype != dtype_of<T>())
    fail(where, "dtype", std::string("'") + descr(dtype_of<T>()) + "'",
         std::string("'") + descr(dtype) + "'");
  std::vector<T> out(static_cast<size_t>(numel()));
  if (bytes.size() != out.size() * sizeof(T))
    fail(where, "data", std::to_string(out.size() * sizeof(T)) + " bytes", std::to_string(bytes.size()));
  std::memcpy(out.data(), bytes.data(), bytes.size());  // x86/ARM are little-endian like '<'
  return out;
}
template std::vector<float> Array::values<float>(const std::string&) const;
template std::vector<int32_t> Array::values<int32_t>(const std::string&) const;
template std::vector<double> Array::values<double>(const std::string&) const;
template std::vector<int64_t> Array::values<int64_t>(const std::string&) const;

template <class T>
Array make(std::vector<int64_t> shape, const std::vector<T>& values) {
  Array a;
  a.dtype = dtype_of<T>();
  a.shape = std::move(shape);
  for (int64_t d : a.shape)
    if (d < 0) throw Error("npy::make: negative dimension " + std::to_string(d));
  if (a.numel() != static_cast<int64_t>(values.size()))
    throw Error("npy::make: shape holds " + std::to_string(a.numel()) + " elements, got " +
                std::to_string(values.size()) + " values");
  a.bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(a.bytes.data(), values.data(), a.bytes.size());
  return a;
}
template Array make<float>(std::vector<int64_t>, const std::vector<float>&);
template Array make<int32_t>(std::vector<int64_t>, const std::vector<int32_t>&);
template Array make<double>(std::vector<int64_t>, const std::vector<double>&);
template Array make<int64_t>(std::vector<int64_t>, const std::vector<int64_t>&);

// ---- .npy ---------------------------------------------------------------------------------

static const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kAlign = 64;
constexpr size_t kGrowthAxisMaxDigits = 21;  // numpy pads for in-place growth of axis 0

// Python's repr of a shape tuple: (), (5,), (2, 3).
static std::string shape_repr(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

std::string encode(const Array& a) {
  if (a.bytes.size() != static_cast<size_t>(a.numel()) * dtype_size(a.dtype))
    throw Error("npy::encode: array bytes do not match its shape and dtype");
  // Mirrors numpy's _write_array_header + _wrap_header for version 1.0, byte for byte.
  std::string header = std::string("{'descr': '") + descr(a.dtype) +
                       "', 'fortran_order': False, 'shape': " + shape_repr(a.shape) + ", }";
  if (!a.shape.empty()) {
    const size_t digits = std::to_string(a.shape[0]).size();
    if (digits < kGrowthAxisMaxDigits) header.append(kGrowthAxisMaxDigits - digits, ' ');
  }
  const size_t hlen = header.size() + 1;  // + the final '\n'
  const size_t padlen = kAlign - ((kMagicLen + 2 + 2 + hlen) % kAlign);
  const size_t total_hlen = hlen + padlen;
  if (total_hlen > 0xFFFF) throw Error("npy::encode: header too long for format 1.0");
  std::string out(kMagic, kMagicLen);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(total_hlen & 0xFF);
  out += static_cast<char>((total_hlen >> 8) & 0xFF);
  out += header;
  out.append(padlen, ' ');
  out += '\n';
  out.append(reinterpret_cast<const char*>(a.bytes.data()), a.bytes.size());
  return out;
}

namespace {

// A tiny reader for the header's Python dict literal: {'key': value, ...}.
struct HeaderParser {
  const std::string& s;
  const std::string& where;
  size_t i = 0;

  [[noreturn]] void bad(const std::string& expected) {
    fail(where, "npy header", expected + " at offset " + std::to_string(i), "'" + s + "'");
  }
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  std::string str() {
    ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) bad("a quoted string");
    const char q = s[i++];
    const size_t j = s.find(q, i);
    if (j == std::string::npos) bad("a closing quote");
    std::string v = s.substr(i, j - i);
    i = j + 1;
    return v;
  }
  std::string word() {
    ws();
    const size_t j = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(j, i - j);
  }
  int64_t integer() {
    ws();
    const size_t j = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (j == i || i - j > 18) bad("a non-negative integer dimension");
    int64_t v = std::stoll(s.substr(j, i - j));
    if (i < s.size() && s[i] == 'L') ++i;  // Python 2 longs
    return v;
  }
};

}  // namespace

Array decode(const std::string& c, const std::string& where) {
  if (c.size() < 10 || std::memcmp(c.data(), kMagic, kMagicLen) != 0)
    fail(where, "magic", "a .npy file (starting with \\x93NUMPY)",
         c.size() < 10 ? "a file of " + std::to_string(c.size()) + " bytes" : "other bytes");
  const int major = static_cast<unsigned char>(c[6]);
  const int minor = static_cast<unsigned char>(c[7]);
  size_t hlen = 0, hstart = 0;
  if (major == 1) {
    hlen = static_cast<unsigned char>(c[8]) | (static_cast<size_t>(static_cast<unsigned char>(c[9])) << 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (c.size() < 12) fail(where, "header", "a 4-byte header length", "a truncated file");
    for (int k = 3; k >= 0; --k) hlen = (hlen << 8) | static_cast<unsigned char>(c[8 + k]);
    hstart = 12;
  } else {
    fail(where, "format version", "1.0, 2.0 or 3.0", std::to_string(major) + "." + std::to_string(minor));
  }
  if (hstart + hlen > c.size())
    fail(where, "header", std::to_string(hlen) + " header bytes",
         "a truncated file of " + std::to_string(c.size()) + " bytes");
  const std::string header = c.substr(hstart, hlen);

  HeaderParser p{header, where};
  std::string dtype_str;
  bool have_descr = false, have_order = false, have_shape = false, fortran = false;
  Array a;
  if (!p.eat('{')) p.bad("'{'");
  while (!p.eat('}')) {
    const std::string key = p.str();
    if (!p.eat(':')) p.bad("':'");
    if (key == "descr") {
      dtype_str = p.str();
      have_descr = true;
    } else if (key == "fortran_order") {
      const std::string w = p.word();
      if (w != "True" && w != "False") p.bad("True or False");
      fortran = (w == "True");
      have_order = true;
    } else if (key == "shape") {
      if (!p.eat('(')) p.bad("'(' opening the shape tuple");
      while (!p.eat(')')) {
        a.shape.push_back(p.integer());
        if (!p.eat(',')) {
          if (!p.eat(')')) p.bad("',' or ')' in the shape tuple");
          break;
        }
      }
      have_shape = true;
    } else {
      p.bad("only the keys descr, fortran_order, shape");
    }
    if (!p.eat(',')) {
      if (!p.eat('}')) p.bad("',' or '}'");
      break;
    }
  }
  if (!have_descr || !have_order || !have_shape)
    fail(where, "npy header", "the keys 'descr', 'fortran_order' and 'shape'", "'" + header + "'");
  if (fortran) fail(where, "fortran_order", "False (C order; save with np.ascontiguousarray)", "True");
  if (dtype_str == "<f4")
    a.dtype = Dtype::f4;
  else if (dtype_str == "<i4")
    a.dtype = Dtype::i4;
  else if (dtype_str == "<f8")
    a.dtype = Dtype::f8;
  else if (dtype_str == "<i8")
    a.dtype = Dtype::i8;
  else
    fail(where, "descr", "one of '<f4', '<i4', '<f8', '<i8'", "'" + dtype_str + "'");

  const size_t data_start = hstart + hlen;
  const size_t need = static_cast<size_t>(a.numel()) * dtype_size(a.dtype);
  const size_t have = c.size() - data_start;
  if (have != need)
    fail(where, "data", std::to_string(need) + " bytes for shape " + shape_repr(a.shape) + " " + dtype_str,
         std::to_string(have) + " bytes");
  a.bytes.assign(c.begin() + static_cast<std::ptrdiff_t>(data_start), c.end());
  return a;
}

void save(const std::string& path, const Array& a) { write_file_bytes(path, encode(a)); }

Array load(const std::string& path) { return decode(read_file_bytes(path), path); }

// ---- CRC-32 and a minimal ZIP (stored members only) -------------------------------------

static const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> t = [] {
    std::array<uint32_t, 256> r{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      r[n] = c;
    }
    return r;
  }();
  return t;
}

uint32_t crc32(const void* data, size_t n, uint32_t crc) {
  const auto& t = crc_table();
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = t[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

static void put16(std::string& o, uint32_t v) {
  o += static_cast<char>(v & 0xFF);
  o += static_cast<char>((v >> 8) & 0xFF);
}
static void put32(std::string& o, uint32_t v) {
  put16(o, v & 0xFFFF);
  put16(o, v >> 16);
}
static uint32_t get16(const std::string& s, size_t at) {
  return static_cast<unsigned char>(s[at]) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 8);
}
static uint32_t get32(const std::string& s, size_t at) { return get16(s, at) | (get16(s, at + 2) << 16); }
static uint64_t get64(const std::string& s, size_t at) {
  return get32(s, at) | (static_cast<uint64_t>(get32(s, at + 4)) << 32);
}

void save_npz(const std::string& path, const std::vector<std::pair<std::string, Array>>& members) {
  // Fixed DOS timestamp 1980-01-01 00:00 so the archive is reproducible byte for byte.
  constexpr uint32_t kDosTime = 0, kDosDate = (0 << 9) | (1 << 5) | 1;
  std::string out, central;
  for (const auto& [name, arr] : members) {
    if (name.empty() || name.find('/') != std::string::npos)
      throw Error(path + ": npz member name '" + name + "': expected a non-empty name without '/'");
    const std::string fname = name + ".npy";
    const std::string data = encode(arr);
    if (data.size() >= 0xFFFFFFFFull || out.size() >= 0xFFFFFFFFull)
      throw Error(path + ": npz member '" + name + "' too large for a non-zip64 archive (4 GiB)");
    const uint32_t crc = crc32(data.data(), data.size());
    const uint32_t offset = static_cast<uint32_t>(out.size());
    // local file header
    put32(out, 0x04034b50);
    put16(out, 20);  // version needed: 2.0
    put16(out, 0);   // flags
    put16(out, 0);   // method: stored
    put16(out, kDosTime);
    put16(out, kDosDate);
    put32(out, crc);
    put32(out, static_cast<uint32_t>(data.size()));
    put32(out, static_cast<uint32_t>(data.size()));
    put16(out, static_cast<uint32_t>(fname.size()));
    put16(out, 0);  // extra length
    out += fname;
    out += data;
    // central directory entry
    put32(central, 0x02014b50);
    put16(central, 20);  // made by: 2.0, MS-DOS attributes
    put16(central, 20);
    put16(central, 0);
    put16(central, 0);
    put16(central, kDosTime);
    put16(central, kDosDate);
    put32(central, crc);
    put32(central, static_cast<uint32_t>(data.size()));
    put32(central, static_cast<uint32_t>(data.size()));
    put16(central, static_cast<uint32_t>(fname.size()));
    put16(central, 0);  // extra
    put16(central, 0);  // comment
    put16(central, 0);  // disk number
    put16(central, 0);  // internal attributes
    put32(central, 0);  // external attributes
    put32(central, offset);
    central += fname;
  }
  const uint32_t cd_offset = static_cast<uint32_t>(out.size());
  out += central;
  put32(out, 0x06054b50);  // end of central directory
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<uint32_t>(members.size()));
  put16(out, static_cast<uint32_t>(members.size()));
  put32(out, static_cast<uint32_t>(central.size()));
  put32(out, cd_offset);
  put16(out, 0);  // comment length
  write_file_bytes(path, out);
}

std::map<std::string, Array> load_npz(const std::string& path) {
  const std::string z = read_file_bytes(path);
  // The end-of-central-directory record is in the last 22 + 65535 bytes.
  if (z.size() < 22)
    fail(path, "zip", "an .npz (zip) archive", "a file of " + std::to_string(z.size()) + " bytes");
  size_t eocd = std::string::npos;
  const size_t lo = z.size() > 22 + 0xFFFF ? z.size() - 22 - 0xFFFF : 0;
  for (size_t at = z.size() - 22 + 1; at-- > lo;) {
    if (get32(z, at) == 0x06054b50) {
      eocd = at;
      break;
    }
  }
  if (eocd == std::string::npos)
    fail(path, "zip", "an .npz (zip) archive with an end-of-central-directory record", "none found");
  uint64_t n_entries = get16(z, eocd + 10);
  uint64_t cd_offset = get32(z, eocd + 16);
  // zip64: the locator sits just before the EOCD and points at the zip64 EOCD record.
  if (eocd >= 20 && get32(z, eocd - 20) == 0x07064b50) {
    const uint64_t z64 = get64(z, eocd - 20 + 8);
    if (z64 + 56 > z.size() || get32(z, z64) != 0x06064b50)
      fail(path, "zip64", "a zip64 end record", "a bad offset");
    n_entries = get64(z, z64 + 32);
    cd_offset = get64(z, z64 + 48);
  }
  std::map<std::string, Array> out;
  size_t at = cd_offset;
  for (uint64_t e = 0; e < n_entries; ++e) {
    if (at + 46 > z.size() || get32(z, at) != 0x02014b50)
      fail(path, "zip central directory entry " + std::to_string(e), "a valid entry", "corrupt data");
    const uint32_t flags = get16(z, at + 8);
    const uint32_t method = get16(z, at + 10);
    const uint32_t crc = get32(z, at + 16);
    uint64_t csize = get32(z, at + 20), usize = get32(z, at + 24);
    const uint32_t name_len = get16(z, at + 28), extra_len = get16(z, at + 30),
                   comment_len = get16(z, at + 32);
    uint64_t local = get32(z, at + 42);
    if (at + 46 + name_len + extra_len > z.size())
      fail(path, "zip central directory", "a valid entry", "truncated");
    const std::string fname = z.substr(at + 46, name_len);
    // zip64 extra field (id 1): present values replace the 0xFFFFFFFF placeholders, in order.
    for (size_t x = at + 46 + name_len; x + 4 <= at + 46 + name_len + extra_len;) {
      const uint32_t id = get16(z, x), len = get16(z, x + 2);
      size_t v = x + 4;
      if (id == 1) {
        if (usize == 0xFFFFFFFFu && v + 8 <= x + 4 + len) usize = get64(z, v), v += 8;
        if (csize == 0xFFFFFFFFu && v + 8 <= x + 4 + len) csize = get64(z, v), v += 8;
        if (local == 0xFFFFFFFFu && v + 8 <= x + 4 + len) local = get64(z, v), v += 8;
      }
      x += 4 + len;
    }
    at += 46 + name_len + extra_len + comment_len;
    const std::string where = path + "[" + fname + "]";
    if (method != 0)
      fail(where, "zip compression method", "0 (stored, as np.savez writes; not np.savez_compressed)",
           std::to_string(method));
    if (flags & 1) fail(where, "zip flags", "an unencrypted member", "encrypted");
    if (csize != usize)
      fail(where, "zip sizes", "equal stored and uncompressed sizes",
           std::to_string(csize) + " vs " + std::to_string(usize));
    if (local + 30 > z.size() || get32(z, local) != 0x04034b50)
      fail(where, "zip local header", "a local file header at offset " + std::to_string(local),
           "other bytes");
    const size_t data_at = local + 30 + get16(z, local + 26) + get16(z, local + 28);
    if (data_at + usize > z.size())
      fail(where, "zip data", std::to_string(usize) + " bytes", "a truncated archive");
    const std::string data = z.substr(data_at, usize);
    const uint32_t got_crc = crc32(data.data(), data.size());
    if (got_crc != crc) fail(where, "crc32", std::to_string(crc), std::to_string(got_crc));
    std::string key = fname;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    out[key] = decode(data, where);
  }
  return out;
}

}  // namespace cokv::npy
