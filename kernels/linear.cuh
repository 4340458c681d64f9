// Linear layers through cuBLAS: Y = X W^T (+ Y) (+ bias), weights stored [N, K] as the CPU
// runtime stores them (lib/model/weights.h), row-major activations. CPU twin: linear
// (lib/runtime/ops.h). Inputs f32, f16 or bf16 (X and W of one type), fp32 accumulation
// (CUBLAS_COMPUTE_32F, no TF32), Y in f32 or the input type. With accumulate, Y += X W^T:
// the residual add folded into the GEMM's beta. A bias is added by a small kernel after the
// product (for a 16-bit Y the product is rounded once before; cublasLt's bias epilogue would
// save that rounding and a pass over Y).
//
// Legend: M rows (tokens), N outputs, K inputs.
#pragma once
#include "common.cuh"

#if !COKV_EMU
#include <cublas_v2.h>
#endif

COKV_KERNELS_BEGIN

// One cuBLAS handle (per stream and thread), created and destroyed with the object.
class Blas {
 public:
  explicit Blas(cudaStream_t stream = nullptr);
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;
  cublasHandle_t handle() const { return h_; }
  cudaStream_t stream() const { return stream_; }

 private:
  cublasHandle_t h_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

struct LinearArgs {
  const void* x = nullptr;      // [M, K], row stride ldx
  const void* w = nullptr;      // [N, K], row stride ldw
  void* y = nullptr;            // [M, N], row stride ldy
  const float* bias = nullptr;  // [N] or null, added after the product
  DType x_type = DType::F32, w_type = DType::F32, y_type = DType::F32;
  int64_t ldx = 0, ldw = 0, ldy = 0;
  int m = 0, n = 0, k = 0;
  bool accumulate = false;  // y += x w^T instead of y = x w^T
};

void linear(const Blas& blas, const LinearArgs& a);

COKV_KERNELS_END
