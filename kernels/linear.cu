// Linear layers through cuBLAS (see linear.cuh), and the bias kernel.
#include "device.cuh"
#include "linear.cuh"

COKV_KERNELS_BEGIN

static void check_blas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw cokv::Error(std::string("kernels::") + what + ": " + cublasGetStatusString(s));
}

Blas::Blas(cudaStream_t stream) : stream_(stream) {
  check_blas(cublasCreate(&h_), "Blas: cublasCreate");
  check_blas(cublasSetStream(h_, stream), "Blas: cublasSetStream");
  // CUBLAS_COMPUTE_32F already rules out TF32; also keep split-K reductions in fp32 when the
  // output is 16-bit.
  check_blas(cublasSetMathMode(
                 h_, cublasMath_t(CUBLAS_DEFAULT_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)),
             "Blas: cublasSetMathMode");
}

Blas::~Blas() {
  if (h_) cublasDestroy(h_);
}

constexpr int kBiasThreads = 256;

template <class T>
static __global__ void __launch_bounds__(kBiasThreads)
    bias_kernel(T* __restrict__ y, int64_t ldy, const float* __restrict__ bias, int n) {
  const int j = int(blockIdx.y) * kBiasThreads + int(threadIdx.x);
  if (j >= n) return;
  T* p = y + int64_t(blockIdx.x) * ldy + j;
  *p = from_f32<T>(to_f32(*p) + bias[j]);
}

static cudaDataType cuda_type(DType t) {
  switch (t) {
    case DType::F32:
      return CUDA_R_32F;
    case DType::F16:
      return CUDA_R_16F;
    case DType::BF16:
      return CUDA_R_16BF;
  }
  return CUDA_R_32F;
}

void linear(const Blas& blas, const LinearArgs& a) {
  require_arg(a.x_type == a.w_type, "linear",
              std::string("input ") + dtype_name(a.x_type) + " and weights " + dtype_name(a.w_type) +
                  " must have one type");
  require_arg(a.y_type == DType::F32 || a.y_type == a.x_type, "linear",
              std::string("output ") + dtype_name(a.y_type) + ": expected f32 or the input type");
  require_arg(a.m >= 0 && a.n > 0 && a.k > 0, "linear", "expected M >= 0, N > 0, K > 0");
  require_arg(a.ldx >= a.k && a.ldw >= a.k && a.ldy >= a.n && a.ldx <= INT32_MAX && a.ldw <= INT32_MAX &&
                  a.ldy <= INT32_MAX,
              "linear", "row strides shorter than a row (or beyond int32)");
  if (a.m == 0) return;
  // Row-major Y [M, N] is column-major Y^T [N, M] = W [N, K] (column-major W^T, transposed)
  // times X^T [K, M] (column-major X, as is).
  const float alpha = 1.f, beta = a.accumulate ? 1.f : 0.f;
  check_blas(cublasGemmEx(blas.handle(), CUBLAS_OP_T, CUBLAS_OP_N, a.n, a.m, a.k, &alpha, a.w,
                          cuda_type(a.w_type), int(a.ldw), a.x, cuda_type(a.x_type), int(a.ldx), &beta, a.y,
                          cuda_type(a.y_type), int(a.ldy), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             "linear: cublasGemmEx");
  if (!a.bias) return;
  const dim3 grid(a.m, ceil_div(a.n, kBiasThreads));
  switch (a.y_type) {
    case DType::F32:
      launch("linear bias", bias_kernel<float>, grid, dim3(kBiasThreads), 0, blas.stream(),
             static_cast<float*>(a.y), a.ldy, a.bias, a.n);
      break;
    case DType::F16:
      launch("linear bias", bias_kernel<f16>, grid, dim3(kBiasThreads), 0, blas.stream(),
             static_cast<f16*>(a.y), a.ldy, a.bias, a.n);
      break;
    case DType::BF16:
      launch("linear bias", bias_kernel<bf16>, grid, dim3(kBiasThreads), 0, blas.stream(),
             static_cast<bf16*>(a.y), a.ldy, a.bias, a.n);
      break;
  }
}

COKV_KERNELS_END
