// The one primitive: evaluate(sample, [budget vectors]) -> results.
//
// A PreparedSample is prefilled once (full cache) and keeps its prompt K/V and the eviction
// rankings it has computed (one per scorer configuration). Evaluating K budget requests
// decodes them together through the batched head-level KV runtime. cokv-eval and
// cokv-profile both go through here.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "data/metrics.h"
#include "kv/budget.h"
#include "kv/scorers.h"
#include "runtime/batch_decode.h"
#include "runtime/prefill.h"

namespace cokv {

// A prompt ready for the model, with what scoring it needs.
struct Sample {
  std::string id, dataset;
  std::vector<int32_t> prompt;             // templated, truncated, tokenized
  std::vector<std::string> answers;        // gold answers (best over them counts)
  std::vector<std::string> all_classes;    // classification datasets
  longbench::DatasetScoring scoring{longbench::Metric::QaF1, false};
  int max_new = 32;                        // greedy generation length
  std::vector<int32_t> stop;               // generation ends on these (EOS, EOT, newline for samsum)
  std::vector<int32_t> answer_tokens;      // gold answer tokens for the log-likelihood utility
};

enum class Utility { Metric, Loglik };
Utility parse_utility(const std::string& s);  // "metric" | "loglik"

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
  PreparedSample(const Model& m, Sample s, int n_query_rows = 32);

  const Sample& sample() const { return s_; }
  const PromptKV& kv() const { return kv_; }
  int n_tokens() const { return kv_.n_tokens; }
  // The eviction ranking for a scorer configuration, computed once and cached.
  const Rankings& ranking(const ScorerConfig& c);

  // Evaluates every request together (one batch through the runtime).
  std::vector<SampleResult> evaluate(std::span<const BudgetRequest> reqs, Utility u, bool compacted = false);

  // Drops the cached rankings (memory) but keeps the prompt state.
  void clear_rankings() { rankings_.clear(); }

 private:
  const Model& m_;
  Sample s_;
  PromptKV kv_;
  std::map<std::string, Rankings> rankings_;
};

// Scores a prediction for a sample (first-line cut, best over answers).
double score_prediction(const Sample& s, const std::string& prediction);

}  // namespace cokv
