// The runtime seam: everything eval/ and profile/ ask of a model, whatever hardware runs it.
//
// A Backend owns a loaded model (weights in its own memory: host fp32 for the CPU backend,
// device bf16 for a GPU one) and provides the pieces of the one primitive
//   evaluate(sample, [budget vectors b_1..b_K]) -> K results      (eval/evaluate.h)
// prefill a prompt once with the full cache into an opaque PromptState (every head's K/V, the
// last window of queries for the eviction scorers, the last position's logits), rank each
// head's prompt positions with an eviction scorer, and decode K budget policies against one
// state together (greedy, or teacher-forced log-likelihood), so the weights are read once per
// step for all K. Counters say how much memory and time that took.
//
// Contract every backend keeps (the CPU backend is the reference the others are tested
// against): a policy's results do not depend on the other policies of its batch; prefill is
// deterministic for a given thread count / device; results agree with the CPU backend within
// the tolerances its parity suite states.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kv/prompt_kv.h"
#include "kv/scorers.h"
#include "model/model_info.h"
#include "runtime/batch_decode.h"
#include "runtime/prefill.h"

namespace cokv {

// Cuda: the CUDA backend on a GPU (runtime/cuda_backend.h). CudaEmulated: the same backend
// source built against the kernel emulator, running on the CPU (tests and CI; slow).
enum class BackendKind { Auto, Cpu, Cuda, CudaEmulated };
BackendKind parse_backend(const std::string& name);  // "auto" | "cpu" | "cuda" | "cuda-emu"
const char* backend_name(BackendKind k);
// The backends this build of cokv contains, e.g. "cpu, cuda-emu" or "cpu, cuda, cuda-emu".
std::string built_backends();
// Auto resolved: Cuda when it is built and a device is present, else Cpu; others unchanged.
BackendKind resolve_backend(BackendKind k);
// The --backend help text every app shows: the kinds, what auto picks, what this build has.
std::string backend_help();

struct BackendOptions {
  BackendKind kind = BackendKind::Auto;  // Auto: CUDA when built and a device is present, else CPU
  std::string model_path;                // empty: default_model_path()
  Model::Numerics numerics = Model::Numerics::Fp32;  // CPU: fp32 (reference) or ggml rounding
  // Weights in memory: fp32 | bf16 | auto. The CPU backend resolves Auto by resolve_weight_mode
  // on the model's config; the CUDA backend holds bf16 (fp16 where the file stores fp16)
  // whatever Auto says and refuses fp32. Both record what they hold in model().weights.
  WeightMode weights = WeightMode::Auto;
  int device = 0;  // CUDA: the device ordinal
  // CUDA: no model file, random weights of this shape (benchmarks: bench/cokv-bench.cpp).
  std::optional<ModelConfig> random_weights;
};

// What a backend runs on: summaries name it, the benchmark prints its bounds from it.
struct DeviceInfo {
  std::string name = "cpu";  // the model of device, e.g. "NVIDIA H200", "emulated device (...)"
  int index = -1;            // device ordinal; -1: the host
  bool emulated = false;
  int sms = 0, compute_capability = 0;  // e.g. 132, 90
  double hbm_gbs = 0;                   // memory bandwidth, memory clock x bus width
  double peak_tflops = 0;               // dense bf16 tensor-core peak
  size_t memory_bytes = 0;
};

// A prompt prefilled by a backend; only that backend can rank and decode it.
class PromptState {
 public:
  virtual ~PromptState() = default;
  virtual int n_tokens() const = 0;
  virtual std::span<const float> last_logits() const = 0;  // [V], host memory
  virtual size_t bytes() const = 0;                        // memory it holds (host or device)
};

struct BackendCounters {
  size_t weight_bytes = 0;       // the model's weights as the backend holds them
  size_t state_bytes = 0;        // prompt states alive now
  size_t peak_state_bytes = 0;   // most prompt-state memory alive at once
  size_t peak_device_bytes = 0;  // GPU backends: most arena bytes in use at once (0 on the CPU)
  size_t device_reserved_bytes = 0;  // GPU backends: what the arena holds from the device
  int64_t prefills = 0, prefill_tokens = 0, rankings = 0, decode_calls = 0, decoded_rows = 0;
  double prefill_s = 0, rank_s = 0, decode_s = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  virtual const ModelInfo& model() const = 0;

  // Full-cache forward pass over the prompt (PrefillOptions: window queries kept, an optional
  // per-layer observer for BaKlaVa, keep_kv = false for logits only).
  virtual std::unique_ptr<PromptState> prefill(std::span<const int32_t> tokens, const PrefillOptions& opt = {}) = 0;
  // Every KV head's ranking of the prompt positions outside the recent window.
  virtual Rankings rank(const PromptState& p, const ScorerConfig& c) = 0;
  // Greedy generation for every policy (the first token comes from the prefill's logits).
  virtual std::vector<GenResult> generate(const PromptState& p, std::span<const Policy> policies,
                                          const GenOptions& opt) = 0;
  // Teacher-forced log-likelihood of `answer` after the prompt, for every policy.
  virtual std::vector<LoglikResult> loglik(const PromptState& p, std::span<const Policy> policies,
                                           std::span<const int32_t> answer, const DecodeOptions& opt = {}) = 0;
  // The state's K/V and window queries in host memory (Task-KV's profiler reads them). The CPU
  // backend returns its own; others copy once and keep the copy with the state.
  virtual const PromptKV& host_kv(const PromptState& p) = 0;

  virtual BackendCounters counters() const = 0;
  virtual DeviceInfo device() const { return {}; }
  // Bytes of one K or V element in the backend's cache (results' kv_bytes count these).
  virtual size_t kv_element_bytes() const { return sizeof(float); }
};

// Opens the backend the options ask for and loads the model into it; a kind this build does
// not contain is an error that says which ones it does.
std::unique_ptr<Backend> open_backend(const BackendOptions& opt);

}  // namespace cokv
