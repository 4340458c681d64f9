// cokv-eval run: a LongBench-format evaluation of KV methods x budgets on a backend.
//
// Per record: one PreparedSample (one prefill) and one evaluate() call holding every
// method x budget request not done yet (full once). Predictions are appended and flushed per
// record to OUT/predictions.jsonl, so a run killed at any point resumes where it stopped. What
// a rerun reuses is keyed by what determines a prediction: OUT/run.json holds the run's
// settings (model sha256, backend, utility, scorer, window, truncation, chat policy, split,
// generation cap) and a rerun with different ones is an error (use another OUT); each line
// carries its method's fingerprint (kind, budget and options, or a table level's content hash),
// so a table that changed under the same name is evaluated again (and its old lines ignored).
//
// Outputs in OUT: predictions.jsonl (LongBench fields pred, answers, all_classes, dataset, _id,
// plus method, budget (0 = full), method_key, kv_bytes, kept_tokens, score or loglik, metric,
// first_line, so `cokv-eval score` rescores it), scores.json (cokv.eval_scores.v1), results.md
// (CoKV Table 1 shape, KV memory, latency) and score-vs-budget plots (PNG + SVG via gnuplot).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/progress.h"
#include "data/prompt.h"
#include "data/suite.h"
#include "eval/evaluate.h"
#include "kv/scorers.h"
#include "runtime/backend.h"

namespace cokv {

struct EvalRunOptions {
  std::string benchmark_dir;          // --longbench: LongBench checkout or local suite folder
  std::string dataset_table;          // configs/longbench.json (metric/category/chat policy)
  std::vector<std::string> datasets;  // --datasets
  std::string category;               // --category
  std::vector<std::string> methods{"full", "uniform", "adakv", "pyramidkv", "streaming"};
  std::vector<int> budgets{64, 128, 256};  // mean budgets per KV head (window included)
  std::vector<std::string> tables;         // cokv.budget.v1 files: every level is a method
  bool allow_model_mismatch = false;       // evaluate tables made for another model (warns)
  Utility utility = Utility::Metric;       // metric: greedy output scored; loglik: gold answer
  ScorerKind scorer = ScorerKind::SnapKV;  // token choice inside a head: SnapKV or AhaKV
  int window = 8;
  int max_length = 8000;                                     // middle truncation (prompt tokens); 0 = none
  longbench::ChatPolicy chat = longbench::ChatPolicy::None;  // the same default as cokv-profile
  SplitPart split = SplitPart::Test;  // CoKV's seed-42 split
  int max_records = 0;                // first N records of the split per dataset; 0 = all
  int max_new_cap = 0;                // caps every dataset's max new tokens; 0 = none
  int latency_records = 0;            // --latency N: time N records per method alone
  bool plots = true;                  // score-vs-budget plots (skipped without gnuplot)
  bool plots_per_dataset = false;
  std::string out_dir;
};

struct EvalRunSummary {
  int64_t n_records = 0;           // records selected
  int64_t n_records_run = 0;       // records that needed a prefill in this call
  int64_t n_predictions_new = 0;   // prediction lines appended in this call
  int64_t n_predictions_kept = 0;  // lines found from an earlier run and reused
  std::vector<std::string> notes;  // warnings and skips, e.g. "plots skipped: gnuplot not found"
  std::string scores_path, results_path, predictions_path;
};

// Everything that can be checked before a model is loaded: the options, and the output folder
// (created). run_eval calls it too; the app calls it first so a bad --out costs no model load.
void check_eval_run(const EvalRunOptions& opt);

// progress: one bar over all selected records (extra = the dataset); may be null. Between
// records it stops with cokv::Stopped once a stop was requested (core/stop.h).
// progress: one bar over all selected records (extra = the dataset); may be null.
EvalRunSummary run_eval(Backend& backend, const EvalRunOptions& opt, Progress* progress = nullptr);

}  // namespace cokv
