// The budget table file, format "cokv.budget.v1" (DESIGN.md): one JSON file per (model, task,
// method) holding per-KV-head scores and one or more integer budget tables, plus .npy twins.
//
// Layout in memory: every [n_layers][n_kv_heads] grid is flat, row-major: p = il * n_kv_heads + ih.
// Validation (on read, and by validate() before write) checks:
//   format string; model fields (positive ints, n_heads divisible by n_kv_heads); scores and
//   score_stderr shapes [n_layers][n_kv_heads] with finite numbers; window >= 0, sink >= 0;
//   a "tables" array with at least one level; every table: mean_budget a number with n x mean integral, budgets [n_layers][n_kv_heads]
//   of JSON integers (12.5, null/NaN, strings rejected) each >= window and summing exactly to
//   n x mean_budget. A number beyond double range (1e999) is reported as such. Messages name the file, the field path (e.g. tables[1].budgets[3][2]) and
//   expected vs got.
//
// The .npy twin (write_npy_twin) for a table file "<stem>.json" writes beside it:
//   <stem>.scores.npy              float32 [n_layers, n_kv_heads]
//   <stem>.score_stderr.npy        float32 [n_layers, n_kv_heads]   (when present)
//   <stem>.budgets.<mean>.npy      int32   [n_layers, n_kv_heads]   one per table
// <mean> is the mean budget as an integer (or shortest decimal, e.g. 12.5). When several tables
// share a mean, each gets ".alpha<alpha>" (or ".t<index>" without alpha) appended to <mean>.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace cokv {

struct ModelConfig;

inline constexpr const char* kBudgetFormat = "cokv.budget.v1";

struct BudgetModelInfo {
  std::string name;
  std::string arch;
  int n_layers = 0;
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // players per layer
  int head_dim = 0;
  std::string file_sha256;  // of the model file; may be empty when unknown
  // "gguf" (file_sha256 = the file's sha256) or "hf-folder" (the folder's content hash,
  // model/model_source.h model_sha256); empty when unknown (older tables).
  std::string format;
  std::string weights;  // weights in memory while profiling: "fp32" | "bf16"; empty when unknown
  int n_players() const { return n_layers * n_kv_heads; }
};

struct BudgetLevel {
  double mean_budget = 0;
  std::optional<int> alpha;                         // CoKV's alpha when the table came from Eq. 3
  std::vector<int32_t> budgets;                     // [n_layers * n_kv_heads]
  nlohmann::json extra = nlohmann::json::object();  // other keys of the table object, kept verbatim
};

struct BudgetTable {
  BudgetModelInfo model;
  nlohmann::json task = nlohmann::json::object();    // free-form: category, datasets, samples, ...
  nlohmann::json method = nlohmann::json::object();  // free-form, must hold a string "name"
  std::vector<double> scores;                        // [n_layers * n_kv_heads]
  std::optional<std::vector<double>> score_stderr;   // [n_layers * n_kv_heads]
  int window = 8;
  int sink = 0;
  std::vector<BudgetLevel> tables;

  std::string method_name() const;
  double score(int il, int ih) const { return scores[size_t(il) * model.n_kv_heads + ih]; }
};

// Throws cokv::Error naming `where` (the file) on the first problem found (see header comment).
void validate(const BudgetTable& t, const std::string& where);
// Checks the table against a model's shape: "<where>: model.n_layers: expected 30 (the model's),
// got 32". n_heads and the sha256 are compared only when given (> 0 / non-empty) and, for the
// sha256, when the table records one.
void check_against_model(const BudgetTable& t, int n_layers, int n_kv_heads, const std::string& where,
                         int n_heads = 0, const std::string& file_sha256 = {});
// Shape and model hash (file_sha256 of the model file the caller loaded).
void check_against_model(const BudgetTable& t, const ModelConfig& cfg, const std::string& file_sha256,
                         const std::string& where);

BudgetTable budget_table_from_json(const nlohmann::json& j, const std::string& where);
// Keys in the order of DESIGN.md; grids written one row per line by write_budget_table.
nlohmann::ordered_json budget_table_to_json(const BudgetTable& t);
std::string budget_table_to_string(const BudgetTable& t);

BudgetTable read_budget_table(const std::string& path);
// Validates, then writes atomically.
void write_budget_table(const std::string& path, const BudgetTable& t);

// Writes the .npy twins (see header comment) and returns the paths written. `json_path` is the
// table's JSON path; its ".json" suffix is dropped to form <stem>.
std::vector<std::string> write_npy_twin(const std::string& json_path, const BudgetTable& t);
// The twin file name of table `k` (without directory), e.g. "budgets.128" or "budgets.128.alpha10".
std::string twin_budget_suffix(const BudgetTable& t, size_t k);

}  // namespace cokv
