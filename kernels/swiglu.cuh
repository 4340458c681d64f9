// SwiGLU gate: out = silu(gate) * up, silu(z) = z / (1 + exp(-z)), elementwise over rows.
// CPU twin: the gate line of swiglu_block (lib/runtime/ops.cpp) with silu from ops.h.
// gate and up may be two halves of one fused [R, 2F] projection (pass its row stride).
//
// Legend: R rows, F ffn features.
#pragma once
#include "common.cuh"

COKV_KERNELS_BEGIN

template <class T>
void swiglu(const T* gate, int64_t gate_stride, const T* up, int64_t up_stride, T* out, int64_t out_stride,
            int n_rows, int n_cols, cudaStream_t stream);

COKV_KERNELS_END
