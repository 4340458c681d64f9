// The emulator's cublasGemmEx: the same column-major contract as cuBLAS, computed on the CPU
// in fp32 with Eigen (inputs widened from fp16/bf16, the result rounded to the output type).
#include <Eigen/Core>

#include "emu.h"

namespace cokv::emu {

struct EmuBlas {
  cuda::cudaStream_t stream = nullptr;
};

namespace cuda {

namespace {

using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;  // column-major

float load(const void* p, cudaDataType t, size_t i) {
  switch (t) {
    case CUDA_R_32F:
      return static_cast<const float*>(p)[i];
    case CUDA_R_16F:
      return half_bits_to_float(static_cast<const uint16_t*>(p)[i]);
    case CUDA_R_16BF:
      return bf16_bits_to_float(static_cast<const uint16_t*>(p)[i]);
  }
  return 0.f;
}

void store(void* p, cudaDataType t, size_t i, float v) {
  switch (t) {
    case CUDA_R_32F:
      static_cast<float*>(p)[i] = v;
      break;
    case CUDA_R_16F:
      static_cast<uint16_t*>(p)[i] = float_to_half_bits(v);
      break;
    case CUDA_R_16BF:
      static_cast<uint16_t*>(p)[i] = float_to_bf16_bits(v);
      break;
  }
}

bool known(cudaDataType t) { return t == CUDA_R_32F || t == CUDA_R_16F || t == CUDA_R_16BF; }

// op(X) as a rows x cols float matrix, X stored column-major with leading dimension ld.
MatF widen(const void* x, cudaDataType t, int ld, cublasOperation_t op, int rows, int cols) {
  MatF m(rows, cols);
  for (int j = 0; j < cols; ++j)
    for (int i = 0; i < rows; ++i)
      m(i, j) = op == CUBLAS_OP_N ? load(x, t, size_t(j) * ld + i) : load(x, t, size_t(i) * ld + j);
  return m;
}

}  // namespace

cublasStatus_t cublasCreate(cublasHandle_t* h) {
  *h = new EmuBlas();
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  h->stream = s;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t) {
  return h ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}
const char* cublasGetStatusString(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS (emulated)";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED (emulated)";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE (emulated)";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED (emulated)";
  }
  return "unknown cuBLAS status (emulated)";
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void* alpha, const void* A, cudaDataType at, int lda, const void* B,
                            cudaDataType bt, int ldb, const void* beta, void* C, cudaDataType ct, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!known(at) || !known(bt) || !known(ct) || at != bt || (ct != at && ct != CUDA_R_32F) ||
      (compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_FAST_TF32))
    return CUBLAS_STATUS_NOT_SUPPORTED;
  const int a_rows = ta == CUBLAS_OP_N ? m : k, b_rows = tb == CUBLAS_OP_N ? k : n;
  if (m < 0 || n < 0 || k < 0 || lda < std::max(1, a_rows) || ldb < std::max(1, b_rows) ||
      ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
  MatF prod = MatF::Zero(m, n);
  if (k > 0) prod.noalias() = widen(A, at, lda, ta, m, k) * widen(B, bt, ldb, tb, k, n);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      const size_t idx = size_t(j) * ldc + i;
      // beta == 0: C is not read (it may hold anything, as with cuBLAS).
      store(C, ct, idx, a * prod(i, j) + (b != 0.f ? b * load(C, ct, idx) : 0.f));
    }
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace cuda
}  // namespace cokv::emu
