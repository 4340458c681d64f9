#include "runtime/cuda/device.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "model/dequant.h"

COKV_CUDA_BACKEND_BEGIN

namespace {

constexpr size_t kMiB = size_t(1) << 20;
// Growth: at least this much, and at least what growing took so far (so a run needs a handful
// of segments, not one per prompt length).
constexpr size_t kMinSegment = 64 * kMiB;

std::string mib(size_t b) { return std::to_string((b + kMiB - 1) / kMiB) + " MiB"; }

int attribute(cudaDeviceAttr a, int device) {
  int v = 0;
  return cudaDeviceGetAttribute(&v, a, device) == cudaSuccess ? v : 0;
}

}  // namespace

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string("cuda backend: ") + what + ": " + cudaGetErrorString(e));
}

DeviceScope::DeviceScope(int device) { check(cudaSetDevice(device), "cudaSetDevice"); }

// ---- the arena ------------------------------------------------------------------------------

DeviceArena::~DeviceArena() {
  if (segments_.empty()) return;
  cudaSetDevice(device_);
  for (void* p : segments_) cudaFree(p);
}

void DeviceArena::grow(size_t bytes, const char* what) {
  void* p = nullptr;
  size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  // Either the doubling size or, when the device cannot give that, exactly what is needed.
  for (size_t want : {std::max({bytes, kMinSegment, grown_}), bytes}) {
    want = ArenaAllocator::round_up(want);
    if (cudaMalloc(&p, want) == cudaSuccess) {
      segments_.push_back(p);
      alloc_.add_segment(reinterpret_cast<uintptr_t>(p), want);
      grown_ += want;
      return;
    }
    cudaGetLastError();  // clear the failed allocation's error
  }
  throw Error("cuda backend: device " + std::to_string(device_) + " is out of memory: " + what + " needs " +
              mib(bytes) + "; cokv holds " + mib(alloc_.reserved()) + " (" + mib(alloc_.in_use()) +
              " in use), the device has " + mib(free_b) + " of " + mib(total_b) +
              " free (shorter prompts, a smaller --batch, or fewer records reduce it)");
}

void DeviceArena::reserve(size_t bytes, const char* what) {
  const size_t want = ArenaAllocator::round_up(bytes);
  if (alloc_.largest_free() >= want) return;
  void* p = nullptr;
  if (cudaMalloc(&p, want) != cudaSuccess) {
    cudaGetLastError();
    grow(bytes, what);  // tries once more, then throws with the full message
    return;
  }
  segments_.push_back(p);
  alloc_.add_segment(reinterpret_cast<uintptr_t>(p), want);
}

void* DeviceArena::allocate(size_t bytes, const char* what) {
  auto p = alloc_.allocate(bytes);
  if (!p) {
    grow(ArenaAllocator::round_up(bytes), what);
    p = alloc_.allocate(bytes);
    require(p.has_value(), "cuda backend: arena: a fresh segment did not fit its request");
  }
  void* ptr = reinterpret_cast<void*>(*p);
  if constexpr (kernels::kEmulated) cudaMemset(ptr, 0xff, bytes);  // NaN: unwritten memory shows
  return ptr;
}

void DeviceArena::release(void* p) { alloc_.release(reinterpret_cast<uintptr_t>(p)); }

DeviceBlock::DeviceBlock(std::shared_ptr<DeviceArena> arena, size_t bytes, const char* what)
    : arena_(std::move(arena)), bytes_(bytes) {
  p_ = arena_->allocate(bytes, what);
}

DeviceBlock& DeviceBlock::operator=(DeviceBlock&& o) noexcept {
  if (this != &o) {
    reset();
    arena_ = std::move(o.arena_);
    p_ = o.p_, bytes_ = o.bytes_;
    o.p_ = nullptr, o.bytes_ = 0;
  }
  return *this;
}

void DeviceBlock::reset() {
  if (p_) arena_->release(p_);
  p_ = nullptr, bytes_ = 0;
  arena_.reset();
}

// ---- the context ----------------------------------------------------------------------------

DeviceContext::DeviceContext(int dev) : device(dev) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) n = 0;
  cudaGetLastError();
  if (dev < 0 || dev >= n)
    throw Error("cuda backend: device " + std::to_string(dev) + ": expected one of the " + std::to_string(n) +
                " devices present" + (kernels::kEmulated ? " (emulated: 0..7)" : ""));
  DeviceScope scope(dev);
  check(cudaStreamCreate(&stream), "cudaStreamCreate");
  blas = std::make_unique<kernels::Blas>(stream);
  arena = std::make_shared<DeviceArena>(dev);
  info.index = dev;
  info.emulated = kernels::kEmulated;
  info.sms = attribute(cudaDevAttrMultiProcessorCount, dev);
  info.compute_capability =
      attribute(cudaDevAttrComputeCapabilityMajor, dev) * 10 + attribute(cudaDevAttrComputeCapabilityMinor, dev);
  // HBM: memory clock (kHz) x 2 transfers x bus width; bf16 dense tensor-core FLOP per clock
  // and SM: 2048 on sm_80 (mma.sync), 4096 on sm_90 (wgmma; cuBLAS uses it).
  info.hbm_gbs = 2.0 * attribute(cudaDevAttrMemoryClockRate, dev) * 1e3 *
                 (attribute(cudaDevAttrGlobalMemoryBusWidth, dev) / 8.0) / 1e9;
  const double flop_per_clk = info.compute_capability >= 90 ? 4096 : info.compute_capability >= 80 ? 2048 : 0;
  info.peak_tflops = flop_per_clk * info.sms * attribute(cudaDevAttrClockRate, dev) * 1e3 / 1e12;
  size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  info.memory_bytes = total_b;
#if COKV_EMU
  // One name for all: the emulated devices are alike (cokv-profile --devices compares names).
  info.name = "emulated device (the kernel emulator on the CPU)";
#else
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties");
  info.name = prop.name;
#endif
}

DeviceContext::~DeviceContext() {
  cudaSetDevice(device);
  blas.reset();
  if (stream) cudaStreamDestroy(stream);
}

void DeviceContext::sync() const { check(cudaStreamSynchronize(stream), "a kernel on the stream"); }

void DeviceContext::upload(void* dst, const void* src, size_t bytes) const {
  if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream), "upload");
}

void DeviceContext::download(void* dst, const void* src, size_t bytes) const {
  if (!bytes) return;
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream), "download");
  sync();
}

void DeviceContext::copy_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width,
                            size_t rows) const {
  if (width && rows)
    check(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, width, rows, cudaMemcpyDeviceToDevice, stream),
          "device copy");
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) n = 0;
  cudaGetLastError();
  return n;
}

// ---- 16-bit conversions on the host -----------------------------------------------------------

uint16_t to_bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

uint16_t to_f16_bits(float f) { return fp32_to_fp16(f); }

float from_bits16(uint16_t b, DType t) {
  if (t == DType::F16) return fp16_to_fp32(b);
  return bf16_to_fp32(b);
}

COKV_CUDA_BACKEND_END
