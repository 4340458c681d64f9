#include "runtime/ops.h"

#include <algorithm>

#include "core/error.h"
#include "model/dequant.h"

namespace cokv {

void rms_norm(const Mat& x, const Vec& g, float eps, Mat& y) {
  y.resize(x.rows(), x.cols());
  const Eigen::Index n = x.cols();
#pragma omp parallel for if (x.rows() > 16)
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    const float ms = x.row(r).squaredNorm() / float(n);
    const float s = 1.f / std::sqrt(ms + eps);
    y.row(r) = (x.row(r).array() * s) * g.transpose().array();
  }
}

void quantize_activations(Mat& x, ActQuant q) {
  if (q == ActQuant::Fp32) return;
  const Eigen::Index n_blocks = x.cols() / 32;  // ggml rows are whole blocks
#pragma omp parallel for if (x.rows() > 16)
  for (Eigen::Index r = 0; r < x.rows(); ++r)
    for (Eigen::Index b = 0; b < n_blocks; ++b) {
      float* v = x.row(r).data() + b * 32;
      float amax = 0.f;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(v[i]));
      // As ggml's x86 quantize_row_q8_0/q8_1: id = 127/amax (not 1/d, which flips some
      // roundings), and the products use d as stored, in fp16.
      const float id = amax != 0.f ? 127.f / amax : 0.f;
      const float d = fp16_to_fp32(fp32_to_fp16(amax / 127.f));
      for (int i = 0; i < 32; ++i) v[i] = std::nearbyint(v[i] * id) * d;
    }
}

void round_kv(Mat& x, ActQuant q) {
  if (q == ActQuant::Fp32) return;
  float* v = x.data();
  for (Eigen::Index i = 0; i < x.size(); ++i) v[i] = fp16_to_fp32(fp32_to_fp16(v[i]));
}

void RopeTable::build(const ModelConfig& cfg, int n_pos) {
  rope_dim = cfg.rope_dim;
  style = cfg.rope_style;
  const int half = rope_dim / 2;
  cos.resize(size_t(n_pos) * half);
  sin.resize(size_t(n_pos) * half);
  for (int p = 0; p < n_pos; ++p)
    for (int i = 0; i < half; ++i) {
      // theta_i = p * base^(-2i/d), computed in double as llama.cpp's reference does in float
      // powers; double keeps long positions accurate.
      const double theta = double(p) * std::pow(double(cfg.rope_base), -2.0 * i / double(rope_dim));
      cos[size_t(p) * half + i] = float(std::cos(theta));
      sin[size_t(p) * half + i] = float(std::sin(theta));
    }
}

void rope_apply(const RopeTable& t, float* x, int pos) {
  const int half = t.rope_dim / 2;
  require(pos >= 0 && pos < t.n_pos(), "rope: position " + std::to_string(pos) + " beyond table");
  const float* c = &t.cos[size_t(pos) * half];
  const float* s = &t.sin[size_t(pos) * half];
  if (t.style == RopeStyle::Norm) {
    for (int i = 0; i < half; ++i) {
      const float a = x[2 * i], b = x[2 * i + 1];
      x[2 * i] = a * c[i] - b * s[i];
      x[2 * i + 1] = a * s[i] + b * c[i];
    }
  } else {
    for (int i = 0; i < half; ++i) {
      const float a = x[i], b = x[i + half];
      x[i] = a * c[i] - b * s[i];
      x[i + half] = a * s[i] + b * c[i];
    }
  }
}

void rope_rows(const RopeTable& t, Mat& x, int n_heads, int head_dim, const int* pos) {
#pragma omp parallel for if (x.rows() > 16)
  for (Eigen::Index r = 0; r < x.rows(); ++r)
    for (int h = 0; h < n_heads; ++h) rope_apply(t, x.row(r).data() + size_t(h) * head_dim, pos[r]);
}

namespace {

using Packet = Eigen::internal::packet_traits<float>::type;
constexpr int kLanes = Eigen::internal::unpacket_traits<Packet>::size;

// y[m0+i, n0+j] for i < NX, j < NW: NX x NW accumulators of kLanes lanes along the input.
// Each element's arithmetic (lane sums, fixed reduction, scalar tail) never depends on NX,
// NW or the neighbours, which is what makes linear(RowStable) row-stable.
template <int NX, int NW>
void row_stable_tile(const Mat& x, const Mat& w, Mat& y, Eigen::Index m0, Eigen::Index n0) {
  const Eigen::Index K = x.cols(), Kv = K / kLanes * kLanes;
  Packet acc[NX][NW];
  for (int i = 0; i < NX; ++i)
    for (int j = 0; j < NW; ++j) acc[i][j] = Eigen::internal::pset1<Packet>(0.f);
  const float* xr[NX];
  const float* wr[NW];
  for (int i = 0; i < NX; ++i) xr[i] = x.row(m0 + i).data();
  for (int j = 0; j < NW; ++j) wr[j] = w.row(n0 + j).data();
  for (Eigen::Index k = 0; k < Kv; k += kLanes) {
    Packet xp[NX];
    for (int i = 0; i < NX; ++i) xp[i] = Eigen::internal::ploadu<Packet>(xr[i] + k);
    for (int j = 0; j < NW; ++j) {
      const Packet wp = Eigen::internal::ploadu<Packet>(wr[j] + k);
      for (int i = 0; i < NX; ++i) acc[i][j] = Eigen::internal::pmadd(xp[i], wp, acc[i][j]);
    }
  }
  for (int i = 0; i < NX; ++i)
    for (int j = 0; j < NW; ++j) {
      float sum = Eigen::internal::predux(acc[i][j]);
      for (Eigen::Index k = Kv; k < K; ++k) sum += xr[i][k] * wr[j][k];
      y(m0 + i, n0 + j) = sum;
    }
}

template <int NW>
void row_stable_rows(const Mat& x, const Mat& w, Mat& y, Eigen::Index m0, Eigen::Index m1, Eigen::Index n0) {
  Eigen::Index m = m0;
  for (; m + 4 <= m1; m += 4) row_stable_tile<4, NW>(x, w, y, m, n0);
  switch (m1 - m) {
    case 3: row_stable_tile<3, NW>(x, w, y, m, n0); break;
    case 2: row_stable_tile<2, NW>(x, w, y, m, n0); break;
    case 1: row_stable_tile<1, NW>(x, w, y, m, n0); break;
    default: break;
  }
}

// Weight rows per tile (x rows per tile: 4). 4 x 6 accumulators + 4 + 1 operands fit the
// 32 vector registers of AVX-512 (AVX2's 16 spill a little).
constexpr int kTileCols = 6;

// Dispatches the last, narrower column block to its own instantiation.
template <int NW = kTileCols>
void row_stable_cols(const Mat& x, const Mat& w, Mat& y, Eigen::Index m0, Eigen::Index m1, Eigen::Index n0,
                     Eigen::Index nw) {
  if constexpr (NW == 1) {
    row_stable_rows<1>(x, w, y, m0, m1, n0);
  } else {
    if (nw == NW) return row_stable_rows<NW>(x, w, y, m0, m1, n0);
    row_stable_cols<NW - 1>(x, w, y, m0, m1, n0, nw);
  }
}

void linear_row_stable(const Mat& x, const Mat& w, Mat& y) {
  const Eigen::Index M = x.rows(), N = w.rows();
  require(x.cols() == w.cols(), "linear: input width " + std::to_string(x.cols()) + " but weight rows of " +
                                    std::to_string(w.cols()));
  y.resize(M, N);
  constexpr Eigen::Index kChunk = 64;  // rows whose inputs stay in L2 while the weights stream by
  const Eigen::Index n_blocks = (N + kTileCols - 1) / kTileCols;
  for (Eigen::Index c0 = 0; c0 < M; c0 += kChunk) {
    const Eigen::Index c1 = std::min(M, c0 + kChunk);
#pragma omp parallel for schedule(static) if (n_blocks > 16)
    for (Eigen::Index b = 0; b < n_blocks; ++b) {
      const Eigen::Index n0 = kTileCols * b;
      row_stable_cols(x, w, y, c0, c1, n0, std::min<Eigen::Index>(kTileCols, N - n0));
    }
  }
}

}  // namespace

void linear(const Mat& x, const Mat& w, Mat& y, Matmul mm) {
  if (mm == Matmul::RowStable) return linear_row_stable(x, w, y);
  y.noalias() = x * w.transpose();
}

void qkv_block(const LayerWeights& lw, const ModelConfig& c, ActQuant aq, const RopeTable& rope, const int* pos,
               const Mat& x, Mat& xn, Mat& q, Mat& k, Mat& v, Matmul mm) {
  rms_norm(x, lw.attn_norm, c.norm_eps, xn);
  quantize_activations(xn, aq);
  linear(xn, lw.wq, q, mm);
  linear(xn, lw.wk, k, mm);
  linear(xn, lw.wv, v, mm);
  if (c.qkv_bias) {
    q.rowwise() += lw.bq;
    k.rowwise() += lw.bk;
    v.rowwise() += lw.bv;
  }
  rope_rows(rope, q, c.n_heads, c.head_dim, pos);
  rope_rows(rope, k, c.n_kv_heads, c.head_dim, pos);
  round_kv(q, aq);
  round_kv(k, aq);
  round_kv(v, aq);
}

void swiglu_block(const LayerWeights& lw, const ModelConfig& c, ActQuant aq, Mat& x, Mat& xn, Mat& gate,
                  Mat& up, Mat& o, Matmul mm) {
  rms_norm(x, lw.ffn_norm, c.norm_eps, xn);
  quantize_activations(xn, aq);
  linear(xn, lw.w_gate, gate, mm);
  linear(xn, lw.w_up, up, mm);
  gate = gate.unaryExpr([](float z) { return silu(z); }).cwiseProduct(up);
  quantize_activations(gate, aq);
  linear(gate, lw.w_down, o, mm);
  x += o;
}

}  // namespace cokv
