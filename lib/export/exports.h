// Writers that turn a cokv budget table into the formats other KV-cache engines read
// (FORMATS.md, "Exports for other engines"). Each writer takes a validated BudgetTable.
//
// Two kinds of file. Score files carry the table's head scores and let the consumer apply its
// own budget rule; table files ("<kind>.<mean>") carry one budget table each, written so that
// the consumer's reading rule gives back cokv's per-head budgets (exactly where the consumer
// can express them; the limits are in exports.json and the README).
//
//   headkv_scores.json            HeadKV / KVCache-Factory: one-line JSON {"L-H": [score], ...}
//                                 over QUERY heads, layer-major ("0-0", "0-1", ...); a KV head's
//                                 score is repeated for each query head of its GQA group.
//   headkv_budgets.<mean>.json    same layout, values b - window - min_num (HeadKV's min_num at
//                                 beta): HeadKV turns them back into exactly b per head.
//   duo_attention/                DuoAttention / kvpress DuoAttentionPress:
//     full_attention_heads.tsv    one row per layer, one tab-separated value per KV head in
//                                 [0,1] (higher = keep full): min-max normalised scores
//                                 (all equal -> 1.0)
//     config.json                 {"sink_size", "recent_size", ...}
//   duo_attention.<mean>/         same files, values b / max b, and in config.json the
//                                 head_compression_ratio (kvpress) / --sparsity (DuoAttention)
//                                 whose full heads match the table's KV memory at T.
//   lukv_curve.npy                kvpress LUKVPress: float32 [99, L, Hkv]; slice r-1 holds
//                                 per-head prune ratios 1 - c_i / T for a global compression of
//                                 r%: the allocation rule is re-run at total n*T*(1-r/100)
//                                 tokens with each head capped at T (water-filling), so every
//                                 slice's per-head token counts (1-p)*T are integers with exact
//                                 global and per-layer totals. T = reference_length. The slice
//                                 kvpress picks for a table (lukv_slice: whole percents) holds
//                                 that table itself: 1 - min(b_i, T) / T.
//   kv_compress_bias.npz          KV-Compress (vLLM fork): bias float32 [L, Hkv, 1] =
//                                 ln(max(min-max normalised score, 1e-3)) (cokv's choice: the
//                                 most important head gets 0, the least about -6.9), pos_bins
//                                 int32 [1] = [0] (position-free scores).
//   kv_compress_bias.<mean>.npz   bias ln(b / max b): heads ordered by the table's budgets.
//   layer_budgets.json            engines with one budget per layer, per table: SnapKV/PyramidKV
//                                 max_capacity_prompts (integer layer means, exact total),
//                                 kvpress per-layer compression_ratios (1 - (mean + 0.5) / T,
//                                 clipped to [0,1): kvpress truncates T x (1 - ratio) to an
//                                 integer, which then gives the mean exactly), TensorRT-LLM
//                                 max_attention_window (= the layer mean: a recency-only
//                                 approximation).
//   exports.json                  cokv.exports.v1: per file, its consumer, the settings that
//                                 make the consumer reproduce the table, and what it cannot.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/npy.h"
#include "kv/budget_table.h"
#include "kv/allocation.h"

namespace cokv {

struct ExportOptions {
  // T: the prompt length that ratio-based formats (kvpress, Duo's memory match) are relative to.
  int reference_length = 8000;
  // LU-KV curve allocation rule; default: default_export_rule(table).
  std::optional<AllocRule> rule;
  // DuoAttention config; < 0 means the table's sink / window.
  int duo_sink_size = -1;
  int duo_recent_size = -1;
  // HeadKV score values: raw scores (false) or min-max normalised to [0,1] (true).
  bool headkv_normalize = false;
  // HeadKV's beta for the budget files (KVCache-Factory's --head_beta default).
  double headkv_beta = 1.01;
  // LU-KV: shortest prompt on which every head still keeps its window (kvpress scales counts by
  // prompt / T, the window with them); raises the curve's floor to ceil(window x T / S).
  // 0: no floor beyond the window (exact at T).
  int lukv_min_length = 0;
};

// Min-max normalised scores in [0,1]; all equal -> all 1.
std::vector<double> minmax_normalized(const std::vector<double>& scores);
// CoKV Eq. 3 with the first table's alpha when it has one; "uniform" for a uniform method;
// otherwise the first table's shape (from_budgets); with no tables, proportional for
// nonnegative scores, else CoKV with alpha 1.
AllocRule default_export_rule(const BudgetTable& t);
// "<mean>" (or "<mean>.alpha<a>" when means repeat) naming table k's files.
std::string table_file_tag(const BudgetTable& t, size_t k);

// ---- HeadKV / KVCache-Factory --------------------------------------------------------------------
// Python's float floor division a // b (what HeadKV computes with a float beta).
double python_floordiv(double a, double b);
// HeadKV's min_num for table capacity c = mean_budget - window: c - c // beta. Throws when
// c // beta < 1 (HeadKV's pool would be empty and its normalisation divide by zero).
double headkv_min_num(double mean_budget, int window, double beta);
// Per query head (layer-major): b - window - min_num of table k.
std::vector<double> headkv_budget_values(const BudgetTable& t, size_t k, double beta);
void write_headkv_json(const BudgetTable& t, const std::string& path, bool normalize = false);
void write_headkv_budgets(const BudgetTable& t, size_t k, const std::string& path, double beta);

// ---- DuoAttention ---------------------------------------------------------------------------------
// Table k as Duo's two kinds of head at prompt length T: the n_full heads with the largest
// budgets keep the whole prompt, the rest sink + recent. n_full matches the table's KV memory
// (sum of min(b, T)) to the nearest head, then moves to the nearest boundary between distinct
// budgets so the full set is unambiguous.
struct DuoSplit {
  int n_full = 0;
  double head_compression_ratio = 0;  // streaming heads / all heads (kvpress; Duo's --sparsity)
};
DuoSplit duo_split(const BudgetTable& t, size_t k, int reference_length, int sink, int recent);
// recent_size 0 is refused: kvpress masks keys[sink:-recent], empty for 0, so nothing is evicted.
void write_duo_attention(const BudgetTable& t, const std::string& dir, int sink_size, int recent_size);
void write_duo_table(const BudgetTable& t, size_t k, const std::string& dir, int sink_size, int recent_size,
                     int reference_length);

// ---- kvpress LU-KV --------------------------------------------------------------------------------
// The slice (1..99) kvpress's LUKVPress reads for the compression 1 - mean / T: it takes whole
// percents (round(100 x ratio)) and clamps to 1..99.
int lukv_slice(double mean_budget, int reference_length);
npy::Array lukv_curve(const BudgetTable& t, const AllocRule& rule, int reference_length, int min_length = 0);

// ---- KV-Compress and per-layer lists ------------------------------------------------------------
void write_kv_compress(const BudgetTable& t, const std::string& path);
void write_kv_compress_table(const BudgetTable& t, size_t k, const std::string& path);
void write_layer_lists(const BudgetTable& t, const std::string& path, int reference_length);

// Writes every export above and exports.json into out_dir (created if needed); returns the
// paths written. What could not be written (e.g. Duo with window 0) is listed in exports.json
// and appended to `notes` when given.
std::vector<std::string> export_all(const BudgetTable& t, const std::string& out_dir,
                                    const ExportOptions& opt = {}, std::vector<std::string>* notes = nullptr);

}  // namespace cokv
