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
#include <string>
#include <vector>

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
  std::vector<int> table;  // Table: [L*G] budgets
  int table_window = 0;    // Table: the window the table was made for
  std::string source;      // Table: the file it came from
};

// Built-in methods x budgets (full once, first), then every level of every table file.
// Table files are validated against the model (shape). Labels that repeat get a suffix
// (alpha, else the file stem).
std::vector<MethodSpec> build_method_list(const std::vector<std::string>& methods,
                                          const std::vector<int>& budgets,
                                          const std::vector<std::string>& table_files,
                                          const ModelConfig& cfg);

struct MethodOptions {
  ScorerConfig scorer;       // token choice inside a head (SnapKV or AhaKV), with the window
  double adakv_floor = 0.2;  // Ada-KV's safeguard: share of the per-head mean every head keeps
  double pyramid_beta = 20.0;
  int streaming_sinks = 4;
};

// The request a method makes for one prepared prompt (AdaKV reads the prompt's ranking).
BudgetRequest method_request(const MethodSpec& m, PreparedSample& ps, const ModelConfig& cfg,
                             const MethodOptions& opt);

// ---- the allocations, testable on their own ------------------------------------------------
// AdaKV for one prompt: rankings of the prompt (heads [L*G] with sorted scores), mean budget c
// (window included). Per layer the budgets sum to G x c exactly when every head has at least
// c - window rankable positions; each head gets >= window + floor(floor_share x (c - window)).
std::vector<int32_t> adakv_budgets(const Rankings& r, int n_layers, int n_kv_heads, int budget, int window,
                                   double floor_share = 0.2);
// PyramidKV: per-layer head budgets [L*G], layer l's per-head quota
//   window + max - l (max - min) / (L - 1),  min = (c - window) / beta,  max = 2 (c - window) - min,
// with layer totals rounded (largest remainder) to sum exactly to L x G x c, and each layer
// total spread over its heads as evenly as integers allow.
std::vector<int32_t> pyramidkv_budgets(int n_layers, int n_kv_heads, int budget, int window,
                                       double beta = 20.0);

}  // namespace cokv
