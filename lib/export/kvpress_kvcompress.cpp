// kvpress LU-KV curve, KV-Compress bias and the per-layer lists (see exports.h).
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_bytes.h"
#include "export/exports.h"

namespace cokv {

npy::Array lukv_curve(const BudgetTable& t, const AllocRule& rule, int reference_length) {
  validate(t, "lukv_curve: table");
  if (reference_length <= 0) fail("lukv_curve", "reference_length", "> 0", std::to_string(reference_length));
  const int L = t.model.n_layers, G = t.model.n_kv_heads, n = L * G;
  const int64_t T = reference_length;
  std::vector<float> out(size_t(99) * n);
  for (int r = 1; r <= 99; ++r) {
    // Tokens kept over all heads at r% compression: n x T x (100 - r) / 100, rounded once.
    const int64_t total = (int64_t(n) * T * (100 - r) + 50) / 100;
    const auto c = allocate_rule(rule, t.scores, total, t.window, static_cast<int>(T));
    for (int p = 0; p < n; ++p) out[size_t(r - 1) * n + p] = float(1.0 - double(c[p]) / double(T));
  }
  return npy::make<float>({99, L, G}, out);
}

void write_kv_compress(const BudgetTable& t, const std::string& path) {
  validate(t, path);
  const auto v = minmax_normalized(t.scores);
  std::vector<float> bias(v.size());
  for (size_t p = 0; p < v.size(); ++p) bias[p] = float(std::log(std::max(v[p], 1e-3)));
  const int64_t L = t.model.n_layers, G = t.model.n_kv_heads;
  npy::save_npz(path,
                {{"bias", npy::make<float>({L, G, 1}, bias)}, {"pos_bins", npy::make<int32_t>({1}, {0})}});
}

void write_layer_lists(const BudgetTable& t, const std::string& path, int reference_length) {
  validate(t, path);
  if (reference_length <= 0) fail(path, "reference_length", "> 0", std::to_string(reference_length));
  const int L = t.model.n_layers, G = t.model.n_kv_heads;
  nlohmann::ordered_json j;
  j["format"] = "cokv.layer_budgets.v1";
  j["model"] = t.model.name;
  j["n_layers"] = L;
  j["method"] = t.method_name();
  j["window"] = t.window;
  j["reference_length"] = reference_length;
  j["tables"] = nlohmann::ordered_json::array();
  for (const auto& lv : t.tables) {
    const auto m = layer_mean_budgets(lv.budgets, L, G);
    nlohmann::ordered_json o;
    if (lv.mean_budget == std::floor(lv.mean_budget))
      o["mean_budget"] = static_cast<int64_t>(lv.mean_budget);
    else
      o["mean_budget"] = lv.mean_budget;
    if (lv.alpha) o["alpha"] = *lv.alpha;
    o["max_capacity_prompts"] = m;
    std::vector<double> ratios(L);
    for (int il = 0; il < L; ++il) ratios[il] = std::clamp(1.0 - double(m[il]) / reference_length, 0.0, 1.0);
    o["kvpress_compression_ratios"] = ratios;
    o["max_attention_window"] = m;
    j["tables"].push_back(o);
  }
  write_file_bytes(path, j.dump(2) + "\n");
}

}  // namespace cokv
