// A LongBench-format benchmark folder as cokv-eval opens it: a LongBench checkout or a local
// suite built by datasets/build_suite.py.
//
//   DIR/data/<dataset>.jsonl             records (DIR/<dataset>.jsonl is accepted too)
//   DIR/config/dataset2prompt.json       str.format template per dataset (required)
//   DIR/config/dataset2maxlen.json       max new tokens per dataset (required)
//   DIR/config/dataset2metric.json       metric per dataset            (local suite only)
//   DIR/config/dataset2style.json        chat_template / first_line    (local suite only)
//   DIR/config/categories.json           category -> [datasets]        (local suite only)
// A real LongBench checkout has only the first two config files; the metric, category and chat
// policy of its 16 English datasets come from configs/longbench.json (cokv.longbench.v1).
// The config files may also sit directly in DIR.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "data/prompt.h"

namespace cokv {

struct BenchDataset {
  longbench::DatasetInfo info;  // name, category, metric, max_new_tokens, chat/newline/first_line
  std::string prompt_template;  // dataset2prompt.json entry
  std::string data_path;        // the JSONL file (may not exist: checked when opened)
};

struct Benchmark {
  std::string dir;
  std::map<std::string, BenchDataset> datasets;                // every dataset the config describes
  std::map<std::string, std::vector<std::string>> categories;  // category -> datasets, config order
  std::vector<std::string> category_order;                     // categories in config order

  const BenchDataset& dataset(const std::string& name) const;  // throws naming the folder
  // Names for --datasets a,b / --category c: an unknown name is an error; a dataset whose data
  // file is missing is an error when named, silently skipped when it came from a category or
  // from the name "all" (every dataset with a data file, categories' order first).
  std::vector<std::string> select(const std::vector<std::string>& names, const std::string& category) const;
};

// dataset_table: configs/longbench.json (used for datasets the folder's own config does not
// describe fully).
Benchmark open_benchmark(const std::string& dir, const std::string& dataset_table);

}  // namespace cokv
