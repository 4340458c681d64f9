#include "model/weight_matrix.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "model/dequant.h"

namespace cokv {

void WeightMatrix::Free::operator()(uint8_t* p) const { std::free(p); }

WeightMatrix::WeightMatrix(GgmlType type, int64_t rows, int64_t cols)
    : type_(type), rows_(rows), cols_(cols), row_bytes_(ggml_row_bytes(type, cols)) {
  require(rows >= 0 && cols >= 0, "WeightMatrix: negative shape");
  const size_t n = (n_bytes() + 63) / 64 * 64;
  if (n == 0) return;
  data_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, n)));
  if (!data_) throw Error("WeightMatrix: out of memory for " + std::to_string(n) + " bytes of " + ggml_type_name(type));
}

WeightMatrix WeightMatrix::from_f32(const Mat& m, GgmlType type) {
  WeightMatrix w(type, m.rows(), m.cols());
  for (int64_t r = 0; r < w.rows_; ++r) {
    const float* src = m.row(r).data();
    uint8_t* dst = w.row_data(r);
    switch (type) {
      case GgmlType::F32: std::memcpy(dst, src, w.row_bytes_); break;
      case GgmlType::BF16:
        for (int64_t c = 0; c < w.cols_; ++c) reinterpret_cast<uint16_t*>(dst)[c] = fp32_to_bf16(src[c]);
        break;
      case GgmlType::F16:
        for (int64_t c = 0; c < w.cols_; ++c) reinterpret_cast<uint16_t*>(dst)[c] = fp32_to_fp16(src[c]);
        break;
      default:
        fail("WeightMatrix::from_f32", "type", "F32, F16 or BF16 (block types come from files)", ggml_type_name(type));
    }
  }
  return w;
}

WeightMatrix::WeightMatrix(const WeightMatrix& o) : WeightMatrix(o.type_, o.rows_, o.cols_) {
  if (o.n_bytes()) std::memcpy(data_.get(), o.data_.get(), o.n_bytes());
}

WeightMatrix& WeightMatrix::operator=(const WeightMatrix& o) {
  if (this != &o) *this = WeightMatrix(o);
  return *this;
}

Eigen::Map<const Mat> WeightMatrix::f32() const {
  if (type_ != GgmlType::F32)
    fail("WeightMatrix", "type", "F32 for a direct fp32 view", ggml_type_name(type_));
  return {reinterpret_cast<const float*>(data_.get()), Eigen::Index(rows_), Eigen::Index(cols_)};
}

void WeightMatrix::decode_rows(int64_t r0, int64_t n, float* dst) const {
  require(r0 >= 0 && n >= 0 && r0 + n <= rows_, "WeightMatrix: rows " + std::to_string(r0) + "+" +
                                                    std::to_string(n) + " of " + std::to_string(rows_));
  if (n > 0) dequantize_row(type_, row_data(r0), dst, n * cols_);
}

Eigen::Map<const Mat> WeightMatrix::as_f32(Mat& scratch) const {
  if (type_ == GgmlType::F32) return f32();
  scratch.resize(rows_, cols_);
  decode_rows(0, rows_, scratch.data());
  return {scratch.data(), scratch.rows(), scratch.cols()};
}

float WeightMatrix::operator()(int64_t r, int64_t c) const {
  require(c >= 0 && c < cols_, "WeightMatrix: column " + std::to_string(c) + " of " + std::to_string(cols_));
  std::vector<float> row(static_cast<size_t>(cols_));
  decode_rows(r, 1, row.data());
  return row[static_cast<size_t>(c)];
}

}  // namespace cokv
