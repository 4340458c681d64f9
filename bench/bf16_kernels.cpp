// bench/bf16_kernels: check-and-time driver for the bf16 decode kernel (never part of ctest).
//   ./build/bf16_kernels [--rows M] [--out N] [--in K]
// Runs, on one thread, at a decode shape:
//   ref     cokv::linear on the fp32 decoding of the bf16 matrix (the oracle; fp32 kernel)
//   shift   cokv::linear on the bf16 matrix (what cokv uses: bf16 -> fp32 by a 16-bit shift,
//           FMA in fp32; bit-equal to ref by construction, checked here)
//   dp-2    AVX512-BF16 vdpbf16ps with the activations split into bf16 hi + lo (x = hi + lo to
//           ~16 bits): two dot instructions per 32 weights
//   dp-1    vdpbf16ps with the activations rounded to bf16 (what ggml does for bf16 weights):
//           one instruction per 32 weights, activations lose 16 bits
// and prints max |y - ref| relative to max |ref|, and GFLOP/s (2 M N K per call). The dp
// variants only exist where the compiler targets AVX512-BF16 (-march=native on such a CPU).
#include <omp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <random>

#include "model/dequant.h"
#include "model/weight_matrix.h"
#include "runtime/ops.h"

#if defined(__AVX512BF16__)
#include <immintrin.h>
#endif

using namespace cokv;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <class F>
double best_seconds(F&& f, double min_total = 0.5) {
  double best = 1e30, total = 0;
  while (total < min_total) {
    const double t0 = now();
    f();
    const double t = now() - t0;
    best = std::min(best, t);
    total += t;
  }
  return best;
}

#if defined(__AVX512BF16__)
// y = x W^T, 4 x rows x 4 weight rows per tile, 32 products per instruction (x pre-split).
template <bool kSplit>
void dp_linear(const std::vector<uint16_t>& xhi, const std::vector<uint16_t>& xlo, int M, int K,
               const WeightMatrix& w, Mat& y) {
  const int N = int(w.rows());
  y.resize(M, N);
  for (int n0 = 0; n0 < N; n0 += 4)  // weight tile outer: its 4 rows stay in L1/L2 across all x rows
    for (int m0 = 0; m0 < M; m0 += 4) {
      const int nx = std::min(4, M - m0), nw = std::min(4, N - n0);
      __m512 acc[4][4];
      for (auto& r : acc)
        for (auto& a : r) a = _mm512_setzero_ps();
      for (int k = 0; k < K; k += 32) {
        __m512bh wv[4];
        for (int j = 0; j < nw; ++j) wv[j] = (__m512bh)_mm512_loadu_si512(w.row_data(n0 + j) + 2 * k);
        for (int i = 0; i < nx; ++i) {
          const __m512bh hi = (__m512bh)_mm512_loadu_si512(&xhi[size_t(m0 + i) * K + k]);
          for (int j = 0; j < nw; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], hi, wv[j]);
          if constexpr (kSplit) {
            const __m512bh lo = (__m512bh)_mm512_loadu_si512(&xlo[size_t(m0 + i) * K + k]);
            for (int j = 0; j < nw; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], lo, wv[j]);
          }
        }
      }
      for (int i = 0; i < nx; ++i)
        for (int j = 0; j < nw; ++j) y(m0 + i, n0 + j) = _mm512_reduce_add_ps(acc[i][j]);
    }
}
#endif

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bf16_kernels: check and time the bf16 linear kernel variants"};
  int M = 1, N = 4096, K = 4096;
  app.add_option("--rows", M, "activation rows (decode batch)");
  app.add_option("--out", N, "weight rows");
  app.add_option("--in", K, "input width (a multiple of 32)");
  CLI11_PARSE(app, argc, argv);
  omp_set_num_threads(1);
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  Mat x(M, K), wf(N, K);
  for (int i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
  for (int i = 0; i < wf.size(); ++i) wf.data()[i] = nd(rng) * 0.02f;
  const WeightMatrix w = WeightMatrix::from_f32(wf, GgmlType::BF16);
  Mat decoded(N, K), ref, y;
  w.decode_rows(0, N, decoded.data());
  const double flop = 2.0 * M * N * K;
  auto report = [&](const char* name, double t, const Mat& out) {
    const double err = (out - ref).cwiseAbs().maxCoeff() / ref.cwiseAbs().maxCoeff();
    std::printf("%-6s %8.2f GFLOP/s  %7.3f ms  max|y-ref|/max|ref| %.2e  (weights %.1f MB)\n", name, flop / t / 1e9,
                t * 1e3, err, double(w.n_bytes()) / 1e6);
  };
  std::printf("M=%d N=%d K=%d, one thread\n", M, N, K);
  const double t_ref = best_seconds([&] { linear(x, decoded, ref, Matmul::RowStable); });
  report("ref", t_ref, ref);
  const double t_shift = best_seconds([&] { linear(x, w, y, Matmul::RowStable); });
  report("shift", t_shift, y);
  if (y != ref) std::printf("shift: NOT bit-equal to ref\n");
#if defined(__AVX512BF16__)
  std::vector<uint16_t> xhi(size_t(M) * K), xlo(size_t(M) * K);
  for (size_t i = 0; i < xhi.size(); ++i) {
    xhi[i] = fp32_to_bf16(x.data()[i]);
    xlo[i] = fp32_to_bf16(x.data()[i] - bf16_to_fp32(xhi[i]));
  }
  report("dp-2", best_seconds([&] { dp_linear<true>(xhi, xlo, M, K, w, y); }), y);
  report("dp-1", best_seconds([&] { dp_linear<false>(xhi, xlo, M, K, w, y); }), y);
#else
  std::printf("dp-2, dp-1: not built (no AVX512-BF16 target)\n");
#endif
  return 0;
}
