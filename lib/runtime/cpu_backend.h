// The CPU backend: the reference implementation of Backend (backend.h) on the CPU runtime
// (prefill.h, batch_decode.h, kv/scorers.h): fp32 arithmetic on fp32 or compact (bf16/fp16)
// weights. Its prompt state is a PromptKV in host memory.
#pragma once
#include <memory>

#include "runtime/backend.h"
#include "runtime/model.h"

namespace cokv {

class CpuBackend : public Backend {
 public:
  explicit CpuBackend(std::unique_ptr<Model> m);
  // Wraps a model the caller keeps alive (tests share one loaded model).
  explicit CpuBackend(const Model& m);

  BackendKind kind() const override { return BackendKind::Cpu; }
  const ModelInfo& model() const override { return m_; }
  const Model& cpu_model() const { return m_; }

  std::unique_ptr<PromptState> prefill(std::span<const int32_t> tokens, const PrefillOptions& opt) override;
  Rankings rank(const PromptState& p, const ScorerConfig& c) override;
  std::vector<GenResult> generate(const PromptState& p, std::span<const Policy> policies,
                                  const GenOptions& opt) override;
  std::vector<LoglikResult> loglik(const PromptState& p, std::span<const Policy> policies,
                                   std::span<const int32_t> answer, const DecodeOptions& opt) override;
  const PromptKV& host_kv(const PromptState& p) override;
  BackendCounters counters() const override;

 private:
  struct State;
  const PromptKV& kv_of(const PromptState& p) const;

  std::unique_ptr<Model> owned_;
  const Model& m_;
  // Shared with the states, which may outlive the backend's counters otherwise.
  std::shared_ptr<BackendCounters> counters_;
};

}  // namespace cokv
