// The CUDA backend's device plumbing: the memory arena, its blocks, and the per-device context
// (stream, cuBLAS handle, figures). Like everything under runtime/cuda/, this compiles twice
// (runtime/cuda_backend.h): natively against the CUDA runtime and cuBLAS, and with COKV_EMU=1
// against the kernel emulator's runtime API and cuBLAS-on-Eigen; the two builds live in the
// namespaces cokv::cuda_native and cokv::cuda_emulated, so one binary holds both.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/common.cuh"
#include "kernels/linear.cuh"
#include "runtime/arena.h"
#include "runtime/backend.h"

#if COKV_EMU
#define COKV_CUDA_NS cuda_emulated
#else
#define COKV_CUDA_NS cuda_native
#endif
#define COKV_CUDA_BACKEND_BEGIN namespace cokv::COKV_CUDA_NS {
#define COKV_CUDA_BACKEND_END }

COKV_CUDA_BACKEND_BEGIN

using kernels::bf16;
using kernels::DType;
using kernels::f16;

// Throws cokv::Error "cuda backend: <what>: <CUDA's message>".
void check(cudaError_t e, const char* what);

// Makes `device` current for the calling host thread (a backend may be called from any thread).
struct DeviceScope {
  explicit DeviceScope(int device);
};

// All device memory of one backend: segments obtained from the device only when no free block
// fits (so after the first record every request is a reuse), never returned before the arena
// dies. Under the emulator every new block is filled with NaN bytes, as a fresh cudaMalloc is
// there, so a read of memory nothing wrote still shows.
class DeviceArena {
 public:
  explicit DeviceArena(int device) : device_(device) {}
  ~DeviceArena();
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;

  void* allocate(size_t bytes, const char* what);  // throws naming `what` when the device is full
  void release(void* p);
  // One segment of exactly `bytes` now (the weights: known up front, allocated once).
  void reserve(size_t bytes, const char* what);

  size_t in_use() const { return alloc_.in_use(); }
  size_t peak() const { return alloc_.peak(); }
  size_t reserved() const { return alloc_.reserved(); }
  int device() const { return device_; }

 private:
  void grow(size_t bytes, const char* what);

  int device_;
  ArenaAllocator alloc_;
  std::vector<void*> segments_;
  size_t grown_ = 0;  // bytes grow() obtained
};

// One arena block, released when destroyed. Blocks keep the arena alive (a prompt state may
// outlive its backend).
class DeviceBlock {
 public:
  DeviceBlock() = default;
  DeviceBlock(std::shared_ptr<DeviceArena> arena, size_t bytes, const char* what);
  ~DeviceBlock() { reset(); }
  DeviceBlock(DeviceBlock&& o) noexcept { *this = std::move(o); }
  DeviceBlock& operator=(DeviceBlock&& o) noexcept;
  DeviceBlock(const DeviceBlock&) = delete;
  DeviceBlock& operator=(const DeviceBlock&) = delete;

  template <class T>
  T* as() const {
    return static_cast<T*>(p_);
  }
  size_t bytes() const { return bytes_; }
  void reset();

 private:
  std::shared_ptr<DeviceArena> arena_;
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

// One backend's device: its stream (every launch and copy goes there, in order), cuBLAS on that
// stream, the arena, and the figures the benchmark prints its bounds from.
struct DeviceContext {
  explicit DeviceContext(int device);
  ~DeviceContext();
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  int device = 0;
  cudaStream_t stream = nullptr;
  std::unique_ptr<kernels::Blas> blas;
  std::shared_ptr<DeviceArena> arena;
  DeviceInfo info;

  DeviceBlock block(size_t bytes, const char* what) const { return DeviceBlock(arena, bytes, what); }
  void sync() const;
  // Host -> device and device -> host copies on the stream (the download waits for it).
  void upload(void* dst, const void* src, size_t bytes) const;
  void download(void* dst, const void* src, size_t bytes) const;
  template <class T>
  void upload(T* dst, std::span<const T> src) const {
    upload(static_cast<void*>(dst), src.data(), src.size_bytes());
  }
  // rows x width bytes between pitched buffers on the device.
  void copy_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width, size_t rows) const;
};

// Devices this build can use (0 when there is no driver or device).
int device_count();

// fp32 to the 16-bit storage types, round to nearest even (as the CUDA intrinsics).
uint16_t to_bf16_bits(float f);
uint16_t to_f16_bits(float f);
float from_bits16(uint16_t b, DType t);

COKV_CUDA_BACKEND_END
