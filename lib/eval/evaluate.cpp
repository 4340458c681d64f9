#include "eval/evaluate.h"

#include "core/error.h"

namespace cokv {

Utility parse_utility(const std::string& s) {
  if (s == "metric") return Utility::Metric;
  if (s == "loglik") return Utility::Loglik;
  fail("--utility", "'" + s + "'", "metric or loglik");
}

const char* utility_name(Utility u) { return u == Utility::Metric ? "metric" : "loglik"; }

PreparedSample::PreparedSample(Backend& b, Sample s, int n_query_rows) : b_(b), s_(std::move(s)) {
  PrefillOptions opt;
  opt.n_query_rows = n_query_rows;
  state_ = b_.prefill(s_.prompt, opt);
}

const Rankings& PreparedSample::ranking(const ScorerConfig& c) {
  const std::string key = c.key();
  auto it = rankings_.find(key);
  if (it == rankings_.end()) it = rankings_.emplace(key, b_.rank(*state_, c)).first;
  return it->second;
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
    auto gen = b_.generate(*state_, pols, go);
    for (size_t i = 0; i < gen.size(); ++i) {
      out[i].tokens = std::move(gen[i].tokens);
      out[i].prediction = b_.model().tok.decode(out[i].tokens, true);
      out[i].score = score_prediction(s_, out[i].prediction);
      out[i].kept_tokens = gen[i].kept_tokens;
      out[i].kv_bytes = gen[i].kv_bytes;
    }
  } else {
    require(!s_.answer_tokens.empty(), "evaluate: sample " + s_.id + " has no gold answer tokens for loglik");
    DecodeOptions dopt;
    dopt.compacted = compacted;
    auto ll = b_.loglik(*state_, pols, s_.answer_tokens, dopt);
    for (size_t i = 0; i < ll.size(); ++i) {
      out[i].loglik = ll[i].loglik / double(s_.answer_tokens.size());
      out[i].kept_tokens = ll[i].kept_tokens;
      out[i].kv_bytes = ll[i].kv_bytes;
    }
  }
  return out;
}

}  // namespace cokv
