// linear(): the row-stable kernel against Eigen's GEMM, and its promise that a row's bits do
// not depend on the other rows or the thread count.
#include <omp.h>

#include <catch2/catch.hpp>
#include <random>

#include "runtime/ops.h"

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
