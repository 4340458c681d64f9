// Writers that turn a cokv budget table into the formats other KV-cache engines read
// (FORMATS.md, "Exports for other engines"). Each writer takes a validated BudgetTable.
//
//   headkv_scores.json            HeadKV / KVCache-Factory: one-line JSON {"L-H": [score], ...}
//                                 over QUERY heads, layer-major ("0-0", "0-1", ...); a KV head's
//                                 score is repeated for each query head of its GQA group.
//   duo_attention/                DuoAttention / kvpress DuoAttentionPress:
//     full_attention_heads.tsv    one row per layer, one tab-separated value per KV head in
//                                 [0,1] (higher = keep full): min-max normalised scores
//                                 (all equal -> 1.0)
//     config.json                 {"sink_size", "recent_size", ...}
//   lukv_curve.npy                kvpress LUKVPress: float32 [99, L, Hkv]; slice r-1 holds
//                                 per-head prune ratios 1 - c_i / T for a global compression of
//                                 r%: the allocation rule is re-run at total n*T*(1-r/100)
//                                 tokens with each head capped at T (water-filling), so every
//                                 slice's per-head token counts (1-p)*T are integers with exact
//                                 global and per-layer totals. T = reference_length.
//   kv_compress_bias.npz          KV-Compress (vLLM fork): bias float32 [L, Hkv, 1] =
//                                 ln(max(min-max normalised score, 1e-3)) (cokv's choice: the
//                                 most important head gets 0, the least about -6.9), pos_bins
//                                 int32 [1] = [0] (position-free scores).
//   layer_budgets.json            engines with one budget per layer, per table: SnapKV/PyramidKV
//                                 max_capacity_prompts (integer layer means, exact total),
//                                 kvpress per-layer compression_ratios (1 - mean / T, clipped
//                                 to [0,1]), TensorRT-LLM max_attention_window (= the layer
//                                 mean: a recency-only approximation).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/npy.h"
#include "kv/budget_table.h"
#include "kv/allocation.h"

namespace cokv {

struct ExportOptions {
  // T: the prompt length that ratio-based formats (kvpress) are relative to.
  int reference_length = 8000;
  // LU-KV curve allocation rule; default: default_export_rule(table).
  std::optional<AllocRule> rule;
  // DuoAttention config; < 0 means the table's sink / window.
  int duo_sink_size = -1;
  int duo_recent_size = -1;
  // HeadKV values: raw scores (false) or min-max normalised to [0,1] (true).
  bool headkv_normalize = false;
};

// Min-max normalised scores in [0,1]; all equal -> all 1.
std::vector<double> minmax_normalized(const std::vector<double>& scores);
// CoKV Eq. 3 with the first table's alpha when it has one; "uniform" for a uniform method;
// otherwise the first table's shape (from_budgets); with no tables, proportional for
// nonnegative scores, else CoKV with alpha 1.
AllocRule default_export_rule(const BudgetTable& t);

void write_headkv_json(const BudgetTable& t, const std::string& path, bool normalize = false);
void write_duo_attention(const BudgetTable& t, const std::string& dir, int sink_size, int recent_size);
npy::Array lukv_curve(const BudgetTable& t, const AllocRule& rule, int reference_length);
void write_kv_compress(const BudgetTable& t, const std::string& path);
void write_layer_lists(const BudgetTable& t, const std::string& path, int reference_length);

// Writes every export above into out_dir (created if needed); returns the paths written.
std::vector<std::string> export_all(const BudgetTable& t, const std::string& out_dir,
                                    const ExportOptions& opt = {});

}  // namespace cokv
