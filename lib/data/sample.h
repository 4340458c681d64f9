// A sample: one LongBench record made ready for a model (templated, truncated, tokenized),
// with everything scoring it needs. Both apps build samples the same way (data/suite.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/metrics.h"

namespace cokv {

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

// Scores a prediction for a sample (first-line cut, best over answers).
double score_prediction(const Sample& s, const std::string& prediction);

}  // namespace cokv
