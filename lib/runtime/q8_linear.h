// Y = X W^T with integer dot products, for inputs rounded to 8-bit blocks (ActQuant::Q8Blocks,
// the ggml numerics) and weights kept as ggml's Q4_0, Q4_1 or Q8_0 blocks: the arithmetic of
// llama.cpp's CPU matmuls (ggml_vec_dot_q4_1_q8_1 and kin), which read a weight block once and
// multiply it with 8-bit integers instead of decoding it to fp32 first.
//
// Per 32-value block b of an input row (levels qx, scale dx) and of a weight row (levels qw,
// scale dw, Q4_1's offset m): sum_b float(sum_k qx*qw) * (dw*dx) + m * (dx*sum_k qx), in fp32; the
// integer sums are exact. The same products as the fp32 kernel on the decoded values, rounded in
// another order: results agree to fp32 rounding (tests/test_q8_linear.cpp), not to the bit.
// Row-stable like linear(RowStable): a row's bits depend on neither its companions nor the
// thread count.
#pragma once
#include "model/weights.h"

namespace cokv {

// Whether linear_q8 takes weights of this type (and width).
bool q8_linear_supports(const WeightMatrix& w);

// x: rows whose every 32-value block is 8-bit levels times one scale (quantize_activations
// with ActQuant::Q8Blocks); other inputs are rounded so first. w: see q8_linear_supports.
void linear_q8(const Mat& x, const WeightMatrix& w, Mat& y);

}  // namespace cokv
