#include "model/weight_matrix.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "model/dequant.h"

namespace cokv {

void WeightMatrix::Free::operator()(uint8_t* p) const { std::free(p); }

namespace {

bool interleavable(GgmlType t) { return t == GgmlType::Q8_0 || t == GgmlType::Q4_0 || t == GgmlType::Q4_1; }

// Bytes of a ggml block before its levels: d (and Q4_1's m).
size_t head_bytes(GgmlType t) { return t == GgmlType::Q4_1 ? 4 : 2; }

}  // namespace

WeightMatrix::WeightMatrix(GgmlType type, int64_t rows, int64_t cols) : WeightMatrix(type, rows, cols, false) {}

WeightMatrix::WeightMatrix(GgmlType type, int64_t rows, int64_t cols, bool interleaved)
    : type_(type), interleaved_(interleaved), rows_(rows), cols_(cols), row_bytes_(ggml_row_bytes(type, cols)) {
  require(rows >= 0 && cols >= 0, "WeightMatrix: negative shape");
  const size_t n = (n_bytes() + 63) / 64 * 64;
  if (n == 0) return;
  data_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, n)));
  if (!data_) throw Error("WeightMatrix: out of memory for " + std::to_string(n) + " bytes of " + ggml_type_name(type));
}

WeightMatrix WeightMatrix::zeros_interleaved(GgmlType type, int64_t rows, int64_t cols) {
  if (!interleavable(type)) fail("WeightMatrix::zeros_interleaved", "type", "Q8_0, Q4_0 or Q4_1", ggml_type_name(type));
  WeightMatrix w(type, rows, cols, true);
  if (w.n_bytes()) std::memset(w.data_.get(), 0, w.n_bytes());
  return w;
}

size_t WeightMatrix::group_level_bytes(GgmlType type) {
  return size_t(kRowGroup) * (type == GgmlType::Q8_0 ? 32 : 16);
}

size_t WeightMatrix::group_block_bytes(GgmlType type) { return size_t(kRowGroup) * ggml_block_bytes(type); }

// Q8_0's levels are stored +128 (flip the top bit); Q4_0's are ggml's nibbles already (level
// + 8), Q4_1's carry no bias: both nibble types move 4-byte chunks unchanged.
WeightMatrix WeightMatrix::interleave_rows() const {
  if (!interleavable(type_) || interleaved_)
    fail("WeightMatrix::interleave_rows", "type", "plain Q8_0, Q4_0 or Q4_1 rows",
         std::string(interleaved_ ? "interleaved " : "") + ggml_type_name(type_));
  WeightMatrix out = zeros_interleaved(type_, rows_, cols_);
  const size_t bb = ggml_block_bytes(type_), head = head_bytes(type_), levels = group_level_bytes(type_);
  const uint8_t flip = type_ == GgmlType::Q8_0 ? 0x80 : 0;
  for (int64_t r = 0; r < rows_; ++r) {
    const int64_t g = r / kRowGroup, lane = r % kRowGroup;
    for (int64_t b = 0; b < blocks(); ++b) {
      const uint8_t* src = row_data(r) + size_t(b) * bb;
      uint8_t* dst = out.group_block(g, b);
      for (size_t c = 0; c * 4 < bb - head; ++c)
        for (int k = 0; k < 4; ++k) dst[64 * c + 4 * lane + k] = src[head + 4 * c + k] ^ flip;
      std::memcpy(dst + levels + 2 * lane, src, 2);
      if (type_ == GgmlType::Q4_1) std::memcpy(dst + levels + 32 + 2 * lane, src + 2, 2);
    }
  }
  return out;
}

void WeightMatrix::row_of_blocks(int64_t r, uint8_t* row) const {
  const int64_t lane = r % kRowGroup;
  const size_t bb = ggml_block_bytes(type_), head = head_bytes(type_), levels = group_level_bytes(type_);
  const size_t group_bytes = group_block_bytes(type_), chunks = (bb - head) / 4;
  const uint32_t flip = type_ == GgmlType::Q8_0 ? 0x80808080u : 0;
  const uint8_t* src = group_block(r / kRowGroup, 0);
  for (int64_t b = 0; b < blocks(); ++b, src += group_bytes, row += bb) {
    for (size_t c = 0; c < chunks; ++c) {  // 4 levels at a time: one word per chunk
      uint32_t v;
      std::memcpy(&v, src + 64 * c + 4 * lane, 4);
      v ^= flip;
      std::memcpy(row + head + 4 * c, &v, 4);
    }
    std::memcpy(row, src + levels + 2 * lane, 2);
    if (type_ == GgmlType::Q4_1) std::memcpy(row + 2, src + levels + 32 + 2 * lane, 2);
  }
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

WeightMatrix::WeightMatrix(const WeightMatrix& o) : WeightMatrix(o.type_, o.rows_, o.cols_, o.interleaved_) {
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
  if (n <= 0) return;
  if (!interleaved_) return dequantize_row(type_, row_data(r0), dst, n * cols_);
  thread_local std::vector<uint8_t> row;  // one row back in ggml's blocks
  row.resize(row_bytes_);
  for (int64_t r = r0; r < r0 + n; ++r) {
    row_of_blocks(r, row.data());
    dequantize_row(type_, row.data(), dst + (r - r0) * cols_, cols_);
  }
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
