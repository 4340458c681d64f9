// RMSNorm of rows: y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * g.
// CPU twin: rms_norm (lib/runtime/ops.h). One block per row, fp32 sums in a fixed order.
//
// Legend: R rows, E features.
#pragma once
#include "common.cuh"

COKV_KERNELS_BEGIN

// x [R, E] (fp32 residual stream, row stride x_stride), g [E], y [R, E] in T (f32, f16, bf16;
// the input of the next matmul). y may alias x when T is float.
template <class T>
void rms_norm(const float* x, int64_t x_stride, const float* g, T* y, int64_t y_stride, int n_rows,
              int n_cols, float eps, cudaStream_t stream);

COKV_KERNELS_END
