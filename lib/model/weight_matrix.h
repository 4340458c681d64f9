// WeightMatrix: one weight matrix [rows = out, cols = in] kept in a storage type, the operand
// of every linear layer (runtime/ops.h `linear`, which dispatches on the type).
//
// The type tag is the ggml type and a row is stored exactly as ggml stores it: F32, F16 and
// BF16 rows are plain arrays; block types (Q8_0, Q4_K, ...) are rows of ggml blocks,
// ggml_row_bytes(type, cols) bytes each. So any type dequant.h decodes can be held and
// multiplied (the kernels fall back to decoding rows to fp32); adding a compact type is a
// matter of a fast kernel in runtime/ops.cpp, not of changing callers.
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
  size_t n_bytes() const { return row_bytes_ * size_t(rows_); }
  const uint8_t* row_data(int64_t r) const { return data_.get() + size_t(r) * row_bytes_; }
  uint8_t* row_data(int64_t r) { return data_.get() + size_t(r) * row_bytes_; }

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
  GgmlType type_ = GgmlType::F32;
  int64_t rows_ = 0, cols_ = 0;
  size_t row_bytes_ = 0;
  std::unique_ptr<uint8_t[], Free> data_;  // 64-byte aligned
};

}  // namespace cokv
