// LongBench (v1) metrics, reproducing LongBench's metrics.py / eval.py to the last bit,
// quirks included (see FORMATS.md). Inputs are UTF-8; all text handling follows Python str
// semantics on code points (lower(), split(), re's Unicode \d \w \b; string.punctuation is
// ASCII only). Scores are in [0, 1].
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cokv::longbench {

enum class Metric { QaF1, RougeL, Classification, Retrieval, Count, CodeSim };

const char* metric_name(Metric m);             // "qa_f1", "rouge_l", ...
Metric metric_from_name(const std::string& name);  // throws cokv::Error on an unknown name

// normalize_answer: lower, drop ASCII punctuation, articles a/an/the -> " ", squeeze spaces.
std::string normalize_answer(std::string_view s);

double qa_f1(std::string_view prediction, std::string_view ground_truth);

struct RougeOptions {
  // The `rouge` package reconstructs each LCS recursively; in Python a pair of sentences whose
  // traceback is deeper than the interpreter's recursion limit raises RecursionError, which
  // LongBench's rouge_score() catches and scores 0.0. This is the number of reconstruction
  // frames that fit: 991 when LongBench's eval.py runs at module level on CPython 3.11
  // (1000 minus the 9 frames above the first _recon). 0 = no limit (the mathematically
  // intended score).
  int max_recursion = 991;
  // Memory for the LCS traceback of a sentence pair of n x m words. Up to this many cells (one
  // bit each: 64 MiB) the whole bit matrix is kept; beyond it, every ceil(sqrt(n))-th row only,
  // and each block of rows is recomputed when the traceback reaches it: about 2 sqrt(n) m / 8
  // bytes (a 300k x 300k-word pair: 41 MB instead of 11 GB) for twice the time. The score is
  // the same either way. (The `rouge` package builds a dict of (n+1)(m+1) entries first, so
  // for such a pair Python runs out of memory, and LongBench's bare except scores 0.0; under
  // the default recursion limit both return 0.0 before any table is built, as min(n, m) >= 991.)
  size_t lcs_direct_bits = size_t(1) << 29;
};
// Bytes of scratch memory rouge_l needs for one sentence pair of n x m words (see above).
size_t rouge_lcs_scratch_bytes(size_t n, size_t m, const RougeOptions& opt = {});
// rouge.Rouge().get_scores([pred], [gt], avg=True)["rouge-l"]["f"], 0.0 where it raises
// (empty prediction or gold after splitting on ".", or the recursion limit above).
double rouge_l(std::string_view prediction, std::string_view ground_truth, const RougeOptions& opt = {});

// classification_score, with the reference's remove-while-iterating quirk.
double classification(std::string_view prediction, std::string_view ground_truth,
                      const std::vector<std::string>& all_classes);
// retrieval_score: the first "Paragraph N" of the gold; throws cokv::Error if it has none
// (where the reference would crash with IndexError).
double retrieval(std::string_view prediction, std::string_view ground_truth);
double count(std::string_view prediction, std::string_view ground_truth);
// code_sim_score: first line (after leading newlines) free of "`", "#", "//", then
// fuzz.ratio / 100.
double code_sim(std::string_view prediction, std::string_view ground_truth);

// One metric on one (prediction, gold) pair. all_classes is needed by Classification only.
double score_pair(Metric m, std::string_view prediction, std::string_view ground_truth,
                  const std::vector<std::string>* all_classes, const RougeOptions& opt = {});

// How LongBench scores one dataset's records.
struct DatasetScoring {
  Metric metric;
  bool first_line;  // trec, triviaqa, samsum (and lsht): keep pred.lstrip('\n').split('\n')[0]
};
// The 16 English LongBench datasets (plus their LongBench-E "_e" names); throws cokv::Error
// naming the dataset otherwise (the Chinese ones need jieba and are not supported).
DatasetScoring dataset_scoring(const std::string& dataset);
bool is_known_dataset(const std::string& dataset);
const std::vector<std::string>& english_datasets();  // in LongBench's order

// eval.py's per-record score: first-line cut where the dataset asks, then the max over
// answers of the metric, starting from 0.
double score_record(const DatasetScoring& ds, std::string_view prediction, const std::vector<std::string>& answers,
                    const std::vector<std::string>* all_classes, const RougeOptions& opt = {});

// Python's round(x, 2) on a float: exact decimal rounding of the binary value (ties, which
// only exact binary values can be, go to even), returned as the nearest double. eval.py
// reports round(100 * total / n, 2).
double py_round2(double x);

}  // namespace cokv::longbench
