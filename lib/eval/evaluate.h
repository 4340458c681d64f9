// The one primitive: evaluate(sample, [budget vectors]) -> results.
//
// A PreparedSample is prefilled once (full cache) by a backend and keeps its prompt state and
// the eviction rankings it has computed (one per scorer configuration). Evaluating K budget
// requests decodes them together on the backend. cokv-eval and cokv-profile both go through
// here, and only through the Backend interface (runtime/backend.h).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "data/sample.h"
#include "kv/budget.h"
#include "kv/scorers.h"
#include "runtime/backend.h"

namespace cokv {

enum class Utility { Metric, Loglik };
Utility parse_utility(const std::string& s);  // "metric" | "loglik"
const char* utility_name(Utility u);

struct BudgetRequest {
  BudgetVector budget;   // [L*G] prompt tokens kept per KV head (kKeepAll, kZeroHead allowed)
  ScorerConfig scorer;   // which ranking chooses the kept tokens
};

struct SampleResult {
  std::string prediction;        // decoded greedy generation (Utility::Metric)
  std::vector<int32_t> tokens;
  double score = 0.0;            // dataset metric in [0, 1] (Utility::Metric)
  double loglik = 0.0;           // mean log-probability per gold answer token (Utility::Loglik)
  int64_t kept_tokens = 0;       // prompt tokens kept, summed over KV heads
  size_t kv_bytes = 0;
};

class PreparedSample {
 public:
  // Prefills the prompt (keeping n_query_rows window queries for the scorers).
  PreparedSample(Backend& b, Sample s, int n_query_rows = 32);

  const Sample& sample() const { return s_; }
  const PromptState& state() const { return *state_; }
  int n_tokens() const { return state_->n_tokens(); }
  // The prompt's K/V and window queries in host memory (Task-KV's profiler).
  const PromptKV& host_kv() const { return b_.host_kv(*state_); }
  // The eviction ranking for a scorer configuration, computed once and cached.
  const Rankings& ranking(const ScorerConfig& c);

  // Evaluates every request together (one batch through the backend).
  std::vector<SampleResult> evaluate(std::span<const BudgetRequest> reqs, Utility u, bool compacted = false);

  // Drops the cached rankings (memory) but keeps the prompt state.
  void clear_rankings() { rankings_.clear(); }

 private:
  Backend& b_;
  Sample s_;
  std::unique_ptr<PromptState> state_;
  std::map<std::string, Rankings> rankings_;
};

}  // namespace cokv
