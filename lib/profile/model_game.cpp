// The model-backed CoKV game (see model_game.h).
#include "profile/model_game.h"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/stop.h"

namespace cokv::profile {

namespace {

// Runs f(r) for every replica r, each on its own thread (with the caller's OpenMP team size,
// which a new thread does not inherit) when there are several; the first exception is rethrown.
template <class F>
void on_replicas(size_t n, F&& f) {
  if (n == 1) return f(size_t(0));
  const int threads = omp_get_max_threads();
  std::vector<std::exception_ptr> errors(n);
  std::vector<std::thread> workers;
  for (size_t r = 0; r < n; ++r)
    workers.emplace_back([&, r] {
      omp_set_num_threads(threads);
      try {
        f(r);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  for (auto& w : workers) w.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace

ModelGame::ModelGame(Backend& b, std::vector<Sample> samples, const ModelGameOptions& opt, Progress* prep)
    : ModelGame(std::span<Backend* const>(std::vector<Backend*>{&b}), std::move(samples), opt, prep) {}

ModelGame::ModelGame(std::span<Backend* const> replicas, std::vector<Sample> samples, const ModelGameOptions& opt,
                     Progress* prep)
    : replicas_(replicas.begin(), replicas.end()), opt_(opt) {
  require(!replicas_.empty(), "model game: no backend");
  require(!samples.empty(), "model game: no validation samples");
  n_players_ = replicas_[0]->model().cfg.n_kv_players();
  prepared_.resize(replicas_.size());
  std::mutex tick;
  auto prepare = [&](size_t r) {
    auto& mine = prepared_[r];
    mine.reserve(samples.size());
    for (const Sample& s : samples) {
      throw_if_stopped("while preparing the validation records (nothing to save yet)");
      mine.push_back(std::make_unique<PreparedSample>(*replicas_[r], s, opt_.n_query_rows));
      mine.back()->ranking(opt_.scorer);  // computed once, now, so its memory is counted
      if (r == 0) {
        std::lock_guard lock(tick);
        progress_add(prep, 1);
      }
    }
  };
  on_replicas(replicas_.size(), prepare);
}

void ModelGame::evaluate_on(size_t r, std::span<const Coalition> batch, std::span<double> utilities) {
  require(batch.size() == utilities.size(), "model game: batch and utilities differ in length");
  std::vector<BudgetRequest> reqs(batch.size());
  for (size_t k = 0; k < batch.size(); ++k) {
    require(int(batch[k].size()) == n_players_, "model game: coalition of the wrong size");
    reqs[k].budget = BudgetVector::coalition(batch[k], opt_.absent);
    reqs[k].scorer = opt_.scorer;
  }
  std::vector<double> sum(batch.size(), 0.0);
  for (auto& ps : prepared_[r]) {
    const auto res = ps->evaluate(reqs, opt_.utility);
    for (size_t k = 0; k < res.size(); ++k)
      sum[k] += opt_.utility == Utility::Metric ? res[k].score : res[k].loglik;
  }
  const double n = double(prepared_[r].size());
  for (size_t k = 0; k < batch.size(); ++k) utilities[k] = sum[k] / n;
}

void ModelGame::evaluate(std::span<const Coalition> batch, std::span<double> utilities) {
  evaluate_on(0, batch, utilities);
  n_evaluated_ += int64_t(batch.size());
  progress_add(progress_, int64_t(batch.size()));
}

void ModelGame::evaluate_batches(std::span<const std::span<const Coalition>> batches,
                                 std::span<const std::span<double>> utilities,
                                 const std::function<void(size_t)>& done) {
  if (replicas_.size() == 1) return Game::evaluate_batches(batches, utilities, done);
  // One queue: each replica takes the next whole batch; finished batches are reported in order.
  std::mutex mu;
  size_t next = 0, reported = 0;
  std::vector<char> finished(batches.size(), 0);
  bool failed = false;
  on_replicas(replicas_.size(), [&](size_t r) {
    for (;;) {
      size_t i;
      {
        std::lock_guard lock(mu);
        if (failed || next == batches.size()) return;
        i = next++;
      }
      try {
        evaluate_on(r, batches[i], utilities[i]);
      } catch (...) {
        std::lock_guard lock(mu);
        failed = true;
        throw;
      }
      std::lock_guard lock(mu);
      finished[i] = 1;
      n_evaluated_ += int64_t(batches[i].size());
      progress_add(progress_, int64_t(batches[i].size()));
      try {
        while (reported < batches.size() && finished[reported]) done(reported++);
      } catch (...) {
        failed = true;
        throw;
      }
    }
  });
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
  for (auto& ps : prepared_[0]) {
    const auto res = ps->evaluate(reqs, u);
    for (size_t k = 0; k < res.size(); ++k) sum[k] += u == Utility::Metric ? res[k].score : res[k].loglik;
  }
  for (double& s : sum) s /= double(prepared_[0].size());
  return sum;
}

size_t ModelGame::prepared_bytes() const {
  size_t b = 0;
  for (const auto& ps : prepared_[0]) {
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
