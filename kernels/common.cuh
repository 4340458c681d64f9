// What every kernel header needs, safe for host compilers: the CUDA-or-emulator switch, the
// storage types, error checks. Device helpers are in device.cuh (only .cu files include it).
//
// Build modes: nvcc compiles kernels/*.cu into cokv_cuda (COKV_EMU undefined); the host
// compiler compiles the same files with COKV_EMU=1 against emu/emu.h into cokv_kernels_emu.
// The launchers of the two live in different inline namespaces (native, emulated), so one binary can
// link both without clashes; code compiled in a mode calls that mode's launchers unqualified.
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>

#if COKV_EMU
#include "emu/emu.h"
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#endif

#include "core/error.h"

#if COKV_EMU
#define COKV_KERNELS_BEGIN  \
  namespace cokv::kernels { \
  inline namespace emulated {
#else
#define COKV_KERNELS_BEGIN  \
  namespace cokv::kernels { \
  inline namespace native {
#endif
#define COKV_KERNELS_END \
  }                      \
  }

COKV_KERNELS_BEGIN

using bf16 = __nv_bfloat16;
using f16 = __half;

// Storage type of a tensor (accumulation is always fp32).
enum class DType { F32, F16, BF16 };

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "f32";
    case DType::F16:
      return "f16";
    case DType::BF16:
      return "bf16";
  }
  return "?";
}
inline size_t dtype_bytes(DType t) { return t == DType::F32 ? 4 : 2; }

template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>)
    return DType::F32;
  else if constexpr (std::is_same_v<T, f16>)
    return DType::F16;
  else
    return DType::BF16;
}

// True when the kernels run on the CPU emulator rather than a GPU.
#if COKV_EMU
constexpr bool kEmulated = true;
#else
constexpr bool kEmulated = false;
#endif

// Throws cokv::Error naming the call when a CUDA call failed.
inline void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw cokv::Error(std::string(what) + ": CUDA error: " + cudaGetErrorString(e));
}

// Launcher argument checks: cokv::Error "kernels::<op>: <what>".
inline void require_arg(bool ok, const char* op, const std::string& what) {
  if (!ok) throw cokv::Error(std::string("kernels::") + op + ": " + what);
}

COKV_KERNELS_END
