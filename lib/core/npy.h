// NumPy .npy and .npz files, read and written without numpy.
//
// .npy: format version 1.0 as np.save writes it (magic, uint16 header length, a Python dict
// literal {'descr': ..., 'fortran_order': False, 'shape': (...), } padded with spaces and a
// newline so the data starts on a 64-byte boundary). Files we write are byte-identical to
// np.save's output for the same array (tests/test_npy.cpp checks this against golden files).
// Reading also accepts versions 2.0 and 3.0 (4-byte header length).
// Supported dtypes: '<f4', '<i4', '<f8', '<i8', C order only (fortran_order True is refused).
//
// .npz: a ZIP archive of "<name>.npy" members, stored (no compression), as np.savez writes it.
// The reader takes stored members only (np.savez_compressed output is refused with a message)
// and checks every member's CRC-32.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace cokv::npy {

enum class Dtype { f4, i4, f8, i8 };

// '<f4' etc.; the element size in bytes.
const char* descr(Dtype t);
size_t dtype_size(Dtype t);

template <class T>
constexpr Dtype dtype_of();
template <>
constexpr Dtype dtype_of<float>() {
  return Dtype::f4;
}
template <>
constexpr Dtype dtype_of<int32_t>() {
  return Dtype::i4;
}
template <>
constexpr Dtype dtype_of<double>() {
  return Dtype::f8;
}
template <>
constexpr Dtype dtype_of<int64_t>() {
  return Dtype::i8;
}

// An n-d array: dtype, shape and the raw little-endian bytes in C order.
struct Array {
  Dtype dtype = Dtype::f4;
  std::vector<int64_t> shape;  // empty = 0-d scalar
  std::vector<uint8_t> bytes;  // [numel * dtype_size(dtype)]

  int64_t numel() const;
  // The elements as T; throws naming `where` when the stored dtype is not T's.
  template <class T>
  std::vector<T> values(const std::string& where = "array") const;
};

// Builds an array from typed values; throws if values.size() != product(shape).
template <class T>
Array make(std::vector<int64_t> shape, const std::vector<T>& values);

// The whole .npy file content for `a` (what np.save would write).
std::string encode(const Array& a);
// Parses .npy content; `where` (a file name) goes into error messages.
Array decode(const std::string& content, const std::string& where);

// File helpers (throw cokv::Error naming the path on I/O or format errors).
void save(const std::string& path, const Array& a);
Array load(const std::string& path);

// .npz: members keyed by name without the ".npy" suffix (as np.load(...)[name]).
// Written in the given order; a member name may not be empty or contain '/'.
void save_npz(const std::string& path, const std::vector<std::pair<std::string, Array>>& members);
std::map<std::string, Array> load_npz(const std::string& path);

// CRC-32 (IEEE 802.3, as zlib.crc32), exposed for tests.
uint32_t crc32(const void* data, size_t n, uint32_t crc = 0);

}  // namespace cokv::npy
