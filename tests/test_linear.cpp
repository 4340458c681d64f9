// linear(): the row-stable kernel against Eigen's GEMM, and its promise that a row's bits do
// not depend on the other rows or the thread count.
#include <omp.h>

#include <catch2/catch.hpp>
#include <random>

#include <cstring>
#include <limits>

#include "model/dequant.h"
#include "runtime/ops.h"
#include "runtime/q8_linear.h"

using namespace cokv;

namespace {
Mat random_mat(int rows, int cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  Mat m(rows, cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) m(r, c) = nd(rng);
  return m;
}
}  // namespace

TEST_CASE("row-stable linear equals the GEMM, for odd shapes too", "[linear]") {
  for (auto [M, N, K] : {std::tuple{1, 1, 1}, {3, 5, 7}, {13, 9, 33}, {70, 130, 576}, {5, 4, 1536}}) {
    INFO("M=" << M << " N=" << N << " K=" << K);
    const Mat x = random_mat(M, K, 1), w = random_mat(N, K, 2);
    Mat a, b;
    linear(x, w, a, Matmul::Gemm);
    linear(x, w, b, Matmul::RowStable);
    REQUIRE(b.rows() == M);
    REQUIRE(b.cols() == N);
    const float tol = 1e-5f * std::sqrt(float(K)) * 4;
    REQUIRE((a - b).cwiseAbs().maxCoeff() <= tol);
  }
}

TEST_CASE("row-stable linear: a row's bits do not depend on its batch or the threads", "[linear]") {
  const int K = 576, N = 192;
  const Mat x = random_mat(67, K, 3), w = random_mat(N, K, 4);
  Mat all;
  linear(x, w, all, Matmul::RowStable);
  for (int r : {0, 5, 63, 64, 66}) {
    Mat one, y;
    one = x.row(r);
    linear(one, w, y, Matmul::RowStable);
    REQUIRE(y.row(0) == all.row(r));  // bit-identical
    Mat three = x.middleRows(std::max(r - 2, 0), 3);
    linear(three, w, y, Matmul::RowStable);
    REQUIRE(y.row(r - std::max(r - 2, 0)) == all.row(r));
  }
  const int saved = omp_get_max_threads();
  omp_set_num_threads(saved == 1 ? 2 : 1);
  Mat other;
  linear(x, w, other, Matmul::RowStable);
  omp_set_num_threads(saved);
  REQUIRE(other == all);
}

// ---- compact weight types ------------------------------------------------------------------

namespace {

// Q8_0 rows as ggml lays them out (fp16 d, then 32 int8 per block): a block type the kernels
// only know through its decoder.
WeightMatrix q8_0_matrix(const Mat& m) {
  WeightMatrix w(GgmlType::Q8_0, m.rows(), m.cols());
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    uint8_t* p = w.row_data(r);
    for (Eigen::Index b = 0; b < m.cols() / 32; ++b, p += 34) {
      float amax = 0;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::abs(m(r, b * 32 + i)));
      const uint16_t d = fp32_to_fp16(amax / 127.f);
      std::memcpy(p, &d, 2);
      const float id = amax > 0 ? 127.f / amax : 0.f;
      for (int i = 0; i < 32; ++i) p[2 + i] = uint8_t(int8_t(std::nearbyint(m(r, b * 32 + i) * id)));
    }
  }
  return w;
}

// Q4_0 / Q4_1 rows as llama-quantize writes them (ggml-quants.c quantize_row_q4_*_ref):
// Q4_0 d = max / -8 (max: the value of largest magnitude), q = min(15, x / d + 8.5);
// Q4_1 d = (max - min) / 15, m = min, q = min(15, (x - min) / d + 0.5).
WeightMatrix q4_matrix(const Mat& m, bool with_min) {
  WeightMatrix w(with_min ? GgmlType::Q4_1 : GgmlType::Q4_0, m.rows(), m.cols());
  const int head = with_min ? 4 : 2;
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    uint8_t* p = w.row_data(r);
    for (Eigen::Index b = 0; b < m.cols() / 32; ++b, p += head + 16) {
      const float* x = m.row(r).data() + b * 32;
      float lo = x[0], hi = x[0], amax = 0, maxv = 0;
      for (int i = 0; i < 32; ++i) {
        lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
        if (std::abs(x[i]) > amax) amax = std::abs(x[i]), maxv = x[i];
      }
      const float d = with_min ? (hi - lo) / 15 : maxv / -8, id = d != 0 ? 1 / d : 0;
      const uint16_t dh = fp32_to_fp16(d), mh = fp32_to_fp16(lo);
      std::memcpy(p, &dh, 2);
      if (with_min) std::memcpy(p + 2, &mh, 2);
      auto q = [&](float v) {
        const float t = with_min ? (v - lo) * id + 0.5f : v * id + 8.5f;
        return uint8_t(std::min(15, int(t)));
      };
      for (int i = 0; i < 16; ++i) p[head + i] = uint8_t(q(x[i]) | q(x[i + 16]) << 4);
    }
  }
  return w;
}

std::vector<WeightMatrix> compact_types(const Mat& w) {
  return {WeightMatrix::from_f32(w, GgmlType::BF16), WeightMatrix::from_f32(w, GgmlType::F16), q8_0_matrix(w),
          q4_matrix(w, false), q4_matrix(w, true)};
}

}  // namespace

TEST_CASE("compact weights: row-stable bits equal the fp32 kernel on the decoded values", "[linear]") {
  // The compact kernels convert exactly (bf16 shift, F16C) and keep the fp32 kernel's
  // summation order, so there is no tolerance: bit equality.
  for (auto [M, N, K] : {std::tuple{1, 7, 64}, {5, 13, 96}, {70, 30, 576}, {3, 4, 33 * 32}}) {
    INFO("M=" << M << " N=" << N << " K=" << K);
    const Mat x = random_mat(M, K, 5), w = random_mat(N, K, 6);
    for (const WeightMatrix& c : compact_types(w)) {
      INFO("type " << ggml_type_name(c.type()));
      Mat decoded(N, K), want, got;
      c.decode_rows(0, N, decoded.data());
      linear(x, decoded, want, Matmul::RowStable);
      linear(x, c, got, Matmul::RowStable);
      REQUIRE(got == want);
      // And the Gemm path (panels decoded to fp32) agrees with Eigen's GEMM on the decoded matrix.
      Mat gemm, ref;
      linear(x, c, gemm, Matmul::Gemm);
      linear(x, decoded, ref, Matmul::Gemm);
      REQUIRE((gemm - ref).cwiseAbs().maxCoeff() <= 1e-5f * std::sqrt(float(K)) * 4);
    }
  }
}

TEST_CASE("compact weights: a row's bits do not depend on its batch or the threads", "[linear]") {
  const int K = 576, N = 100;
  const Mat x = random_mat(67, K, 7), w = random_mat(N, K, 8);
  for (const WeightMatrix& c : compact_types(w)) {
    INFO("type " << ggml_type_name(c.type()));
    Mat all, y;
    linear(x, c, all, Matmul::RowStable);
    for (int r : {0, 6, 64, 66}) {
      Mat one = x.row(r);
      linear(one, c, y, Matmul::RowStable);
      REQUIRE(y.row(0) == all.row(r));
    }
    const int saved = omp_get_max_threads();
    omp_set_num_threads(saved == 1 ? 2 : 1);
    linear(x, c, y, Matmul::RowStable);
    omp_set_num_threads(saved);
    REQUIRE(y == all);
  }
}

TEST_CASE("compact weights: each type against the fp32 weights within its rounding bound", "[linear]") {
  // Against the unrounded fp32 matrix the only error is the weights' rounding: for output
  // (i, n) |y - y_fp32| <= sum_k |x_ik| e_nk, where e_nk bounds weight (n, k)'s rounding
  // error: half a step of its block (Q8_0: d/2; Q4_0/Q4_1: d/2, plus Q4_1's fp16-rounded
  // minimum, and Q4_0's largest value clipped to 7 steps: up to one step d), half an ulp
  // (bf16: up to 2^-8 of the weight, 8 significant bits; f16: 2^-11). The bound is computed per element from the decoded matrix
  // (|decoded - w| per weight is the e_nk actually made), plus fp32 summation slack
  // (4 K ulp of sum_k |x_ik w_nk|). A kernel that read a wrong block, nibble or scale breaks it
  // by orders of magnitude; the decoded error itself is also checked against the type's step.
  const int M = 9, N = 37, K = 576;
  const Mat x = random_mat(M, K, 11), w = random_mat(N, K, 12);
  Mat ref;
  linear(x, w, ref, Matmul::RowStable);
  for (const WeightMatrix& c : compact_types(w)) {
    INFO("type " << ggml_type_name(c.type()));
    Mat decoded(N, K), got;
    c.decode_rows(0, N, decoded.data());
    const Mat err = (decoded - w).cwiseAbs();
    // Per-type step check: the largest weight error relative to the block's largest |w|.
    const double rel = err.maxCoeff() / w.cwiseAbs().maxCoeff();
    const double step = c.type() == GgmlType::BF16 ? 1.0 / 256 : c.type() == GgmlType::F16 ? 1.0 / 2048
                        : c.type() == GgmlType::Q8_0 ? 1.0 / 127 : 2.0 / 15;
    CHECK(rel <= step);
    linear(x, c, got, Matmul::RowStable);
    const Mat bound = x.cwiseAbs() * err.transpose();
    const Mat slack = (x.cwiseAbs() * w.cwiseAbs().transpose()) * (4.f * K * std::numeric_limits<float>::epsilon());
    const Mat excess = (got - ref).cwiseAbs() - bound - slack;
    CHECK(excess.maxCoeff() <= 0.f);
  }
}

TEST_CASE("WeightMatrix: bf16 rounding is to nearest even, f32 views and copies", "[linear]") {
  CHECK(fp32_to_bf16(1.0f) == 0x3F80);
  CHECK(bf16_to_fp32(fp32_to_bf16(1.00390625f)) == 1.0f);      // 1 + 2^-8: a tie, rounds to even (1)
  CHECK(bf16_to_fp32(fp32_to_bf16(1.01171875f)) == 1.015625f);  // 1 + 3 * 2^-8: a tie, rounds up to even
  CHECK(fp32_to_bf16(-std::numeric_limits<float>::max()) == 0xFF80);  // rounds past the largest bf16: -inf
  CHECK(std::isnan(bf16_to_fp32(fp32_to_bf16(std::nanf("")))));
  const Mat m = random_mat(3, 5, 9);
  const WeightMatrix w = WeightMatrix::from_f32(m);
  CHECK(w.f32() == m);
  CHECK(w(2, 4) == m(2, 4));
  const WeightMatrix b = WeightMatrix::from_f32(m, GgmlType::BF16), copy = b;
  CHECK(copy(1, 3) == b(1, 3));
  CHECK(b.n_bytes() == 3 * 5 * 2);
  CHECK_THROWS_WITH(b.f32(), Catch::Contains("BF16"));
}

// ---- integer dot products for Q8-rounded inputs (runtime/q8_linear.h) ------------------------

namespace {
std::vector<WeightMatrix> q8_dot_types(const Mat& w) { return {q8_0_matrix(w), q4_matrix(w, false), q4_matrix(w, true)}; }
}  // namespace

TEST_CASE("q8 linear: integer dot products give the fp32 kernel's result on Q8-rounded inputs", "[linear][q8]") {
  // Both sum the same exact products (8-bit levels times fp16 scales) in fp32, in different
  // orders: per block first (integers, exact) here, along the lanes there. So they differ by
  // fp32 rounding only: at most ~K ulp of sum_k |x_ik w_nk| (slack 2 K eps of it). A wrong
  // nibble, sign, block or scale misses by orders of magnitude more.
  for (auto [M, N, K] : {std::tuple{1, 7, 64}, {5, 13, 96}, {70, 30, 576}, {3, 4, 33 * 32}}) {
    INFO("M=" << M << " N=" << N << " K=" << K);
    Mat x = random_mat(M, K, 21);
    quantize_activations(x, ActQuant::Q8Blocks);
    for (const WeightMatrix& c : q8_dot_types(random_mat(N, K, 22))) {
      INFO("type " << ggml_type_name(c.type()));
      REQUIRE(q8_linear_supports(c));
      Mat decoded(N, K), want, got;
      c.decode_rows(0, N, decoded.data());
      linear(x, decoded, want, Matmul::RowStable);
      linear(x, c, got, Matmul::RowStable, ActQuant::Q8Blocks);
      const Mat slack = (x.cwiseAbs() * decoded.cwiseAbs().transpose()) * (2.f * K * std::numeric_limits<float>::epsilon());
      CHECK(((got - want).cwiseAbs() - slack).maxCoeff() <= 0.f);
    }
  }
}

TEST_CASE("q8 linear: a row's bits do not depend on its batch or the threads", "[linear][q8]") {
  const int K = 576, N = 100;
  Mat x = random_mat(67, K, 23);
  quantize_activations(x, ActQuant::Q8Blocks);
  for (const WeightMatrix& plain : q8_dot_types(random_mat(N, K, 24))) {
    INFO("type " << ggml_type_name(plain.type()));
    const WeightMatrix c = plain.interleave_rows();  // the layout models run on
    Mat all, y;
    linear(x, c, all, Matmul::RowStable, ActQuant::Q8Blocks);
    for (int r : {0, 6, 64, 66}) {
      Mat one = x.row(r);
      linear(one, c, y, Matmul::RowStable, ActQuant::Q8Blocks);
      REQUIRE(y.row(0) == all.row(r));
    }
    const int saved = omp_get_max_threads();
    omp_set_num_threads(saved == 1 ? 2 : 1);
    linear(x, c, y, Matmul::RowStable, ActQuant::Q8Blocks);
    omp_set_num_threads(saved);
    REQUIRE(y == all);
  }
}

TEST_CASE("q8 linear: every kernel gives its plain C++ twin's bits", "[linear][q8]") {
  // The integer sums are exact and each value's fp32 steps are the same in the vector kernels
  // (AVX-512 VNNI or AVX2, whichever this build has) and in linear_q8_scalar: equal bits, for
  // every tail of input rows (tiles of 8 or 4), a last group of 16 weight rows cut short, and
  // more input rows than one chunk of 64.
  for (auto [N, K] : {std::pair{16, 32}, {37, 96}, {64, 576}}) {
    const Mat w = random_mat(N, K, 31);
    for (int M : {1, 2, 3, 4, 5, 7, 8, 9, 17, 70}) {
      INFO("M=" << M << " N=" << N << " K=" << K);
      Mat x = random_mat(M, K, 32 + M);
      x.row(0).head(32).setZero();  // a block of scale 0
      quantize_activations(x, ActQuant::Q8Blocks);
      for (const WeightMatrix& plain : q8_dot_types(w)) {
        INFO("type " << ggml_type_name(plain.type()));
        const WeightMatrix c = plain.interleave_rows();
        Mat got, want;
        linear(x, c, got, Matmul::RowStable, ActQuant::Q8Blocks);
        linear_q8_scalar(x, c, want);
        REQUIRE(got.rows() == M);
        REQUIRE(got.cols() == N);
        REQUIRE(std::memcmp(got.data(), want.data(), sizeof(float) * size_t(M * N)) == 0);
      }
    }
  }
}

TEST_CASE("WeightMatrix: interleaved rows hold the plain rows' values in the same bytes", "[linear][q8]") {
  const int N = 37, K = 96;  // 3 groups of 16 rows, the last 5 rows long
  for (const WeightMatrix& plain : q8_dot_types(random_mat(N, K, 33))) {
    INFO("type " << ggml_type_name(plain.type()));
    const WeightMatrix c = plain.interleave_rows();
    CHECK(c.interleaved());
    CHECK_FALSE(plain.interleaved());
    CHECK(c.groups() == 3);
    CHECK(c.n_bytes() == size_t(48) * plain.row_bytes());  // padded to whole groups
    CHECK(c.n_bytes() == size_t(c.groups() * c.blocks()) * WeightMatrix::group_block_bytes(c.type()));
    Mat a(N, K), b(N, K), part(3, K);
    plain.decode_rows(0, N, a.data());
    c.decode_rows(0, N, b.data());
    REQUIRE(a == b);
    c.decode_rows(15, 3, part.data());  // rows across a group boundary
    REQUIRE(part == a.middleRows(15, 3));
    const WeightMatrix copy = c;
    CHECK(copy.interleaved());
    CHECK(copy(36, 95) == a(36, 95));
    // The same integer products: the plain matrix (interleaved per call) gives the same bits.
    Mat x = random_mat(3, K, 34), y1, y2;
    linear_q8(x, plain, y1);
    linear_q8(x, c, y2);
    REQUIRE(y1 == y2);
    CHECK_THROWS_WITH(c.interleave_rows(), Catch::Contains("plain Q8_0, Q4_0 or Q4_1"));
  }
  CHECK_THROWS_WITH(WeightMatrix::from_f32(random_mat(2, 32, 35), GgmlType::BF16).interleave_rows(),
                    Catch::Contains("BF16"));
}

TEST_CASE("q8 linear: an input not yet rounded is rounded as quantize_activations does", "[linear][q8]") {
  // Rounding is idempotent (a rounded block's largest level is 127, so its scale comes back
  // bit for bit): raw and pre-rounded inputs give the same bits, which the fp32 kernel would
  // not (so this also shows the integer path ran). Zero blocks have scale 0.
  Mat raw = random_mat(4, 128, 25);
  raw.block(1, 32, 1, 32).setZero();
  Mat rounded = raw;
  quantize_activations(rounded, ActQuant::Q8Blocks);
  for (const WeightMatrix& c : q8_dot_types(random_mat(9, 128, 26))) {
    Mat a, b;
    linear(raw, c, a, Matmul::RowStable, ActQuant::Q8Blocks);
    linear(rounded, c, b, Matmul::RowStable, ActQuant::Q8Blocks);
    REQUIRE(a == b);
    REQUIRE(a.allFinite());
  }
  // Types and widths the integer path does not take go through the fp32 kernels.
  CHECK_FALSE(q8_linear_supports(WeightMatrix::from_f32(random_mat(3, 64, 27), GgmlType::BF16)));
}

// ---- attention kernels ---------------------------------------------------------------------

namespace {
// gamma_n = n u / (1 - n u): the bound on a recursive n-term fp32 sum's relative error (of the
// sum of the terms' magnitudes), which each kernel element is, in whatever order it runs.
double gamma_n(int n) {
  const double u = std::numeric_limits<float>::epsilon() / 2;
  return n * u / (1 - n * u);
}
}  // namespace

TEST_CASE("attention kernels: scores and values within the fp32 summation bound of a double reference",
          "[linear][attention]") {
  // d = 7: scalar tail only; 24: packets plus a tail (AVX2); 64 and 128: the model head sizes.
  for (int d : {7, 24, 64, 128})
    for (auto [rows, n] : {std::pair{1, 1}, {3, 5}, {4, 64}, {7, 65}, {13, 200}}) {
      INFO("d=" << d << " rows=" << rows << " n=" << n);
      const Mat q = random_mat(rows, d, 11), k = random_mat(n, d, 12), v = random_mat(n, d, 13);
      const Mat p = random_mat(rows, n, 14).cwiseAbs();
      Mat s(rows, n + 3), o(rows, d);  // s wider than n: its stride is not n
      attention_scores(q.data(), d, rows, k.data(), n, d, s.data(), s.cols());
      attention_values(p.data(), n, rows, v.data(), n, d, o.data(), d);
      for (int i = 0; i < rows; ++i) {
        for (int j = 0; j < n; ++j) {
          double ref = 0, mag = 0;
          for (int e = 0; e < d; ++e) ref += double(q(i, e)) * k(j, e), mag += std::fabs(double(q(i, e)) * k(j, e));
          REQUIRE(std::fabs(s(i, j) - ref) <= gamma_n(d) * mag + 1e-30);
        }
        for (int e = 0; e < d; ++e) {
          double ref = 0, mag = 0;
          for (int j = 0; j < n; ++j) ref += double(p(i, j)) * v(j, e), mag += std::fabs(double(p(i, j)) * v(j, e));
          REQUIRE(std::fabs(o(i, e) - ref) <= gamma_n(n) * mag + 1e-30);
        }
      }
    }
}

TEST_CASE("attention kernels: a row's bits do not depend on the other rows of its tile", "[linear][attention]") {
  const int d = 64, n = 200, rows = 13;  // n spans several key blocks of attention_values
  const Mat q = random_mat(rows, d, 21), k = random_mat(n, d, 22), v = random_mat(n, d, 23);
  const Mat p = random_mat(rows, n, 24).cwiseAbs();
  Mat s(rows, n), o(rows, d);
  attention_scores(q.data(), d, rows, k.data(), n, d, s.data(), n);
  attention_values(p.data(), n, rows, v.data(), n, d, o.data(), d);
  for (int r0 : {0, 3, 5, 12})
    for (int len : {1, 2, 3, 4, 5}) {
      if (r0 + len > rows) continue;
      INFO("rows [" << r0 << ", " << r0 + len << ")");
      Mat s_part(len, n), o_part(len, d);
      attention_scores(q.row(r0).data(), d, len, k.data(), n, d, s_part.data(), n);
      attention_values(p.row(r0).data(), n, len, v.data(), n, d, o_part.data(), d);
      REQUIRE(s_part == s.middleRows(r0, len));  // bit-identical
      REQUIRE(o_part == o.middleRows(r0, len));
    }
  Mat o_empty = Mat::Constant(2, d, 7.f);
  attention_values(p.data(), n, 2, v.data(), 0, d, o_empty.data(), d);
  REQUIRE(o_empty.isZero(0));  // no keys: a zero output, not the old contents
}

TEST_CASE("attention kernels: packed keys give attention_scores' bits", "[linear][attention]") {
  // n = 0, one partial block, exactly one block, and blocks plus a partial one.
  for (int d : {7, 64})
    for (int n : {0, 1, 63, 64, 200}) {
      INFO("d=" << d << " n=" << n);
      const int rows = 5;
      const Mat q = random_mat(rows, d, 31), k = random_mat(std::max(n, 1), d, 32);
      std::vector<float> kt(packed_keys_size(n, d), -1.f);
      pack_keys(k.data(), n, d, kt.data());
      Mat s = Mat::Zero(rows, n + 2), sp = Mat::Zero(rows, n + 2);  // the 2 columns past n stay 0
      attention_scores(q.data(), d, rows, k.data(), n, d, s.data(), s.cols());
      attention_scores_packed(q.data(), d, rows, kt.data(), n, d, sp.data(), sp.cols());
      REQUIRE(sp == s);
      REQUIRE(sp.rightCols(2).isZero(0));
    }
}
