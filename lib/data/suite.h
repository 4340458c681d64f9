// A LongBench-format folder as both apps read it, and the one way records become Samples.
//
//   DIR/data/<dataset>.jsonl             records (DIR/<dataset>.jsonl is accepted too)
//   DIR/config/dataset2prompt.json       str.format template per dataset (required)
//   DIR/config/dataset2maxlen.json       max new tokens per dataset (required)
//   DIR/config/dataset2metric.json       metric per dataset            (local suite only)
//   DIR/config/dataset2style.json        chat_template / first_line    (local suite only)
//   DIR/config/categories.json           category -> [datasets]        (local suite only)
// A real LongBench checkout has only the first two config files; the metric, category and chat
// policy of its 16 English datasets come from configs/longbench.json (cokv.longbench.v1). The
// config files may also sit directly in DIR. A local-suite dataset may name the LongBench
// dataset it imitates ("analog" in dataset2style.json) and inherits its pred.py conventions.
//
// Samples (make_sample): the dataset's template applied verbatim, middle truncation to
// max_length tokens, the chat template per ChatPolicy (default None: CoKV's and HeadKV's raw
// prompts; LongBench applies it per dataset as pred.py), greedy generation of the dataset's
// max new tokens (stop: the model's EOS/EOT, plus pred.py's newline token for samsum-like
// datasets), and the first gold answer's tokens for the log-likelihood utility.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/prompt.h"
#include "data/records.h"
#include "data/sample.h"
#include "model/model_info.h"

namespace cokv {

struct SuiteDataset {
  longbench::DatasetInfo info;  // name, category, metric, max_new_tokens, chat/newline/first_line
  std::string prompt_template;  // dataset2prompt.json entry
  std::string data_path;        // the JSONL file (may not exist: checked when selected)
};

struct Suite {
  std::string dir;
  bool local = false;  // the folder describes its datasets itself (dataset2metric.json)
  std::map<std::string, SuiteDataset> datasets;                // every dataset the config describes
  std::map<std::string, std::vector<std::string>> categories;  // category -> datasets, config order
  std::vector<std::string> category_order;                     // categories in config order

  const SuiteDataset& dataset(const std::string& name) const;  // throws naming the folder
  // cokv-eval's --datasets a,b / --category c: an unknown name is an error; a dataset whose data
  // file is missing is an error when named, silently skipped when it came from a category or
  // from the name "all" (every dataset with a data file, categories' order first).
  std::vector<std::string> select(const std::vector<std::string>& names, const std::string& category) const;
};

// dataset_table: configs/longbench.json (used for datasets the folder's own config does not
// describe fully). Throws naming the file on problems.
Suite open_suite(const std::string& dir, const std::string& dataset_table);
// With cokv's own configs/longbench.json.
Suite open_suite(const std::string& dir);

// A dataset's records in file order, as both apps read them. Refuses a data file without a
// record (empty or blank lines only) and a second record with an "_id" seen before, naming
// the file and both lines: runs key predictions and samples by "_id".
std::vector<longbench::Record> read_dataset_records(const SuiteDataset& d);

// cokv-profile's task: exactly one of category / dataset is non-empty; every dataset of the
// task must have its data file.
std::vector<std::string> task_datasets(const Suite& s, const std::string& category, const std::string& dataset);

// Which records of a dataset a run uses: CoKV's seed-42 split (data/split.h).
enum class SplitPart { Test, Validation, All };
SplitPart parse_split(const std::string& name);  // "test" | "validation" | "all"
const char* split_name(SplitPart p);
// Record indices of the part, in split order; the first max_records when > 0.
std::vector<size_t> split_indices(size_t n_records, SplitPart part, int max_records, uint64_t seed = 42);

struct SampleOptions {
  int max_length = 8000;  // middle truncation (prompt tokens); 0 = none
  longbench::ChatPolicy chat = longbench::ChatPolicy::None;
  int max_new_cap = 0;      // caps every dataset's max new tokens; 0 = none
  int max_records = 0;      // validation_samples: first N records of the split per dataset (0 = all)
  uint64_t split_seed = 42;
};

// One record -> Sample. answer_tokens = the first gold answer, tokenized without BOS (with a
// leading space when the prompt ends in a non-space character and no chat template was used).
// A record without answers is an error naming the file and record.
Sample make_sample(const ModelInfo& m, const longbench::Record& r, const SuiteDataset& d, const SampleOptions& opt);

// The pooled validation samples of the datasets, dataset by dataset, each in split order.
std::vector<Sample> validation_samples(const ModelInfo& m, const Suite& s, const std::vector<std::string>& datasets,
                                       const SampleOptions& opt);

}  // namespace cokv
