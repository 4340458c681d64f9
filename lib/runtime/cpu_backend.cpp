#include "runtime/cpu_backend.h"

#include <chrono>

#include "core/error.h"

namespace cokv {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

// The CPU prompt state: the PromptKV itself; it reports its bytes to the counters while alive.
struct CpuBackend::State : PromptState {
  PromptKV kv;
  std::shared_ptr<BackendCounters> counters;
  size_t n_bytes = 0;

  State(PromptKV k, std::shared_ptr<BackendCounters> c) : kv(std::move(k)), counters(std::move(c)) {
    n_bytes = kv.bytes();
    counters->state_bytes += n_bytes;
    counters->peak_state_bytes = std::max(counters->peak_state_bytes, counters->state_bytes);
  }
  ~State() override { counters->state_bytes -= n_bytes; }
  int n_tokens() const override { return kv.n_tokens; }
  std::span<const float> last_logits() const override { return kv.logits; }
  size_t bytes() const override { return n_bytes; }
};

CpuBackend::CpuBackend(std::unique_ptr<Model> m)
    : owned_(std::move(m)), m_(*owned_), counters_(std::make_shared<BackendCounters>()) {
  counters_->weight_bytes = m_.w.n_bytes();
}

CpuBackend::CpuBackend(const Model& m) : m_(m), counters_(std::make_shared<BackendCounters>()) {
  counters_->weight_bytes = m_.w.n_bytes();
}

const PromptKV& CpuBackend::kv_of(const PromptState& p) const {
  const auto* s = dynamic_cast<const State*>(&p);
  require(s != nullptr, "cpu backend: the prompt state was made by another backend");
  return s->kv;
}

std::unique_ptr<PromptState> CpuBackend::prefill(std::span<const int32_t> tokens, const PrefillOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  auto s = std::make_unique<State>(cokv::prefill(m_, tokens, opt), counters_);
  counters_->prefills += 1;
  counters_->prefill_tokens += int64_t(tokens.size());
  counters_->prefill_s += seconds_since(t0);
  return s;
}

Rankings CpuBackend::rank(const PromptState& p, const ScorerConfig& c) {
  const auto t0 = std::chrono::steady_clock::now();
  Rankings r = rank_prompt(kv_of(p), c);
  counters_->rankings += 1;
  counters_->rank_s += seconds_since(t0);
  return r;
}

std::vector<GenResult> CpuBackend::generate(const PromptState& p, std::span<const Policy> policies,
                                            const GenOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = cokv::generate(m_, kv_of(p), policies, opt);
  counters_->decode_calls += 1;
  for (const auto& g : r) counters_->decoded_rows += int64_t(g.tokens.size());
  counters_->decode_s += seconds_since(t0);
  return r;
}

std::vector<LoglikResult> CpuBackend::loglik(const PromptState& p, std::span<const Policy> policies,
                                             std::span<const int32_t> answer, const DecodeOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = cokv::loglik(m_, kv_of(p), policies, answer, opt);
  counters_->decode_calls += 1;
  counters_->decoded_rows += int64_t(policies.size()) * int64_t(answer.size());
  counters_->decode_s += seconds_since(t0);
  return r;
}

const PromptKV& CpuBackend::host_kv(const PromptState& p) { return kv_of(p); }

BackendCounters CpuBackend::counters() const { return *counters_; }

}  // namespace cokv
