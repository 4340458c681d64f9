// Kernel parity, part 1: RMSNorm, RoPE, SwiGLU, embedding gather, linear (cuBLAS), logit
// rows. Each against its CPU twin in lib/runtime (rms_norm, RopeTable + rope_rows, silu,
// linear, argmax); log-softmax against a double _ref (lib's log_softmax_at is internal to
// batch_decode.cpp). Harness and tolerance conventions: kernel_parity.h.
#include "embed.cuh"
#include "kernel_parity.h"
#include "linear.cuh"
#include "logits.cuh"
#include "rms_norm.cuh"
#include "rope.cuh"
#include "runtime/ops.h"
#include "runtime/prefill.h"
#include "swiglu.cuh"

using namespace kp;
using cokv::Mat;

namespace {

Mat to_mat(const std::vector<float>& x, int rows, int cols, int64_t stride) {
  Mat m(rows, cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) m(r, c) = x[size_t(r) * stride + c];
  return m;
}

// ---- RMSNorm ----------------------------------------------------------------------------------
template <class T>
Case rms_norm_case(int rows, int cols, int pad, uint32_t seed) {
  return {std::string(type_name<T>()) + " " + std::to_string(rows) + "x" + std::to_string(cols) + " pad " +
              std::to_string(pad),
          [=] {
            const int64_t xs = cols + pad, ys = cols + 2 * pad;
            const std::vector<float> x = normal(size_t(rows) * xs, seed, 3.f), g = normal(cols, seed + 1);
            const float eps = 1e-5f;
            Mat y;
            cokv::rms_norm(to_mat(x, rows, cols, xs), Eigen::Map<const cokv::Vec>(g.data(), cols), eps, y);
            const std::vector<T> sentinel(size_t(rows) * ys, from_float<T>(-7.f));
            const Outputs out = run_device([&] {
              Dev<float> dx(x), dg(g);
              Dev<T> dy(sentinel);
              rms_norm<T>(dx.get(), xs, dg.get(), dy.get(), ys, rows, cols, eps, nullptr);
              return Outputs{widen(dy.download())};
            });
            // Each side: the sum of squares within gamma(E) (positive terms), sqrt, division
            // and two products 4u more, so |y - exact| <= (gamma(E)/2 + 4u)|y|; twice that
            // between twin and kernel, plus rounding the output to T. Padding stays untouched.
            std::vector<double> ref(out[0].size()), tol(out[0].size(), 0.0);
            for (int r = 0; r < rows; ++r)
              for (int c = 0; c < ys; ++c) {
                const size_t i = size_t(r) * ys + c;
                ref[i] = c < cols ? y(r, c) : -7.0;
                if (c < cols)
                  tol[i] = std::fabs(ref[i]) * (2 * (gamma_n(cols) / 2 + 4 * kU32) + unit_roundoff<T>());
              }
            compare("y", out[0], ref, tol, "2 (gamma(E)/2 + 4u) |y| + u_T |y|; padding exact");
          }};
}

// ---- RoPE -------------------------------------------------------------------------------------
template <class T>
Case rope_case(int rows, int heads, int head_dim, int rope_dim, RopePairs pairs, int n_pos, uint32_t seed) {
  return {std::string(type_name<T>()) + " rows " + std::to_string(rows) + " heads " + std::to_string(heads) +
              " D " + std::to_string(head_dim) + " rope_dim " + std::to_string(rope_dim) +
              (pairs == RopePairs::Adjacent ? " adjacent" : " half-split") + " positions < " +
              std::to_string(n_pos),
          [=] {
            cokv::ModelConfig c;
            c.rope_dim = rope_dim, c.head_dim = head_dim, c.rope_base = 500000.f;
            c.rope_style = pairs == RopePairs::Adjacent ? cokv::RopeStyle::Norm : cokv::RopeStyle::Neox;
            cokv::RopeTable table;
            table.build(c, n_pos);
            const int P = rope_dim / 2, width = heads * head_dim;
            const int64_t stride = width + 3;
            std::mt19937 rng(seed);
            std::vector<int32_t> pos(rows);
            for (int r = 0; r < rows; ++r) pos[r] = r == 0 ? n_pos - 1 : int32_t(rng() % uint32_t(n_pos));
            // The host's per-pair inverse frequencies, as RopeTable::build forms them.
            std::vector<double> inv_freq(P);
            for (int i = 0; i < P; ++i)
              inv_freq[i] = std::pow(double(c.rope_base), -2.0 * i / double(rope_dim));
            const std::vector<float> x = rounded<T>(normal(size_t(rows) * stride, seed + 1, 2.f));
            Mat xm = to_mat(x, rows, width, stride);
            cokv::rope_rows(table, xm, heads, head_dim, pos.data());
            const Outputs out = run_device([&] {
              Dev<int32_t> dpos(pos);
              Dev<double> dinv(inv_freq);
              Dev<float> dcos(size_t(rows) * P), dsin(size_t(rows) * P);
              Dev<T> dx(convert<T>(x));
              rope_cache(dpos.get(), rows, dinv.get(), P, dcos.get(), dsin.get(), nullptr);
              rope<T>(dx.get(), stride, rows, heads, head_dim, rope_dim, pairs, dcos.get(), dsin.get(),
                      nullptr);
              return Outputs{dcos.download(), dsin.download(), widen(dx.download())};
            });
            // Tables: both sides round the same double angle's cos/sin to float: within one
            // float ulp (the GPU's double sincos is within 2 double ulp).
            std::vector<double> rc(size_t(rows) * P), rs(rc.size()), tc(rc.size()), ts(rc.size());
            for (int r = 0; r < rows; ++r)
              for (int i = 0; i < P; ++i) {
                const size_t e = size_t(r) * P + i;
                rc[e] = table.cos[size_t(pos[r]) * P + i], rs[e] = table.sin[size_t(pos[r]) * P + i];
                tc[e] = std::nextafter(std::fabs(float(rc[e])), INFINITY) - std::fabs(float(rc[e]));
                ts[e] = std::nextafter(std::fabs(float(rs[e])), INFINITY) - std::fabs(float(rs[e]));
              }
            compare("cos", out[0], rc, tc, "1 float ulp (one double angle rounded on both sides)");
            compare("sin", out[1], rs, ts, "1 float ulp (one double angle rounded on both sides)");
            // Rotated pair (a, b): two products and a sum, 2u(|a| + |b|) per side, and the
            // tables' 1 ulp (< u) on each factor; the output rounded to T. Dimensions beyond
            // rope_dim and the padding are untouched: exact.
            std::vector<double> ref(x.size()), tol(x.size(), 0.0);
            for (int r = 0; r < rows; ++r)
              for (int e = 0; e < stride; ++e) {
                const size_t i = size_t(r) * stride + e;
                ref[i] = e < width ? xm(r, e) : x[i];
                const int h = e / head_dim, d = e % head_dim;
                if (e >= width || d >= rope_dim) continue;
                const int mate = pairs == RopePairs::Adjacent ? (d ^ 1) : (d < P ? d + P : d - P);
                const double ab = std::fabs(x[i]) + std::fabs(x[size_t(r) * stride + h * head_dim + mate]);
                tol[i] = 6 * kU32 * ab + unit_roundoff<T>() * std::fabs(ref[i]);
              }
            compare("x", out[2], ref, tol, "6u (|a| + |b|) + u_T |y|; unrotated dimensions exact");
          }};
}

// ---- SwiGLU -------------------------------------------------------------------------------------
template <class T>
Case swiglu_case(int rows, int cols, uint32_t seed) {
  return {std::string(type_name<T>()) + " " + std::to_string(rows) + "x" + std::to_string(cols) +
              " (fused gate|up)",
          [=] {
            // gate and up are the two halves of one [R, 2F] projection; out has padding.
            const int64_t in_stride = 2 * cols, out_stride = cols + 5;
            const std::vector<float> gu = rounded<T>(normal(size_t(rows) * in_stride, seed, 3.f));
            const std::vector<T> sentinel(size_t(rows) * out_stride, from_float<T>(11.f));
            const Outputs out = run_device([&] {
              Dev<T> dgu(convert<T>(gu)), dout(sentinel);
              swiglu<T>(dgu.get(), in_stride, dgu.get() + cols, in_stride, dout.get(), out_stride, rows, cols,
                        nullptr);
              return Outputs{widen(dout.download())};
            });
            // silu: exp within 2u, the sum and the division u each (the quotient's
            // sensitivity to exp's error is below 1): 4u, times up: 5u per side.
            std::vector<double> ref(out[0].size()), tol(out[0].size(), 0.0);
            for (int r = 0; r < rows; ++r)
              for (int c = 0; c < out_stride; ++c) {
                const size_t i = size_t(r) * out_stride + c;
                if (c >= cols) {
                  ref[i] = 11.0;
                  continue;
                }
                const float g = gu[size_t(r) * in_stride + c], u = gu[size_t(r) * in_stride + cols + c];
                ref[i] = cokv::silu(g) * u;
                tol[i] = std::fabs(ref[i]) * (2 * 5 * kU32 + unit_roundoff<T>());
              }
            compare("out", out[0], ref, tol, "2 x 5u |y| + u_T |y|; padding exact");
          }};
}

// ---- embedding gather ---------------------------------------------------------------------------
template <class T>
Case embed_case(int vocab, int cols, uint32_t seed) {
  return {std::string(type_name<T>()) + " V " + std::to_string(vocab) + " E " + std::to_string(cols) +
              " (ids outside the vocabulary give NaN rows)",
          [=] {
            const std::vector<float> table = rounded<T>(normal(size_t(vocab) * cols, seed));
            const std::vector<int32_t> tokens = {0, vocab - 1, 3 % vocab, -1, vocab, 1 % vocab, 0};
            const int rows = int(tokens.size());
            const Outputs out = run_device([&] {
              Dev<T> dt(convert<T>(table));
              Dev<int32_t> dtok(tokens);
              Dev<float> dout(size_t(rows) * cols);
              embed<T>(dt.get(), cols, vocab, dtok.get(), rows, cols, dout.get(), cols, nullptr);
              return Outputs{dout.download()};
            });
            Mat tok_embd = to_mat(table, vocab, cols, cols);
            std::vector<double> ref(out[0].size()), tol(out[0].size(), 0.0);
            for (int r = 0; r < rows; ++r)
              for (int c = 0; c < cols; ++c) {
                const bool ok = tokens[r] >= 0 && tokens[r] < vocab;
                ref[size_t(r) * cols + c] =
                    ok ? tok_embd(tokens[r], c) : NAN;  // prefill's x.row(t) = tok_embd.row(id)
              }
            compare("rows", out[0], ref, tol, "a gather: exact");
          }};
}

// ---- linear (cuBLAS) ----------------------------------------------------------------------------
template <class T, class Y>
Case linear_case(int m, int n, int k, bool accumulate, bool bias, uint32_t seed) {
  return {
      std::string(type_name<T>()) + " -> " + type_name<Y>() + " M " + std::to_string(m) + " N " +
          std::to_string(n) + " K " + std::to_string(k) + (accumulate ? " accumulate" : "") +
          (bias ? " bias" : ""),
      [=] {
        const int64_t ldx = k + 3, ldw = k + 1, ldy = n + 2;
        const std::vector<float> x = rounded<T>(normal(size_t(m) * ldx, seed));
        const std::vector<float> w = rounded<T>(normal(size_t(n) * ldw, seed + 1, 0.3f));
        const std::vector<float> y0 = rounded<Y>(normal(size_t(m) * ldy, seed + 2));
        const std::vector<float> b = normal(n, seed + 3);
        Mat yc;
        cokv::linear(to_mat(x, m, k, ldx), to_mat(w, n, k, ldw), yc);
        const Outputs out = run_device([&] {
          Blas blas;
          Dev<T> dx(convert<T>(x)), dw(convert<T>(w));
          Dev<Y> dy(convert<Y>(y0));
          Dev<float> db(b);
          LinearArgs a;
          a.x = dx.get(), a.w = dw.get(), a.y = dy.get(), a.bias = bias ? db.get() : nullptr;
          a.x_type = a.w_type = dtype_of<T>(), a.y_type = dtype_of<Y>();
          a.ldx = ldx, a.ldw = ldw, a.ldy = ldy, a.m = m, a.n = n, a.k = k, a.accumulate = accumulate;
          linear(blas, a);
          return Outputs{widen(dy.download())};
        });
        // Each side's dot product within gamma(K) sum|x w| (and the CPU twin's GEMM too);
        // the residual and bias adds u each; the output rounded to Y, and with a bias the
        // product is rounded to Y once before it is added. Padding untouched.
        std::vector<double> ref(out[0].size()), tol(out[0].size(), 0.0);
        for (int r = 0; r < m; ++r)
          for (int c = 0; c < ldy; ++c) {
            const size_t i = size_t(r) * ldy + c;
            if (c >= n) {
              ref[i] = y0[i];
              continue;
            }
            double mag = 0;
            for (int e = 0; e < k; ++e)
              mag += std::fabs(double(x[size_t(r) * ldx + e]) * w[size_t(c) * ldw + e]);
            ref[i] = double(yc(r, c)) + (accumulate ? y0[i] : 0.0) + (bias ? b[c] : 0.0);
            const double before_bias = std::fabs(ref[i] - (bias ? b[c] : 0.0));
            tol[i] = 2 * gamma_n(k) * mag +
                     4 * kU32 * (std::fabs(y0[i]) + std::fabs(b[c]) + std::fabs(ref[i])) +
                     unit_roundoff<Y>() * (std::fabs(ref[i]) + (bias ? before_bias : 0.0));
          }
        compare(
            "y", out[0], ref, tol,
            "2 gamma(K) sum|x w| + 4u (|y0| + |b| + |y|) + u_Y (|y| + |y - b| with a bias); padding exact");
      }};
}

// ---- logit rows -----------------------------------------------------------------------------------
Case logits_case(int rows, int vocab, uint32_t seed) {
  return {"V " + std::to_string(vocab) + " rows " + std::to_string(rows) + " (tied maxima)", [=] {
            const int64_t stride = vocab + 7;
            std::vector<float> l = normal(size_t(rows) * stride, seed, 4.f);
            std::mt19937 rng(seed);
            std::vector<int32_t> targets(rows);
            for (int r = 0; r < rows; ++r) {
              float* row = &l[size_t(r) * stride];
              if (r % 2 == 1 && vocab > 2) {  // the maximum twice: the first one wins
                const float mx = *std::max_element(row, row + vocab) + 1.f;
                row[vocab - 1] = mx, row[vocab / 2] = mx;
              }
              targets[r] = int32_t(rng() % uint32_t(vocab));
            }
            const Outputs out = run_device([&] {
              Dev<float> dl(l), dlp(rows);
              Dev<int32_t> dt(targets), dam(rows);
              logits_rows(dl.get(), stride, rows, vocab, dam.get(), dt.get(), dlp.get(), nullptr);
              const std::vector<int32_t> am = dam.download();
              return Outputs{std::vector<float>(am.begin(), am.end()), dlp.download()};
            });
            std::vector<float> am_ref(rows);
            std::vector<double> lp_ref(rows), tol(rows);
            for (int r = 0; r < rows; ++r) {
              const float* row = &l[size_t(r) * stride];
              am_ref[r] = float(cokv::argmax(std::span<const float>(row, vocab)));
              // log_softmax_at_ref: in double.
              const double mx = *std::max_element(row, row + vocab);
              double z = 0;
              for (int j = 0; j < vocab; ++j) z += std::exp(double(row[j]) - mx);
              lp_ref[r] = double(row[targets[r]]) - mx - std::log(z);
              // The fp32 sum: ceil(V/512) terms per thread, then a 9-level tree; exp and log
              // 2u each; the difference l_t - max and the result rounded: u each.
              tol[r] = gamma_n(std::ceil(vocab / 512.0) + 9) + 4 * kU32 +
                       kU32 * (std::fabs(row[targets[r]] - mx) + std::fabs(lp_ref[r]));
            }
            compare_exact("argmax (ties to the lowest index)", out[0], am_ref);
            compare("log p(target)", out[1], lp_ref, tol,
                    "gamma(V/512 + 9) + 4u + u(|l_t - max| + |log p|)");
          }};
}

}  // namespace

TEST_CASE("kernels: rms_norm against lib's rms_norm", "[kernels][emu]") {
  run_table("rms_norm", {rms_norm_case<float>(1, 1, 0, 1), rms_norm_case<float>(3, 257, 3, 2),
                         rms_norm_case<bf16>(5, 64, 0, 3), rms_norm_case<f16>(2, 1000, 1, 4),
                         rms_norm_case<bf16>(1, 300, 5, 5)});
}

TEST_CASE("kernels: rope_cache and rope against lib's RopeTable and rope_rows", "[kernels][emu]") {
  run_table("rope", {rope_case<float>(4, 3, 8, 8, RopePairs::Adjacent, 40000, 1),
                     rope_case<float>(3, 2, 16, 8, RopePairs::HalfSplit, 40000, 2),
                     rope_case<bf16>(5, 2, 64, 64, RopePairs::HalfSplit, 3000, 3),
                     rope_case<f16>(2, 1, 64, 32, RopePairs::Adjacent, 3000, 4)});
}

TEST_CASE("kernels: swiglu against lib's silu", "[kernels][emu]") {
  run_table("swiglu", {swiglu_case<float>(3, 1, 1), swiglu_case<float>(2, 300, 2),
                       swiglu_case<bf16>(4, 257, 3), swiglu_case<f16>(1, 64, 4)});
}

TEST_CASE("kernels: embed against prefill's row gather", "[kernels][emu]") {
  run_table("embed", {embed_case<float>(50, 33, 1), embed_case<bf16>(7, 300, 2), embed_case<f16>(3, 8, 3)});
}

TEST_CASE("kernels: linear (cuBLAS) against lib's linear", "[kernels][emu]") {
  run_table("linear", {linear_case<float, float>(1, 7, 9, false, false, 1),
                       linear_case<float, float>(33, 64, 130, true, true, 2),
                       linear_case<bf16, float>(5, 17, 64, true, false, 3),
                       linear_case<bf16, bf16>(3, 40, 33, false, true, 4),
                       linear_case<f16, f16>(7, 9, 16, false, false, 5)});
}

TEST_CASE("kernels: logits_rows against lib's argmax and a double log-softmax", "[kernels][emu]") {
  run_table("logits_rows",
            {logits_case(1, 1, 1), logits_case(4, 33, 2), logits_case(3, 1000, 3), logits_case(2, 5000, 4)});
}
