// The emulator's CUDA runtime API (see runtime.h): device memory, streams, events, errors.
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <unordered_map>

#include "emu.h"

namespace cokv::emu {

struct EmuStream {};
struct EmuEvent {
  std::chrono::steady_clock::time_point t;
};

namespace {

thread_local cuda::cudaError_t t_last_error = cuda::cudaSuccess;
// The emulated machine has kDevices identical devices (one process driving several of them is
// what cokv-profile --devices does); the current one is per host thread, as in CUDA. They share
// the host's memory: a device id only selects, it separates nothing.
constexpr int kDevices = 8;
thread_local int t_device = 0;

// A device allocation: the bytes end just before an inaccessible page (reads and writes far
// past the end fault at once); the slack between the end and the page, left by CUDA's
// 256-byte alignment of the start, holds a canary checked on free.
struct Allocation {
  void* map = nullptr;
  size_t map_bytes = 0, bytes = 0;
};
constexpr unsigned char kCanary = 0xa5;
std::mutex g_mutex;
std::unordered_map<void*, Allocation> g_allocs;
size_t g_allocated = 0;

size_t page_size() {
  static const size_t p = size_t(sysconf(_SC_PAGESIZE));
  return p;
}

cuda::cudaError_t record(cuda::cudaError_t e) {
  if (e != cuda::cudaSuccess) t_last_error = e;
  return e;
}

}  // namespace

void set_last_error(cuda::cudaError_t e) { record(e); }

namespace cuda {

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "no error (emulated)";
    case cudaErrorInvalidValue:
      return "invalid argument (emulated)";
    case cudaErrorMemoryAllocation:
      return "out of memory (emulated)";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument (emulated launch)";
    case cudaErrorInvalidDevice:
      return "invalid device ordinal (emulated: devices 0..7)";
    case cudaErrorInvalidDevicePointer:
      return "invalid device pointer (emulated)";
    case cudaErrorNoDevice:
      return "no CUDA-capable device is detected (emulated)";
  }
  return "unknown error (emulated)";
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = t_last_error;
  t_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return t_last_error; }
cudaError_t cudaGetDeviceCount(int* n) {
  *n = kDevices;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) {
  if (d < 0 || d >= kDevices) return record(cudaErrorInvalidDevice);
  t_device = d;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* d) {
  *d = t_device;
  return cudaSuccess;
}

// Nominal figures of an sm_80-class part; only the benchmark's smoke run reads them.
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr attr, int device) {
  if (device < 0 || device >= kDevices) return record(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrClockRate:
      *v = 1410000;
      break;
    case cudaDevAttrMultiProcessorCount:
      *v = 108;
      break;
    case cudaDevAttrMemoryClockRate:
      *v = 1593000;
      break;
    case cudaDevAttrGlobalMemoryBusWidth:
      *v = 5120;
      break;
    case cudaDevAttrComputeCapabilityMajor:
      *v = 8;
      break;
    case cudaDevAttrComputeCapabilityMinor:
      *v = 0;
      break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *v = 163 * 1024;
      break;
    default:
      return record(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  const size_t phys = size_t(sysconf(_SC_PHYS_PAGES)) * page_size();
  std::lock_guard lock(g_mutex);
  *total = phys;
  *free = phys > g_allocated ? phys - g_allocated : 0;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = nullptr;
  if (bytes == 0) return cudaSuccess;
  const size_t pg = page_size(), padded = (bytes + 255) / 256 * 256;
  const size_t data_pages = (padded + pg - 1) / pg * pg;
  void* map = mmap(nullptr, data_pages + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return record(cudaErrorMemoryAllocation);
  auto* guard = static_cast<unsigned char*>(map) + data_pages;
  mprotect(guard, pg, PROT_NONE);
  unsigned char* user = guard - padded;
  std::memset(user, 0xff, bytes);  // NaN for floats: reads of unwritten memory show
  std::memset(user + bytes, kCanary, padded - bytes);
  std::lock_guard lock(g_mutex);
  g_allocs[user] = {map, data_pages + pg, bytes};
  g_allocated += bytes;
  *p = user;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  Allocation a;
  {
    std::lock_guard lock(g_mutex);
    auto it = g_allocs.find(p);
    if (it == g_allocs.end()) return record(cudaErrorInvalidDevicePointer);
    a = it->second;
    g_allocs.erase(it);
    g_allocated -= a.bytes;
  }
  const auto* user = static_cast<const unsigned char*>(p);
  const size_t padded = (a.bytes + 255) / 256 * 256;
  for (size_t i = a.bytes; i < padded; ++i)
    if (user[i] != kCanary) {
      munmap(a.map, a.map_bytes);
      throw EmuError("emulator: a kernel wrote " + std::to_string(i - a.bytes) + " bytes past the end of a " +
                     std::to_string(a.bytes) + "-byte device allocation (found on cudaFree)");
    }
  munmap(a.map, a.map_bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                              size_t height, cudaMemcpyKind, cudaStream_t) {
  if (width > dpitch || width > spitch) return record(cudaErrorInvalidValue);
  for (size_t r = 0; r < height; ++r)
    std::memmove(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  if (bytes) std::memset(p, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t) {
  return cudaMemset(p, value, bytes);
}

cudaError_t cudaStreamCreate(cudaStream_t* s) {
  *s = new EmuStream();
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete s;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventCreate(cudaEvent_t* e) {
  *e = new EmuEvent();
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
  e->t = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}

}  // namespace cuda

}  // namespace cokv::emu

namespace nvcuda::wmma::detail {

void check_ptr(const void* p, unsigned ldm, size_t elem_bytes, const char* what) {
  if (reinterpret_cast<uintptr_t>(p) % 32)
    throw ::cokv::emu::EmuError(std::string(what) + ": pointer not 32-byte aligned (as the GPU requires)");
  if ((size_t(ldm) * elem_bytes) % 16)
    throw ::cokv::emu::EmuError(std::string(what) + ": ldm " + std::to_string(ldm) +
                                " is not a multiple of 16 bytes (as the GPU requires)");
}

}  // namespace nvcuda::wmma::detail
