// Device-side helpers shared by the kernels (only kernels/*.cu include this): shared memory
// declarations that work in both build modes, fp32 conversions, warp and block reductions,
// and launch() that starts a kernel on the GPU or on the emulator.
#pragma once
#include <type_traits>
#include <utility>

#include "common.cuh"

#if !COKV_EMU
#include <mma.h>
#endif

// Shared memory: a static array of n elements of T, 32-byte aligned (wmma needs that).
#if COKV_EMU
#define COKV_SHARED(T, name, n) \
  T* name = static_cast<T*>(::cokv::emu::shared_alloc(sizeof(T) * size_t(n), 32))
#else
#define COKV_SHARED(T, name, n) __shared__ __align__(32) T name[n]
#endif

COKV_KERNELS_BEGIN

// The launch's dynamic shared memory, 128-byte aligned.
template <class T>
__device__ __forceinline__ T* dynamic_smem() {
#if COKV_EMU
  return static_cast<T*>(::cokv::emu::dynamic_shared());
#else
  extern __shared__ __align__(128) unsigned char cokv_dynamic_smem[];
  return reinterpret_cast<T*>(cokv_dynamic_smem);
#endif
}

__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(bf16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f32(f16 x) { return __half2float(x); }

template <class T>
__device__ __forceinline__ T from_f32(float x) {
  if constexpr (std::is_same_v<T, float>)
    return x;
  else if constexpr (std::is_same_v<T, bf16>)
    return __float2bfloat16(x);
  else
    return __float2half(x);
}

// Butterfly reductions: every lane ends with the same bits (each step adds the same pair).
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the
// result, in a fixed order. scratch: 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, n_warps = blockDim.x / 32;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  return warp_sum(lane < n_warps ? scratch[lane] : 0.f);
}

// Starts kernel<<<grid, block, smem, stream>>>(args...) and throws naming `op` when the
// launch fails. Dynamic shared memory above 48 KiB is opted into first.
template <class... P, class... A>
void launch(const char* op, void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
            A&&... args) {
  if (smem > 48 * 1024)
    check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)), op);
#if COKV_EMU
  ::cokv::emu::launch(kernel, grid, block, smem, stream, std::forward<A>(args)...);
#else
  // clang-format off
  kernel<<<grid, block, smem, stream>>>(std::forward<A>(args)...);
  // clang-format on
#endif
  check_cuda(cudaGetLastError(), op);
}

constexpr int ceil_div(int64_t a, int64_t b) { return int((a + b - 1) / b); }

COKV_KERNELS_END
