// Small building blocks of the CPU forward pass (the reference every backend matches).
// Row-major activations: X [rows, features].
#pragma once
#include <cmath>
#include <vector>

#include "core/softmax.h"
#include "model/config.h"
#include "model/weights.h"

namespace cokv {

// How matmul inputs are rounded. ggml (llama.cpp) multiplies block-quantised weights with
// activations quantised to 8 bits per 32-value block (Q8_0/Q8_1: q = round(x*127/max|x|),
// d = max|x|/127 stored in fp16). Q8Blocks does that rounding; given the same inputs our Q8_0
// LM head then matches ggml's to ~3e-7 relative, and Q4_1 matmuls to ~3e-4 (ggml also rounds
// Q8_1's s = d*sum(q) to fp16 for the Q4_1 min term, and the softmax probabilities to fp16
// before multiplying with V; neither is emulated). It does not bring the logits closer to
// llama.cpp's: that rounding flips on last-bit differences of its input, and on this model a
// 1-ulp jitter alone moves logits by up to ~0.75 (tests/test_parity.cpp). Fp32 keeps
// activations exact and matches llama.cpp on an F32 copy of the weights to ~1e-4.
enum class ActQuant { Fp32, Q8Blocks };

// How a linear layer multiplies.
//  Gemm: Eigen's blocked GEMM on panels of weight rows spread over the thread pool
//    (core/parallel.h), for prefill's many rows. It packs the weights on every call, which for
//    a few rows costs as much as the product.
//  RowStable: every output element is one fixed-order sum (SIMD lanes along the input, then a
//    fixed reduction), whatever the other rows and the thread count, so a decoded sequence's
//    bits do not depend on its batch; weights stream once per 64 rows, no packing. Decode.
enum class Matmul { Gemm, RowStable };

// Y = X W^T for a weight stored [out, in] (ggml layout), in any storage type. F32, BF16, F16,
// Q8_0, Q4_0 and Q4_1 have direct kernels (the compact types convert exactly to fp32 and
// accumulate in fp32, so they give the bits of their fp32 decoding); other types are decoded a
// tile (RowStable) or a panel (Gemm) at a time. Row-stable for every type. Gemm on a compact
// matrix with fewer than 64 rows takes the row-stable kernel (decoding panels would cost more
// than the product). Neither path's bits depend on the thread count.
// aq = Q8Blocks says x was rounded by quantize_activations: then Q8_0, Q4_0 and Q4_1 weights
// take integer dot products wherever the row-stable kernel would run (runtime/q8_linear.h:
// llama.cpp's arithmetic, equal to the fp32 kernel's up to rounding order).
void linear(const Mat& x, const WeightMatrix& w, Mat& y, Matmul mm = Matmul::Gemm, ActQuant aq = ActQuant::Fp32);
// The same for a plain fp32 matrix (tests, benchmarks).
void linear(const Mat& x, const Mat& w, Mat& y, Matmul mm = Matmul::Gemm);


// Attention over one set of keys for a tile of query rows, row-stable like linear(RowStable):
// every element is one fixed-order sum whatever the other rows of the tile, so the rows of
// many sequences can share one pass over the keys (read once, not once per row).
//  scores: s[i*ss + j] = q_i . k_j             i < rows, j < n; k: n rows of d floats
//  values: o[i*os + e] = sum_j p_i[j] v_j[e]   j ascending; v: n rows of d floats
void attention_scores(const float* q, Eigen::Index qs, int rows, const float* k, int n, int d, float* s,
                      Eigen::Index ss);
void attention_values(const float* p, Eigen::Index ps, int rows, const float* v, int n, int d, float* o,
                      Eigen::Index os);
// Keys packed once for many attention_scores passes (a decode step reads the same prompt keys
// at every step): the transposed blocks attention_scores otherwise builds each call, so the
// scores are the same bits. pack_keys writes packed_keys_size(n, d) floats.
size_t packed_keys_size(int n, int d);
void pack_keys(const float* k, int n, int d, float* kt);
void attention_scores_packed(const float* q, Eigen::Index qs, int rows, const float* kt, int n, int d, float* s,
                             Eigen::Index ss);

// In place: rounds to the nearest fp16 value (ggml's f16 KV cache), a no-op for Fp32.
void round_kv(Mat& x, ActQuant q);

// In place: rounds every 32-value block of every row to 8-bit levels (a no-op for Fp32).
void quantize_activations(Mat& x, ActQuant q);

// Row-wise RMSNorm: y = x / sqrt(mean(x^2) + eps) * g.
void rms_norm(const Mat& x, const Vec& g, float eps, Mat& y);

// Rotary embedding tables for positions [0, n_pos): cos/sin [n_pos, rope_dim/2].
struct RopeTable {
  int rope_dim = 0;
  RopeStyle style = RopeStyle::Norm;
  std::vector<float> cos, sin;
  void build(const ModelConfig& cfg, int n_pos);
  int n_pos() const { return rope_dim ? int(cos.size()) / (rope_dim / 2) : 0; }
};
// Rotates one head vector x[head_dim] in place for position pos.
void rope_apply(const RopeTable& t, float* x, int pos);
// Rotates every head of rows: x [n_rows, n_heads*head_dim], row r at position pos[r].
void rope_rows(const RopeTable& t, Mat& x, int n_heads, int head_dim, const int* pos);

inline float silu(float x) { return x / (1.f + std::exp(-x)); }

// One layer's attention inputs for rows x: xn = RMSNorm(x), q/k/v projections (+ bias),
// RoPE at positions pos[r], and the ggml rounding when asked. Shared by prefill and decode.
void qkv_block(const LayerWeights& lw, const ModelConfig& c, ActQuant aq, const RopeTable& rope, const int* pos,
               const Mat& x, Mat& xn, Mat& q, Mat& k, Mat& v, Matmul mm = Matmul::Gemm);

// x += W_down(silu(W_gate xn) * W_up xn) with xn = RMSNorm(x): the SwiGLU MLP block.
// xn, gate, up, o are scratch.
void swiglu_block(const LayerWeights& lw, const ModelConfig& c, ActQuant aq, Mat& x, Mat& xn, Mat& gate,
                  Mat& up, Mat& o, Matmul mm = Matmul::Gemm);


}  // namespace cokv
