// Profiling samples: a LongBench-format folder (a LongBench checkout or the local suite from
// datasets/build_suite.py) -> the validation records of a task -> prompts -> Samples.
//
// A folder holds data/<dataset>.jsonl and config/dataset2prompt.json + dataset2maxlen.json.
// Per-dataset settings (metric, chat template, first-line scoring, category) come from
// config/dataset2metric.json + dataset2style.json + categories.json when the folder has them
// (the local suite), else from configs/longbench.json (real LongBench).
//
// Samples follow CoKV: the seed-42 validation split of each dataset (lib/data/split.h), middle
// truncation, LongBench's per-dataset chat policy, greedy generation of dataset2maxlen tokens.
// (cokv-eval builds its own samples in lib/eval/; the two are to be merged.)
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/prompt.h"
#include "eval/evaluate.h"

namespace cokv::profile {

struct SuiteDataset {
  longbench::DatasetInfo info;
  std::string data_path;  // <dir>/data/<name>.jsonl
  std::string tmpl;       // prompt template
};

struct Suite {
  std::string dir;
  bool local = false;                                          // settings from the folder's own config files
  std::map<std::string, SuiteDataset> datasets;                // every dataset with a template
  std::map<std::string, std::vector<std::string>> categories;  // category -> datasets (folder order)
};

// Reads the folder's config; throws naming the file on problems.
Suite open_suite(const std::string& dir);

// The datasets of a task: exactly one of category / dataset is non-empty. Datasets whose data
// file is missing are an error.
std::vector<std::string> task_datasets(const Suite& s, const std::string& category,
                                       const std::string& dataset);

struct SampleOptions {
  int max_length = 8000;  // middle truncation (prompt tokens); 0 = none
  longbench::ChatPolicy chat = longbench::ChatPolicy::LongBench;
  int max_records = 0;  // per dataset: the first N validation records (0 = all)
  uint64_t split_seed = 42;
};

// One record -> Sample. answer_tokens = the first gold answer, tokenized without BOS (with a
// leading space when the prompt ends in a non-space character and no chat template was used).
Sample make_sample(const Model& m, const longbench::Record& r, const SuiteDataset& d,
                   const SampleOptions& opt);

// The pooled validation samples of the datasets, dataset by dataset, each in split order.
std::vector<Sample> validation_samples(const Model& m, const Suite& s,
                                       const std::vector<std::string>& datasets, const SampleOptions& opt);

}  // namespace cokv::profile
