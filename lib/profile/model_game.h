// The model-backed CoKV game: players are KV heads (player = il * n_kv_heads + g); the utility
// of a coalition S is the mean over the pooled validation samples of
//   Utility::Metric  the dataset metric of the greedy generation (CoKV), or
//   Utility::Loglik  the mean log-probability per token of the gold answer (teacher forced),
// with heads in S keeping their whole prompt cache and the others keeping only the recent
// window (CoKV) or being zeroed (the --absent zero ablation).
//
// Every sample is prefilled once on the backend, when the game is built, and kept
// (PreparedSample: prompt state, window queries, cached SnapKV ranking) for the whole run. Each evaluate() call sends all
// coalitions of the batch through every sample as one batched decode, samples in order, and sums
// in sample order, so a batch's utilities are deterministic run to run.
//
// Batch composition never changes a coalition's utility: decoding is row-stable (the backend
// contract), so a killed run resumed with another --batch reproduces the uninterrupted scores
// bit for bit. Across thread counts the prefill's threaded GEMMs can change the last bits.
//
// Replicas (cokv-profile --devices): the same model on several devices of one kind. Every
// sample is prefilled on each; evaluate_batches() hands whole batches to the replicas from one
// queue (a batch is never split, so its composition does not depend on the device count) and
// reports them in order. Everything else (evaluate, evaluate_budgets, the prepared samples)
// uses the first replica.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/progress.h"
#include "eval/evaluate.h"
#include "profile/game.h"

namespace cokv::profile {

struct ModelGameOptions {
  Utility utility = Utility::Loglik;
  int32_t absent = 8;     // budget of heads outside the coalition: the window, or kZeroHead
  ScorerConfig scorer;    // ranking used by budgets between the window and the prompt
  int n_query_rows = 32;  // window queries kept per sample (Task-KV uses 32)
};

class ModelGame : public Game {
 public:
  // Prefills every sample (progress: one tick per sample, may be null).
  ModelGame(Backend& b, std::vector<Sample> samples, const ModelGameOptions& opt, Progress* prep = nullptr);
  // One replica per backend (the same model on each; they must outlive the game). Samples are
  // prefilled on every replica, each from its own thread.
  ModelGame(std::span<Backend* const> replicas, std::vector<Sample> samples, const ModelGameOptions& opt,
            Progress* prep = nullptr);

  int n_players() const override { return n_players_; }
  void evaluate(std::span<const Coalition> batch, std::span<double> utilities) override;
  void evaluate_batches(std::span<const std::span<const Coalition>> batches,
                        std::span<const std::span<double>> utilities, const std::function<void(size_t)>& done) override;
  int parallelism() const override { return int(replicas_.size()); }

  // Mean utility of arbitrary budget vectors (tables), one batch per sample, with utility u.
  std::vector<double> evaluate_budgets(std::span<const BudgetVector> budgets, Utility u);

  // Ticks `p` by one per coalition evaluated (null: none).
  void set_progress(Progress* p) { progress_ = p; }

  Backend& backend() const { return *replicas_[0]; }
  size_t n_samples() const { return prepared_[0].size(); }
  const PreparedSample& prepared(size_t i) const { return *prepared_[0][i]; }
  const std::vector<std::unique_ptr<PreparedSample>>& prepared_samples() const { return prepared_[0]; }
  // Bytes held by the prepared samples (of one replica): prompt K/V, window queries, logits, rankings.
  size_t prepared_bytes() const;
  int64_t n_coalitions_evaluated() const { return n_evaluated_; }

 private:
  // utilities[k] = U(batch[k]) on replica r.
  void evaluate_on(size_t r, std::span<const Coalition> batch, std::span<double> utilities);

  std::vector<Backend*> replicas_;
  ModelGameOptions opt_;
  int n_players_ = 0;
  std::vector<std::vector<std::unique_ptr<PreparedSample>>> prepared_;  // [replica][sample]
  Progress* progress_ = nullptr;
  int64_t n_evaluated_ = 0;
};

// Peak resident memory of this process (VmHWM), bytes; 0 where unknown.
size_t peak_rss_bytes();

}  // namespace cokv::profile
