// The model-backed CoKV game (see model_game.h).
#include "profile/model_game.h"

#include <algorithm>
#include <fstream>
#include <string>

#include "core/error.h"
#include "core/stop.h"

namespace cokv::profile {

ModelGame::ModelGame(Backend& b, std::vector<Sample> samples, const ModelGameOptions& opt, Progress* prep)
    : b_(b), opt_(opt), n_players_(b.model().cfg.n_kv_players()) {
  require(!samples.empty(), "model game: no validation samples");
  prepared_.reserve(samples.size());
  for (auto& s : samples) {
    throw_if_stopped("while preparing the validation records (nothing to save yet)");
    prepared_.push_back(std::make_unique<PreparedSample>(b_, std::move(s), opt_.n_query_rows));
    prepared_.back()->ranking(opt_.scorer);  // computed once, now, so its memory is counted
    progress_add(prep, 1);
  }
}

void ModelGame::evaluate(std::span<const Coalition> batch, std::span<double> utilities) {
  require(batch.size() == utilities.size(), "model game: batch and utilities differ in length");
  reqs_.resize(batch.size());
  for (size_t k = 0; k < batch.size(); ++k) {
    require(int(batch[k].size()) == n_players_, "model game: coalition of the wrong size");
    reqs_[k].budget = BudgetVector::coalition(batch[k], opt_.absent);
    reqs_[k].scorer = opt_.scorer;
  }
  std::vector<double> sum(batch.size(), 0.0);
  for (auto& ps : prepared_) {
    const auto res = ps->evaluate(reqs_, opt_.utility);
    for (size_t k = 0; k < res.size(); ++k)
      sum[k] += opt_.utility == Utility::Metric ? res[k].score : res[k].loglik;
  }
  const double n = double(prepared_.size());
  for (size_t k = 0; k < batch.size(); ++k) utilities[k] = sum[k] / n;
  n_evaluated_ += int64_t(batch.size());
  progress_add(progress_, int64_t(batch.size()));
}

std::vector<double> ModelGame::evaluate_budgets(std::span<const BudgetVector> budgets, Utility u) {
  throw_if_stopped("the journal holds every finished evaluation: rerun with --resume to continue");
  std::vector<BudgetRequest> reqs(budgets.size());
  for (size_t k = 0; k < budgets.size(); ++k) {
    require(int(budgets[k].keep.size()) == n_players_, "model game: budget vector of the wrong size");
    reqs[k].budget = budgets[k];
    reqs[k].scorer = opt_.scorer;
  }
  std::vector<double> sum(budgets.size(), 0.0);
  for (auto& ps : prepared_) {
    const auto res = ps->evaluate(reqs, u);
    for (size_t k = 0; k < res.size(); ++k) sum[k] += u == Utility::Metric ? res[k].score : res[k].loglik;
  }
  for (double& s : sum) s /= double(prepared_.size());
  return sum;
}

size_t ModelGame::prepared_bytes() const {
  size_t b = 0;
  for (const auto& ps : prepared_) {
    b += ps->state().bytes();
    // The cached SnapKV ranking: an int32 order and a float score per ranked position and head.
    const int T = ps->n_tokens();
    b += size_t(n_players_) * size_t(std::max(0, T - opt_.scorer.window)) * (sizeof(int32_t) + sizeof(float));
    b += ps->sample().prompt.size() * sizeof(int32_t);
  }
  return b;
}

size_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return size_t(std::stoull(line.substr(6))) * 1024;
  }
  return 0;
}

}  // namespace cokv::profile
