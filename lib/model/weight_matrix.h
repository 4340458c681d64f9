// WeightMatrix: one weight matrix [rows = out, cols = in] kept in a storage type, the operand
// of every linear layer (runtime/ops.h `linear`, which dispatches on the type).
//
// The type tag is the ggml type and a row is stored exactly as ggml stores it: F32, F16 and
// BF16 rows are plain arrays; block types (Q8_0, Q4_K, ...) are rows of ggml blocks,
// ggml_row_bytes(type, cols) bytes each. So any type dequant.h decodes can be held and
// multiplied (the kernels fall back to decoding rows to fp32); adding a compact type is a
// matter of a fast kernel in runtime/ops.cpp, not of changing callers.
//
// Interleaved rows: for the integer-dot kernels (runtime/q8_linear.h) a Q8_0, Q4_0 or Q4_1
// matrix can be stored in groups of kRowGroup = 16 rows, so that one 64-byte vector holds 4
// levels of each of 16 rows and a kernel's lanes run along the rows (see interleave_rows). The
// same bytes as the plain rows (d, m and levels; the last group is padded with zero rows), so
// the memory is the file's. decode_rows reads either layout; row_data is for plain rows only.
//
// Dimension legend: rows = output features, cols = input features (Y = X W^T).
#pragma once
#include <Eigen/Core>
#include <cstdint>
#include <memory>

#include "model/gguf.h"

namespace cokv {

using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

class WeightMatrix {
 public:
  WeightMatrix() = default;
  // Uninitialised storage for rows x cols values of `type` (cols a multiple of its block).
  WeightMatrix(GgmlType type, int64_t rows, int64_t cols);
  // Zeroed storage in the interleaved layout (Q8_0, Q4_0 or Q4_1).
  static WeightMatrix zeros_interleaved(GgmlType type, int64_t rows, int64_t cols);
  // m converted to `type` (F32, F16 or BF16, rounding to nearest even).
  static WeightMatrix from_f32(const Mat& m, GgmlType type = GgmlType::F32);
  WeightMatrix(const WeightMatrix& o);
  WeightMatrix& operator=(const WeightMatrix& o);
  WeightMatrix(WeightMatrix&&) noexcept = default;
  WeightMatrix& operator=(WeightMatrix&&) noexcept = default;

  GgmlType type() const { return type_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t size() const { return rows_ * cols_; }  // elements
  bool empty() const { return size() == 0; }
  size_t row_bytes() const { return row_bytes_; }
  size_t n_bytes() const { return row_bytes_ * size_t(stored_rows()); }
  const uint8_t* row_data(int64_t r) const { return data_.get() + size_t(r) * row_bytes_; }
  uint8_t* row_data(int64_t r) { return data_.get() + size_t(r) * row_bytes_; }

  // The interleaved layout. Group g (rows 16g..16g+15) is blocks() group blocks of
  // group_block_bytes(type) bytes each, block b of the group at group_block(g, b):
  //   levels: 8 chunks of 4 values (chunk c = values 4c..4c+3 of the 32-value block), 64 bytes
  //           per vector, lane r (4 bytes) for row 16g+r, each level stored unsigned (+bias):
  //           Q8_0: 8 vectors, vector c = chunk c, level + 128;
  //           Q4_0/Q4_1: 4 vectors, the low nibbles of vector c = chunk c and the high nibbles
  //           chunk c + 4 (ggml's own nibble order), Q4_0's level + 8, Q4_1's as stored;
  //   then d of the 16 rows (fp16), then Q4_1's m of the 16 rows (fp16).
  static constexpr int64_t kRowGroup = 16;
  static size_t group_block_bytes(GgmlType type);
  static size_t group_level_bytes(GgmlType type);
  bool interleaved() const { return interleaved_; }
  int64_t groups() const { return (rows_ + kRowGroup - 1) / kRowGroup; }
  int64_t blocks() const { return cols_ / 32; }
  const uint8_t* group_block(int64_t g, int64_t b) const {
    return data_.get() + size_t(g * blocks() + b) * group_block_bytes(type_);
  }
  uint8_t* group_block(int64_t g, int64_t b) { return data_.get() + size_t(g * blocks() + b) * group_block_bytes(type_); }
  // This matrix (plain Q8_0, Q4_0 or Q4_1 rows) in the interleaved layout.
  WeightMatrix interleave_rows() const;

  // The matrix itself when it is F32 (throws naming the type otherwise).
  Eigen::Map<const Mat> f32() const;
  // n rows from r0 decoded to fp32 into dst [n, cols] (any decodable type; exact for F16/BF16).
  void decode_rows(int64_t r0, int64_t n, float* dst) const;
  // The whole matrix in fp32: a view when F32, else decoded into `scratch`.
  Eigen::Map<const Mat> as_f32(Mat& scratch) const;
  float operator()(int64_t r, int64_t c) const;  // one value (decodes its row: tests, not loops)

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  WeightMatrix(GgmlType type, int64_t rows, int64_t cols, bool interleaved);
  int64_t stored_rows() const { return interleaved_ ? groups() * kRowGroup : rows_; }
  void row_of_blocks(int64_t r, uint8_t* ggml_row) const;  // interleaved -> row r in ggml's blocks

  GgmlType type_ = GgmlType::F32;
  bool interleaved_ = false;
  int64_t rows_ = 0, cols_ = 0;
  size_t row_bytes_ = 0;
  std::unique_ptr<uint8_t[], Free> data_;  // 64-byte aligned
};

}  // namespace cokv
