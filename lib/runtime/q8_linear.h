// Y = X W^T with integer dot products, for inputs rounded to 8-bit blocks (ActQuant::Q8Blocks,
// the ggml numerics) and weights kept as ggml's Q4_0, Q4_1 or Q8_0 blocks: the arithmetic of
// llama.cpp's CPU matmuls (ggml_vec_dot_q4_1_q8_1 and kin), which read a weight block once and
// multiply it with 8-bit integers instead of decoding it to fp32 first.
//
// Per 32-value block b of an input row (levels qx, scale dx) and of a weight row (levels qw,
// scale dw, Q4_1's offset m), in block order and fp32:
//   acc = fma(float(sum_k qx*qw), dw*dx, acc);  Q4_1: acc = fma(m, dx*sum_k qx, acc)
// The integer sums are exact, so every kernel (AVX-512 VNNI, AVX2, plain C++) gives the same
// bits: linear_q8_scalar is the twin the tests hold them to. The same products as the fp32
// kernel on the decoded values, rounded in another order: results agree to fp32 rounding
// (tests/test_q8_linear.cpp), not to the bit. Row-stable like linear(RowStable): a row's bits
// depend on neither its companions nor the thread count.
//
// The kernels read weights interleaved in groups of 16 rows (model/weight_matrix.h), so that
// a vector's lanes run along 16 weight rows and one integer dot instruction serves 64 products
// of one input row (issue 13: the per-row layout spent three instructions per 32 products).
#pragma once
#include "model/weights.h"

namespace cokv {

// Whether linear_q8 takes weights of this type (and width).
bool q8_linear_supports(const WeightMatrix& w);

// Every matrix of `w` that linear_q8 takes, in the interleaved layout it reads (the same
// bytes; decode_rows still reads them). Plain rows also work, but are interleaved per call.
void interleave_q8_weights(Weights& w);

// x: rows whose every 32-value block is 8-bit levels times one scale (quantize_activations
// with ActQuant::Q8Blocks); other inputs are rounded so first. w: see q8_linear_supports.
void linear_q8(const Mat& x, const WeightMatrix& w, Mat& y);

// The same arithmetic one value at a time in plain C++ (slow): the kernels' twin in tests.
void linear_q8_scalar(const Mat& x, const WeightMatrix& w, Mat& y);

}  // namespace cokv
