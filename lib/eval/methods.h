// The methods cokv-eval compares, and how each becomes one BudgetRequest per prompt.
//
//   full       every head keeps the whole prompt (run once, budget 0 in outputs)
//   uniform    SnapKV: the same budget on every head
//   adakv      Ada-KV: per prompt and layer, the layer's total G x (c - window) selectable slots
//              go to the best tokens across the layer's heads (cross-head top-k of the scorer's
//              scores), after every head got the safeguard floor floor(0.2 x (c - window))
//   pyramidkv  PyramidKV: per-layer budgets decreasing linearly from the bottom layer to the
//              top (beta = 20), same total as uniform, uniform across the heads of a layer
//   streaming  StreamingLLM: 4 sink tokens + the most recent ones (Streaming scorer)
//   table      a cokv.budget.v1 table level (cokv-profile output) at its mean budget
// Budgets count the recent window (budget.h). uniform/adakv/pyramidkv/table choose tokens in a
// head with the run's scorer (SnapKV or AhaKV).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/prompt.h"
#include "eval/evaluate.h"
#include "kv/budget_table.h"

namespace cokv {

enum class MethodKind { Full, Uniform, AdaKV, PyramidKV, Streaming, Table };

MethodKind parse_method(const std::string& name);  // full|uniform|adakv|pyramidkv|streaming
const char* method_name(MethodKind k);

// One row of the comparison: a method at one mean budget.
struct MethodSpec {
  MethodKind kind = MethodKind::Full;
  std::string label;       // "uniform", "adakv", or a table's method name ("cokv", ...)
  int budget = 0;          // mean budget per KV head (0 for full)
  Budgets table;           // Table: [L*G] budgets
  int table_window = 0;    // Table: the window the table was made for
  std::string source;      // Table: the file it came from
  std::string content_sha256;  // Table: hash of the level's budgets and window (resume key)
};

// How table files are held against the run that evaluates them.
struct TableCheck {
  std::string model_sha256;           // the loaded model file's; empty: the shape only
  std::string model_path;             // named in messages
  bool allow_model_mismatch = false;  // a table of another model (hash) warns instead of failing
  // The run's prompt format: a table profiled with another chat policy or truncation warns.
  std::optional<longbench::ChatPolicy> chat;
  std::optional<int> max_length;
};

// Built-in methods x budgets (full once, first), then every level of every table file.
// Table files are validated against the model: shape always; model hash as `check` says (a
// table without a hash warns). Labels that repeat get a suffix (alpha, else the file stem).
// Warnings (accepted mismatches, other prompt formats) are appended to `warnings` when given.
std::vector<MethodSpec> build_method_list(const std::vector<std::string>& methods,
                                          const std::vector<int>& budgets,
                                          const std::vector<std::string>& table_files,
                                          const ModelConfig& cfg, const TableCheck& check = {},
                                          std::vector<std::string>* warnings = nullptr);

struct MethodOptions {
  ScorerConfig scorer;       // token choice inside a head (SnapKV or AhaKV), with the window
  double adakv_floor = 0.2;  // Ada-KV's safeguard: share of the per-head mean every head keeps
  double pyramid_beta = 20.0;
  int streaming_sinks = 4;
};

// What determines a method's predictions beside the run's settings: its kind, budget and
// options, or for a table the content of its level (not its name). cokv-eval's resume key.
std::string method_fingerprint(const MethodSpec& m, const MethodOptions& opt);

// The request a method makes for one prepared prompt (AdaKV reads the prompt's ranking).
BudgetRequest method_request(const MethodSpec& m, PreparedSample& ps, const ModelConfig& cfg,
                             const MethodOptions& opt);

}  // namespace cokv
