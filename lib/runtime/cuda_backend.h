// The CUDA backend: Backend (backend.h) on the kernels of kernels/, weights on the device in
// bf16 (fp16 where the file stores fp16) with fp32 accumulation, one device memory arena.
//
// One source (runtime/cuda/*.cpp), built twice:
//   cuda_native    against the CUDA runtime and cuBLAS, when CMake finds nvcc (COKV_CUDA);
//                  `--backend cuda`, and what `auto` picks when a device is present;
//   cuda_emulated  against the kernel emulator (kernels/emu: the same kernels run as fibers on
//                  the CPU, cuBLAS multiplies with Eigen); `--backend cuda-emu`, always built, so
//                  CI runs the whole backend without a GPU (slowly: tests and toy shapes).
// This header is plain C++: it names the two builds without including CUDA.
//
// What is bit-stable (the contract of backend.h, on a given GPU model, driver and cuBLAS):
//   - a policy's results do not depend on its batch companions or on the batch size: every
//     decode linear layer runs as cuBLAS calls of exactly kDecodeRowTile rows (the last one
//     padded), so the algorithm cuBLAS picks, split-K included, is the same for every row of
//     every batch; attention splits keys into chunks chosen from the prompt length alone and
//     merges them in a fixed order; no kernel uses floating-point atomics;
//   - run to run and across devices of the same model (cokv-profile --devices gives the bytes
//     of one device): the same kernels on the same shapes;
//   - not across GPU models (another SM count changes cuBLAS's choices), CUDA/cuBLAS versions,
//     or between native and emulated runs; and prefill results (hence everything) differ from
//     the CPU backend within the tolerances its parity test states (tests/test_cuda_backend.cpp).
//   The emulated build is bit-stable in the same ways for a given OpenMP thread count (its
//   cuBLAS is Eigen's GEMM, whose blocking follows the thread count).
#pragma once
#include <memory>

#include "runtime/backend.h"

namespace cokv {

// Defined only in builds with nvcc (COKV_CUDA_NATIVE); backend.cpp checks before calling.
namespace cuda_native {
int device_count();
std::unique_ptr<Backend> open(const BackendOptions& opt);
}  // namespace cuda_native

namespace cuda_emulated {
int device_count();
std::unique_ptr<Backend> open(const BackendOptions& opt);
}  // namespace cuda_emulated

}  // namespace cokv
