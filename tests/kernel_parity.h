// Harness of the kernel parity suite (tests/test_kernels*.cpp), in the manner of ggml's
// test-backend-ops: each kernel has a table of small cases (odd sizes included); a case runs
// the kernel, compares with the CPU twin from lib/ (or a plain _ref where lib/ has no
// standalone function) under a tolerance with a written reason, and counts itself.
//
// The same files build two ways: into cokv-tests against the emulator (COKV_EMU), where
// every device run is repeated under the forward, reverse and shuffled thread schedules and
// the outputs must agree bit for bit (a race shows as a difference), and into
// cokv-cuda-tests against the GPU, where the run is repeated twice (run-to-run determinism).
//
// Tolerances (STYLE.md 4): u_T is the unit roundoff of a storage type (f32 2^-24, f16 2^-11,
// bf16 2^-8); gamma(n) = n u / (1 - n u) (gamma_n) bounds the relative error of an n-term fp32 sum of
// same-signed terms (Higham). A reference computed in double from the inputs rounded to the
// device type is exact up to these; a CPU twin in fp32 has its own error of the same size,
// so against a twin the bound is counted twice.
#pragma once
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common.cuh"

namespace kp {

using namespace cokv::kernels;

// ---- device buffers -------------------------------------------------------------------------
template <class T>
class Dev {
 public:
  explicit Dev(size_t n) : n_(n) {
    check_cuda(cudaMalloc(&p_, std::max<size_t>(n, 1) * sizeof(T)), "cudaMalloc");
  }
  explicit Dev(const std::vector<T>& h) : Dev(h.size()) { upload(h); }
  ~Dev() { cudaFree(p_); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  T* get() const { return p_; }
  size_t size() const { return n_; }
  void upload(const std::vector<T>& h) {
    check_cuda(cudaMemcpy(p_, h.data(), n_ * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  std::vector<T> download() const {
    check_cuda(cudaDeviceSynchronize(), "kernel");
    std::vector<T> h(n_);
    check_cuda(cudaMemcpy(h.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost), "download");
    return h;
  }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

// ---- storage types on the host ----------------------------------------------------------------
template <class T>
T from_float(float x) {
  if constexpr (std::is_same_v<T, float>)
    return x;
  else if constexpr (std::is_same_v<T, bf16>)
    return __float2bfloat16(x);
  else
    return __float2half(x);
}
template <class T>
float to_float(T x) {
  if constexpr (std::is_same_v<T, float>)
    return x;
  else if constexpr (std::is_same_v<T, bf16>)
    return __bfloat162float(x);
  else
    return __half2float(x);
}
template <class T>
std::vector<T> convert(const std::vector<float>& x) {
  std::vector<T> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = from_float<T>(x[i]);
  return y;
}
template <class T>
std::vector<float> widen(const std::vector<T>& x) {
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = to_float(x[i]);
  return y;
}
// x rounded to T and back: the values the device sees.
template <class T>
std::vector<float> rounded(const std::vector<float>& x) {
  return widen(convert<T>(x));
}
template <class T>
constexpr double unit_roundoff() {
  if constexpr (std::is_same_v<T, float>)
    return 0x1p-24;
  else if constexpr (std::is_same_v<T, bf16>)
    return 0x1p-8;
  else
    return 0x1p-11;
}
template <class T>
const char* type_name() {
  return dtype_name(dtype_of<T>());
}
constexpr double kU32 = 0x1p-24;
inline double gamma_n(double n) { return n * kU32 / (1.0 - n * kU32); }

inline std::vector<float> normal(size_t n, uint32_t seed, float sd = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, sd);
  std::vector<float> x(n);
  for (float& v : x) v = d(rng);
  return x;
}

// ---- running and comparing ------------------------------------------------------------------

// Outputs of one device run, each widened to float (integers below 2^24 are exact).
using Outputs = std::vector<std::vector<float>>;

struct Tally {
  int cases = 0, runs = 0;
  double worst_ratio = 0;  // max |got - ref| / tol over every compared element
  std::string worst_where;
};
Tally& tally();

// Runs `device` under every schedule (emulator) or twice (GPU); the outputs must agree bit
// for bit. Returns the first run's outputs.
Outputs run_device(const std::function<Outputs()>& device);

// |got[i] - ref[i]| <= tol[i] for every i; NaN matches NaN. `reason` says where tol comes from.
void compare(const std::string& what, const std::vector<float>& got, const std::vector<double>& ref,
             const std::vector<double>& tol, const std::string& reason);
// Exact equality (integer outputs, gathers, orders).
void compare_exact(const std::string& what, const std::vector<float>& got, const std::vector<float>& ref);

struct Case {
  std::string name;
  std::function<void()> run;
};
// Runs every case of a kernel's table (each in its own section) and prints the count.
void run_table(const std::string& kernel, const std::vector<Case>& cases);

}  // namespace kp
