// Task-KV's heterogeneous-head separation (arXiv 2501.15113; METHODS.md), run per validation
// record and aggregated into a static per-task table.
//
// Per record and KV head: A = softmax(Q_win K^T / sqrt(d)) over the last W (32) prompt queries,
// causal, averaged over the rows and the GQA group's query heads; the top_k (256) positions by A;
// semantic vector = sum over them of A_j v_j (a head_dim vector). Per layer: center = mean of the
// layer's head vectors; distance = Euclidean (or 1 - cosine); the f(r) farthest heads are
// heterogeneous, f(r) = round(n beta - (n beta - m) / (R - 1) r) clamped to [0, n] (n = KV heads
// per layer, R layers; rounding half away from zero).
//
// Static table (cokv's representation of an online method): score = how often a head was
// heterogeneous over the validation records (or its mean distance); the static heterogeneous
// set = the f(r) best-scored heads of each layer (ties: larger mean distance, then lower
// index). Its budgets: kv/allocation.h allocate_task_kv with TaskKvFit::Shrink (heterogeneous
// heads get the full cache as far as the layer budget allows).
// Which tokens an ordinary head keeps (sinks + recent + middle) is the eviction scorer's
// business (ScorerKind::TaskKV) at evaluation time.
#pragma once
#include <cstdint>
#include <vector>

#include "kv/prompt_kv.h"

namespace cokv::profile {

enum class TaskKvDistance { Euclidean, Cosine };
enum class TaskKvScore { Frequency, Distance };

struct TaskKvOptions {
  int top_k = 256;
  double beta = 0.3;  // Mistral-7B defaults
  double m = 1.0;
  TaskKvDistance distance = TaskKvDistance::Euclidean;
  TaskKvScore score = TaskKvScore::Frequency;
};

// f(r) for layer r of R with n heads per layer.
int taskkv_count(int r, int R, int n, double beta, double m);

// Semantic vectors of layer il's KV heads: [G][D].
std::vector<std::vector<double>> semantic_vectors(const PromptKV& p, int il, int top_k);

// Distances of each vector to the mean of all of them.
std::vector<double> center_distances(const std::vector<std::vector<double>>& v, TaskKvDistance d);

// Indices (0/1 mask) of the f largest keys; ties: larger tie-break, then lower index.
std::vector<uint8_t> select_top(const std::vector<double>& key, const std::vector<double>& tie_break, int f);

// Accumulates the per-record separation over validation prompts.
class TaskKvProfiler {
 public:
  TaskKvProfiler(int n_layers, int n_kv_heads, const TaskKvOptions& opt);
  void add(const PromptKV& p);
  int n_records() const { return n_; }
  std::vector<double> frequency() const;       // [L*G] fraction of records where the head was heterogeneous
  std::vector<double> mean_distance() const;   // [L*G]
  std::vector<double> scores() const;          // per opt.score
  std::vector<uint8_t> heterogeneous() const;  // static set, f(r) per layer

 private:
  int L_, G_;
  TaskKvOptions opt_;
  int n_ = 0;
  std::vector<double> sel_, dist_;  // [L*G] sums
};

}  // namespace cokv::profile
