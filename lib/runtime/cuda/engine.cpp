// Shared pieces of the forward passes (see engine.h): GEMMs, the decode chunk, the state.
#include "runtime/cuda/engine.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/decode_attention.cuh"

COKV_CUDA_BACKEND_BEGIN

int decode_chunk(int n_tokens) {
  constexpr int kChunk = kernels::DecodePlan::kDefaultChunk, kMaxChunks = 32;
  const int per = (n_tokens + kMaxChunks - 1) / kMaxChunks;
  return std::max(kChunk, (per + 31) / 32 * 32);
}

CudaState::~CudaState() {
  if (counters) counters->state_bytes -= n_bytes;
}

void CudaState::count(size_t more) const {
  n_bytes += more;
  counters->state_bytes += more;
  counters->peak_state_bytes = std::max(counters->peak_state_bytes, counters->state_bytes);
}

void gemm(const DeviceModel& m, const void* x, int64_t ldx, const DeviceMatrix& w, void* y, DType yt, int64_t ldy,
          int rows, bool accumulate, const float* bias) {
  kernels::LinearArgs a;
  a.x = x, a.w = w.p, a.y = y, a.bias = bias;
  a.x_type = a.w_type = w.type, a.y_type = yt;
  a.ldx = ldx, a.ldw = w.ld, a.ldy = ldy;
  a.m = rows, a.n = w.rows, a.k = w.cols;
  a.accumulate = accumulate;
  kernels::linear(*m.dc.blas, a);
}

void gemm_tiled(const DeviceModel& m, const void* x, int64_t ldx, const DeviceMatrix& w, void* y, DType yt,
                int64_t ldy, int rows, bool accumulate, const float* bias) {
  const size_t xb = kernels::dtype_bytes(w.type), yb = kernels::dtype_bytes(yt);
  for (int r0 = 0; r0 < rows; r0 += kDecodeRowTile)
    gemm(m, static_cast<const char*>(x) + size_t(r0) * ldx * xb, ldx, w, static_cast<char*>(y) + size_t(r0) * ldy * yb,
         yt, ldy, kDecodeRowTile, accumulate, bias);
}

COKV_CUDA_BACKEND_END
