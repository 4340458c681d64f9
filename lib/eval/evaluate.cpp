#include "eval/evaluate.h"

#include "core/error.h"

namespace cokv {

Utility parse_utility(const std::string& s) {
  if (s == "metric") return Utility::Metric;
  if (s == "loglik") return Utility::Loglik;
  throw Error("utility: expected metric or loglik, got '" + s + "'");
}

PreparedSample::PreparedSample(const Model& m, Sample s, int n_query_rows) : m_(m), s_(std::move(s)) {
  PrefillOptions opt;
  opt.n_query_rows = n_query_rows;
  kv_ = prefill(m_, s_.prompt, opt);
}

const Rankings& PreparedSample::ranking(const ScorerConfig& c) {
  const std::string key = c.key();
  auto it = rankings_.find(key);
  if (it == rankings_.end()) it = rankings_.emplace(key, rank_prompt(kv_, c)).first;
  return it->second;
}

double score_prediction(const Sample& s, const std::string& prediction) {
  return longbench::score_record(s.scoring, prediction, s.answers, s.all_classes.empty() ? nullptr : &s.all_classes);
}

std::vector<SampleResult> PreparedSample::evaluate(std::span<const BudgetRequest> reqs, Utility u, bool compacted) {
  std::vector<Policy> pols;
  pols.reserve(reqs.size());
  for (const BudgetRequest& r : reqs) {
    const Rankings& rk = ranking(r.scorer);
    pols.push_back(Policy{r.budget, &rk, rk.window});
  }
  std::vector<SampleResult> out(reqs.size());
  if (u == Utility::Metric) {
    GenOptions go;
    go.max_new = s_.max_new;
    go.stop = s_.stop;
    go.compacted = compacted;
    auto gen = generate(m_, kv_, pols, go);
    for (size_t i = 0; i < gen.size(); ++i) {
      out[i].tokens = std::move(gen[i].tokens);
      out[i].prediction = m_.tok.decode(out[i].tokens, true);
      out[i].score = score_prediction(s_, out[i].prediction);
      out[i].kept_tokens = gen[i].kept_tokens;
      out[i].kv_bytes = gen[i].kv_bytes;
    }
  } else {
    require(!s_.answer_tokens.empty(), "evaluate: sample " + s_.id + " has no gold answer tokens for loglik");
    DecodeOptions dopt;
    dopt.compacted = compacted;
    auto ll = loglik(m_, kv_, pols, s_.answer_tokens, dopt);
    for (size_t i = 0; i < ll.size(); ++i) {
      out[i].loglik = ll[i].loglik / double(s_.answer_tokens.size());
      out[i].kept_tokens = ll[i].kept_tokens;
      out[i].kv_bytes = ll[i].kv_bytes;
    }
  }
  return out;
}

}  // namespace cokv
