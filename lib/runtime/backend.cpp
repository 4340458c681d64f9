#include "runtime/backend.h"

#include "core/error.h"
#include "core/paths.h"
#include "runtime/cpu_backend.h"
#include "runtime/cuda_backend.h"

namespace cokv {

BackendKind parse_backend(const std::string& name) {
  if (name == "auto") return BackendKind::Auto;
  if (name == "cpu") return BackendKind::Cpu;
  if (name == "cuda") return BackendKind::Cuda;
  if (name == "cuda-emu") return BackendKind::CudaEmulated;
  fail("--backend", "'" + name + "'", "auto, cpu, cuda or cuda-emu");
}

const char* backend_name(BackendKind k) {
  switch (k) {
    case BackendKind::Auto: return "auto";
    case BackendKind::Cpu: return "cpu";
    case BackendKind::Cuda: return "cuda";
    case BackendKind::CudaEmulated: return "cuda-emu";
  }
  return "?";
}

std::string built_backends() {
#if COKV_CUDA_NATIVE
  return "cpu, cuda, cuda-emu";
#else
  return "cpu, cuda-emu";
#endif
}

std::string backend_help() {
  return "auto | cpu | cuda | cuda-emu (auto: cuda when built and a GPU is present, else cpu; cuda-emu: the "
         "CUDA backend on the kernel emulator, on the CPU, for tests: slow; this build: " +
         built_backends() + ")";
}

BackendKind resolve_backend(BackendKind k) {
  if (k != BackendKind::Auto) return k;
#if COKV_CUDA_NATIVE
  if (cuda_native::device_count() > 0) return BackendKind::Cuda;
#endif
  return BackendKind::Cpu;
}

std::unique_ptr<Backend> open_backend(const BackendOptions& opt_in) {
  BackendOptions opt = opt_in;
  if (opt.model_path.empty() && !opt.random_weights) opt.model_path = default_model_path();
  opt.kind = resolve_backend(opt.kind);
  switch (opt.kind) {
    case BackendKind::Auto:
    case BackendKind::Cpu:
      if (opt.random_weights) fail("--backend cpu", "model", "a model file (random weights are CUDA only)");
      return std::make_unique<CpuBackend>(Model::load(opt.model_path, opt.numerics, opt.weights));
    case BackendKind::CudaEmulated:
      return cuda_emulated::open(opt);
    case BackendKind::Cuda:
      break;
  }
#if COKV_CUDA_NATIVE
  return cuda_native::open(opt);
#else
  fail("--backend", "cuda", "a backend this build contains (" + built_backends() + ")",
       "cuda (not built: CMake found no nvcc; cuda-emu runs the same backend on the kernel emulator)");
#endif
}

}  // namespace cokv
