// The kernel emulator: compiles cokv's CUDA kernels as plain C++ and runs them on the CPU.
//
// A kernel body is written once (kernels/<op>.cu). nvcc compiles it for the GPU; the host
// compiler compiles the same file with COKV_EMU=1 against this header, which supplies what
// the kernels use of CUDA:
//   - qualifiers (__global__, __device__, ...) as nothing, built-ins (threadIdx, blockIdx,
//     blockDim, gridDim, warpSize) read from the running emulated thread;
//   - each block's threads run as fibers (fiber.h) on one OS thread, one block after the
//     other; __syncthreads() is a barrier over the block; warp collectives (__shfl_*_sync,
//     __ballot_sync, __any/__all_sync, __syncwarp, wmma) wait until every lane of their mask
//     has arrived and then exchange among those lanes;
//   - shared memory is one arena per block (COKV_SHARED and dynamic_smem(), see
//     kernels/device.cuh), filled with 0xff bytes (NaN) when a block starts, so reading it
//     before writing shows;
//   - atomics are std::atomic_ref; fp16/bf16 are half.h; the runtime API and cuBLAS are
//     runtime.h (device memory is host memory with a guard page after each allocation).
// Between two synchronisation points the threads of a block run in the order the current
// Schedule says (forward, reverse, or shuffled by a seed), and blocks too; a kernel with a
// missing barrier then gives different results under different schedules. What it cannot
// see is listed in the README ("The kernel emulator").
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "half.h"

// ---- qualifiers ---------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __align__(n) alignas(n)
// Emulated shared memory lives in the block's arena: declare it with COKV_SHARED.
#define __shared__ \
  static_assert(false, "emulated kernels declare shared memory with COKV_SHARED(type, name, count)");

namespace cokv::emu {

// A kernel bug the emulator detected (deadlock, diverging warp collective, bad mask, ...).
struct EmuError : std::logic_error {
  using std::logic_error::logic_error;
};

namespace cuda {
struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
}  // namespace cuda
using cuda::dim3;
using cuda::uint3;

// ---- scheduling -----------------------------------------------------------------------------
enum class Order { Forward, Reverse, Shuffled };
struct Schedule {
  Order order = Order::Forward;
  uint64_t seed = 0;  // Shuffled: permutations are drawn from (seed, block, phase)
};
void set_schedule(Schedule s);
Schedule schedule();
const char* order_name(Order o);

// Counters since the process started (the parity suite reports them).
struct Stats {
  uint64_t launches = 0, blocks = 0, threads = 0, switches = 0;
};
Stats stats();

// ---- the running thread ---------------------------------------------------------------------
const uint3& thread_idx();
const uint3& block_idx();
const dim3& block_dim();
const dim3& grid_dim();
int lane_id();

void syncthreads();
void* shared_alloc(size_t bytes, size_t align);  // static shared memory (COKV_SHARED)
void* dynamic_shared();                          // the launch's dynamic shared memory

// A warp collective: every lane of `mask` calls it with its own Lane record; when the last
// one arrives, combine(mask, lanes) runs once (lanes[i] is lane i's record, null outside the
// mask) and then all of them continue. `what` names the call; lanes that meet at collectives
// of different names (divergent code) are an error.
struct Lane {
  uint64_t value = 0, result = 0;
  int arg = 0;
  const void* in[3] = {};
  void* out = nullptr;
};
using Combine = void (*)(unsigned mask, Lane* const* lanes);
void warp_collective(unsigned mask, const char* what, Combine combine, Lane& mine);

// ---- launching --------------------------------------------------------------------------------
struct KernelBody {
  void (*run)(void* ctx);  // runs the kernel for the current thread
  void* ctx;
};
struct EmuStream;
using Stream = EmuStream*;
// Returns false (and sets the last error) for an invalid configuration, as a CUDA launch does.
bool run_grid(const void* kernel, dim3 grid, dim3 block, size_t dynamic_smem, KernelBody body);

template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, Stream /*stream*/, A&&... args) {
  // As a CUDA launch: the arguments are converted to the parameter types once; every thread
  // gets its own copy of the parameters.
  std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
  struct Ctx {
    void (*kernel)(P...);
    std::tuple<std::decay_t<P>...>* params;
  } ctx{kernel, &params};
  KernelBody body{[](void* c) {
                    auto* x = static_cast<Ctx*>(c);
                    std::apply(x->kernel, *x->params);
                  },
                  &ctx};
  run_grid(reinterpret_cast<const void*>(kernel), grid, block, smem, body);
}

uint64_t shuffle_bits(unsigned mask, uint64_t bits, int src_lane, const char* what);  // src -1: own
unsigned ballot(unsigned mask, bool pred, const char* what);

template <class T>
uint64_t to_bits(T v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffles move up to 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <class T>
T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}
int check_width(int width, const char* what);

namespace cuda {

// ---- warp intrinsics --------------------------------------------------------------------------

template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  const int w = check_width(width, "__shfl_sync"), lane = lane_id(), base = lane & ~(w - 1);
  return from_bits<T>(shuffle_bits(mask, to_bits(v), base + (src & (w - 1)), "__shfl_sync"));
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int w = check_width(width, "__shfl_up_sync"), lane = lane_id(), base = lane & ~(w - 1);
  const int src = lane - int(delta);
  return from_bits<T>(shuffle_bits(mask, to_bits(v), src < base ? -1 : src, "__shfl_up_sync"));
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int w = check_width(width, "__shfl_down_sync"), lane = lane_id(), base = lane & ~(w - 1);
  const int src = lane + int(delta);
  return from_bits<T>(shuffle_bits(mask, to_bits(v), src >= base + w ? -1 : src, "__shfl_down_sync"));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  const int w = check_width(width, "__shfl_xor_sync"), lane = lane_id(), base = lane & ~(w - 1);
  const int src = lane ^ lane_mask;  // later groups of `width` lanes are out of reach
  return from_bits<T>(shuffle_bits(mask, to_bits(v), src >= base + w ? -1 : src, "__shfl_xor_sync"));
}
inline unsigned __ballot_sync(unsigned mask, int pred) { return ballot(mask, pred != 0, "__ballot_sync"); }
inline int __any_sync(unsigned mask, int pred) { return ballot(mask, pred != 0, "__any_sync") != 0; }
inline int __all_sync(unsigned mask, int pred) { return ballot(mask, pred != 0, "__all_sync") == mask; }
void __syncwarp(unsigned mask = 0xffffffffu);
unsigned __activemask();  // lanes of the warp that have not exited
inline void __syncthreads() { syncthreads(); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// ---- atomics --------------------------------------------------------------------------------
template <class T>
T atomicAdd(T* p, T v) {
  return std::atomic_ref<T>(*p).fetch_add(v);
}
template <class T>
T atomicSub(T* p, T v) {
  return std::atomic_ref<T>(*p).fetch_sub(v);
}
template <class T>
T atomicExch(T* p, T v) {
  return std::atomic_ref<T>(*p).exchange(v);
}
template <class T>
T atomicCAS(T* p, T expected, T desired) {
  std::atomic_ref<T>(*p).compare_exchange_strong(expected, desired);
  return expected;  // the old value, whether or not it was replaced
}
template <class T>
T atomicMax(T* p, T v) {
  std::atomic_ref<T> a(*p);
  T old = a.load();
  while (old < v && !a.compare_exchange_weak(old, v)) {
  }
  return old;
}
template <class T>
T atomicMin(T* p, T v) {
  std::atomic_ref<T> a(*p);
  T old = a.load();
  while (v < old && !a.compare_exchange_weak(old, v)) {
  }
  return old;
}

// ---- math and bit intrinsics ------------------------------------------------------------------
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return std::clamp(x, 0.f, 1.f); }
inline float __int_as_float(int i) { return from_bits<float>(uint32_t(i)); }
inline int __float_as_int(float f) { return int(uint32_t(to_bits(f))); }
inline float __uint_as_float(unsigned u) { return from_bits<float>(u); }
inline unsigned __float_as_uint(float f) { return unsigned(to_bits(f)); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(unsigned x) { return x ? __builtin_clz(x) : 32; }
inline int __ffs(unsigned x) { return __builtin_ffs(int(x)); }
// CUDA's integer min/max overloads (floats use fminf/fmaxf).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
template <class T>
T __ldg(const T* p) {
  return *p;
}

struct float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

}  // namespace cuda
}  // namespace cokv::emu

// The built-in variables of the thread the emulator is running.
#define threadIdx (::cokv::emu::thread_idx())
#define blockIdx (::cokv::emu::block_idx())
#define blockDim (::cokv::emu::block_dim())
#define gridDim (::cokv::emu::grid_dim())
inline constexpr int warpSize = 32;

#include "runtime.h"
#include "wmma.h"

// Emulated TUs see the emulator's CUDA names unqualified, as CUDA code sees CUDA's.
using namespace ::cokv::emu::cuda;
