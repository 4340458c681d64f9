// GGUF reader (versions 2 and 3): metadata of every value type (nested arrays too), tensor
// infos, alignment, and memory-mapped tensor data. Spec: ggml docs/gguf.md.
// Every malformed input throws cokv::Error naming the file, the field and what was expected;
// nothing reads past the end of the mapping.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace cokv {

// ggml tensor types (values as in ggml.h). The reader knows the block sizes of every type
// ggml defines (IQ*, TQ*, I8.., MXFP4 too) so it can parse any file; dequant.h says which
// ones can be decoded. A value outside this list is rejected at open.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30,
};

// A metadata value. Arrays hold values (possibly arrays). Integers of every width are kept
// as int64/uint64 with the original GGUF type code for round trips and messages.
struct GgufValue {
  enum class Type : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8,
    ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
  };
  Type type = Type::U8;
  Type array_type = Type::U8;  // element type when type == ARRAY (kept for empty arrays)
  // U8/U16/U32/U64 -> uint64_t, I8..I64 -> int64_t, F32/F64 -> double, BOOL -> bool,
  // STRING -> std::string, ARRAY -> std::vector<GgufValue>.
  std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<GgufValue>> v;
};
const char* gguf_type_name(GgufValue::Type t);

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> ne;      // ggml order: ne[0] is the fastest-varying (row length)
  uint64_t offset = 0;          // relative to the data section (a multiple of the alignment)
  uint64_t n_bytes = 0;         // bytes of data (row bytes * rows)
  const uint8_t* data = nullptr;  // into the mapping
  int64_t n_elements() const;
};

class GgufFile {
 public:
  // Maps the file read-only and parses header, metadata and tensor infos (all validated).
  static GgufFile open(const std::string& path);
  // Parses an in-memory image (tests, embedded files); name stands in for the path in errors.
  static GgufFile from_buffer(std::vector<uint8_t> bytes, const std::string& name);
  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  const std::string& path() const;
  uint32_t version() const;
  uint64_t alignment() const;
  uint64_t data_offset() const;  // file offset of the (aligned) data section

  bool has(const std::string& key) const;
  const GgufValue& value(const std::string& key) const;  // throws naming file and key
  const std::map<std::string, GgufValue>& metadata() const;

  // Typed getters: throw Error (file, key, expected type) if missing or of another type.
  // Integer getters accept any integer type whose value fits; float getters accept F32/F64.
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;
  std::vector<float> get_float_array(const std::string& key) const;
  // Optional variants: nullopt when the key is absent (still throw on a wrong type).
  std::optional<int64_t> find_int(const std::string& key) const;
  std::optional<double> find_float(const std::string& key) const;
  std::optional<bool> find_bool(const std::string& key) const;
  std::optional<std::string> find_string(const std::string& key) const;

  const std::vector<GgufTensorInfo>& tensors() const;  // in file order
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  const GgufTensorInfo& tensor(const std::string& name) const;  // throws if absent

 private:
  struct Impl;
  explicit GgufFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cokv
