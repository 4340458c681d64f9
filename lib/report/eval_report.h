// The tables and plots of an evaluation run (cokv-eval run): scores per dataset x method x
// budget as in CoKV's Table 1, KV memory per method, latency per method, score-vs-budget curves.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/bootstrap.h"

namespace cokv {

struct EvalRow {
  std::string label;  // method ("full", "uniform", "adakv", a table's method name, ...)
  int budget = 0;     // mean budget per KV head; 0 = full cache
  std::string source;  // table methods: the file it came from
  struct Cell {
    int64_t n = 0;
    double total = 0;  // sum of per-record values (metric in [0, 1], or log-likelihood)
    double score = 0;  // Metric: round(100 * total / n, 2), LongBench's eval.py; Loglik: total / n
    std::map<std::string, double> values;  // record id -> value (for intervals and pairing)
    Interval ci;                           // 95% bootstrap interval of score, same scale
  };
  // A paired difference of the average against another row, over the records both have.
  struct Paired {
    std::string against;  // the other row's name ("full", "uniform@64")
    double diff = 0;      // this - other, on the score scale
    Interval ci;
  };
  std::map<std::string, Cell> cells;  // dataset -> cell
  int64_t n = 0;                      // records over all datasets
  double kept_tokens = 0;             // summed over records (each: summed over KV heads)
  double kv_bytes = 0;                // summed over records
  double average = 0;                 // mean of the per-dataset scores, rounded to 2 decimals
  Interval average_ci;                // bootstrap over records within each dataset
  std::vector<Paired> paired;         // vs full, and vs uniform at the same budget
  std::string name() const;           // "full", "uniform@64"
};
inline EvalRow make_row(const std::string& label, int budget) {
  EvalRow r;
  r.label = label;
  r.budget = budget;
  return r;
}

// What a cell holds: LongBench's score (100 x mean metric, 2 decimals) or the mean answer
// log-likelihood per token (nats, 4 decimals; cokv-eval run --utility loglik).
enum class EvalValue { Metric, Loglik };

struct EvalTable {
  EvalValue value = EvalValue::Metric;
  std::vector<std::string> datasets;       // columns, in run order
  std::vector<EvalRow> rows;               // full first, then as given
  std::map<std::string, int64_t> records;  // records selected per dataset

  BootstrapOptions bootstrap;              // intervals: replicates, seed, level
  // Fewer records than this in a dataset and its intervals are not given (NaN): a percentile
  // bootstrap of a handful of values is far too narrow (one record: zero width).
  int min_records_for_interval = 5;

  void add(const std::string& label, int budget, const std::string& dataset, const std::string& record_id,
           double value, int64_t kept_tokens, int64_t kv_bytes);
  // Rounds the scores, computes averages, the intervals of every score and average and the
  // paired differences (bootstrap over records, stratified by dataset, seeded).
  void finish();
};

struct LatencyRow {
  std::string label;
  int budget = 0;
  int64_t n_records = 0;
  double prefill_ms = 0;     // summed over records
  double decode_ms = 0;      // summed: compaction + greedy decode of one method alone
  int64_t n_tokens = 0;      // generated tokens summed (first token from the prefill included)
  size_t peak_kv_bytes = 0;  // max over records: kept prompt K/V + generated tokens' K/V
};
nlohmann::ordered_json latency_json(const std::vector<LatencyRow>& rows);
std::vector<LatencyRow> latency_from_json(const nlohmann::ordered_json& j, const std::string& where);

// {"format": "cokv.eval_scores.v1", "datasets", "records", "scores": {dataset: {method:
// {budget: score}}}, "results": [per method@budget: scores, counts, average, memory],
// "latency": [...]} (budget 0 = full cache).
nlohmann::ordered_json eval_scores_json(const EvalTable& t, const std::vector<LatencyRow>& latency);

// results.md: Table 1 (rows method@budget, datasets as columns, average), KV memory, latency,
// the plots. n_kv_heads_total: L x G of the model (for tokens per head).
std::string eval_results_markdown(const EvalTable& t, const std::vector<LatencyRow>& latency,
                                  const std::string& model_name, const nlohmann::ordered_json& settings,
                                  const std::vector<std::string>& plot_files, int n_kv_heads_total);

// score_vs_budget.{png,svg} (average over datasets, one line per method, full dashed) and, with
// per_dataset, score_vs_budget.<dataset>.{png,svg}. Returns the file names written (relative to
// dir). Throws when gnuplot is missing. Nothing is drawn without a budgeted method.
std::vector<std::string> write_eval_plots(const EvalTable& t, const std::string& dir, bool per_dataset);

}  // namespace cokv
