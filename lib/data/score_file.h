// Rescoring LongBench-style prediction files (one JSON object per line with pred, answers,
// all_classes, and dataset unless given otherwise), as LongBench's eval.py does: per record
// the best metric value over answers, per dataset round(100 * total / n, 2).
//
// cokv-eval run's predictions files carry more fields, which are honoured when present:
//   method, budget   records are grouped per (method, budget, dataset) instead of per dataset
//   metric           the metric name (qa_f1, rouge_l, ...): lets datasets that are not LongBench's
//                    (the local suite) be scored; first_line (bool) goes with it
#pragma once
#include <string>
#include <vector>

#include "data/metrics.h"
#include "data/records.h"

namespace cokv::longbench {

struct ScoreOptions {
  // Dataset for every record. Empty: the record's "dataset" field, else the file name stem
  // when it names a LongBench dataset (LongBench writes pred/<model>/<dataset>.jsonl).
  std::string dataset;
  RougeOptions rouge;
  bool skip_bad = false;  // drop unreadable records (counted) instead of failing
};

struct DatasetScore {
  std::string dataset;
  size_t n = 0;
  double total = 0.0;   // sum of per-record scores (0..1), in file order
  double score = 0.0;   // round(100 * total / n, 2)
  std::string method;   // cokv-eval run files: the record's method ("" when absent)
  int64_t budget = -1;  // and budget (-1 when absent; 0 = full cache)
};

struct ScoreReport {
  std::vector<DatasetScore> datasets;  // in order of first appearance
  size_t n_skipped = 0;
  std::string first_error;  // of the first skipped record
  // Mean of the per-dataset scores, rounded to 2 decimals (the "average" row papers report).
  double average() const;
  bool has_methods() const;  // some record named a method/budget
  // Mean over the datasets of one (method, budget) group, rounded to 2 decimals.
  double average(const std::string& method, int64_t budget) const;
};

// Scores one or more files into one report (a dataset seen in several files is pooled).
ScoreReport score_prediction_files(const std::vector<std::string>& paths, const ScoreOptions& opt = {});

// Fixed-width table: dataset, records, score; an average row when there are several datasets.
std::string format_score_table(const ScoreReport& r);
// {"format": "cokv.longbench_scores.v1", "scores": {dataset: score}, "counts": {...},
//  "average": x, "skipped": k}; scores are the rounded numbers printed in the table.
// With methods: "groups": [{"method", "budget", "scores", "counts", "average"}] instead of
// scores/counts/average.
std::string score_report_json(const ScoreReport& r);

}  // namespace cokv::longbench
