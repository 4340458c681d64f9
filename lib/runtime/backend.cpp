#include "runtime/backend.h"

#include "core/error.h"
#include "core/paths.h"
#include "runtime/cpu_backend.h"

namespace cokv {

BackendKind parse_backend(const std::string& name) {
  if (name == "auto") return BackendKind::Auto;
  if (name == "cpu") return BackendKind::Cpu;
  if (name == "cuda") return BackendKind::Cuda;
  fail("--backend", "'" + name + "'", "auto, cpu or cuda");
}

const char* backend_name(BackendKind k) {
  switch (k) {
    case BackendKind::Auto: return "auto";
    case BackendKind::Cpu: return "cpu";
    case BackendKind::Cuda: return "cuda";
  }
  return "?";
}

std::string built_backends() { return "cpu"; }

std::unique_ptr<Backend> open_backend(const BackendOptions& opt) {
  const std::string path = opt.model_path.empty() ? default_model_path() : opt.model_path;
  switch (opt.kind) {
    case BackendKind::Auto:
    case BackendKind::Cpu:
      return std::make_unique<CpuBackend>(Model::load(path, opt.numerics, opt.weights));
    case BackendKind::Cuda:
      break;
  }
  fail("--backend", "cuda", "a backend this build contains (" + built_backends() + ")",
       "cuda (not built: the CUDA backend does not exist yet)");
}

}  // namespace cokv
