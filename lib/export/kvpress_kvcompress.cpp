// kvpress LU-KV curve, KV-Compress bias and the per-layer lists (see exports.h).
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_bytes.h"
#include "export/exports.h"

namespace cokv {

namespace {

void check_reference_length(const std::string& where, int reference_length) {
  if (reference_length <= 0) fail(where, "reference_length", "> 0", std::to_string(reference_length));
}

void save_bias(const BudgetTable& t, const std::vector<double>& log_bias, const std::string& path) {
  const int64_t L = t.model.n_layers, G = t.model.n_kv_heads;
  npy::save_npz(path,
                {{"bias", npy::make<float>({L, G, 1}, std::vector<float>(log_bias.begin(), log_bias.end()))},
                 {"pos_bins", npy::make<int32_t>({1}, {0})}});
}

}  // namespace

int lukv_slice(double mean_budget, int reference_length) {
  check_reference_length("lukv_slice", reference_length);
  const long r = std::lround(100.0 * (1.0 - mean_budget / reference_length));
  return static_cast<int>(std::clamp<long>(r, 1, 99));
}

npy::Array lukv_curve(const BudgetTable& t, const AllocRule& rule, int reference_length, int min_length) {
  validate(t, "lukv_curve: table");
  check_reference_length("lukv_curve", reference_length);
  if (min_length < 0) fail("lukv_curve", "min_length", ">= 0", std::to_string(min_length));
  const int L = t.model.n_layers, G = t.model.n_kv_heads, n = L * G;
  const int64_t T = reference_length;
  // kvpress keeps (1 - p) x prompt tokens per head: on a prompt of length S a head keeps its
  // window only if its count at T is >= window x T / S.
  int floor = t.window;
  if (min_length > 0 && min_length < T)
    floor = std::max<int64_t>(floor, (int64_t(t.window) * T + min_length - 1) / min_length);
  floor = static_cast<int>(std::min<int64_t>(floor, T));
  std::vector<float> out(size_t(99) * n);
  auto put = [&](int r, const std::vector<int>& c) {
    for (int p = 0; p < n; ++p) out[size_t(r - 1) * n + p] = float(1.0 - double(c[p]) / double(T));
  };
  for (int r = 1; r <= 99; ++r) {
    // Tokens kept over all heads at r% compression: n x T x (100 - r) / 100, rounded once.
    const int64_t total = (int64_t(n) * T * (100 - r) + 50) / 100;
    put(r, allocate_rule(rule, t.scores, total, floor, static_cast<int>(T)));
  }
  // The slice kvpress reads for a table holds that table (the first table wins a slice).
  std::vector<bool> taken(100, false);
  for (const auto& lv : t.tables) {
    const int r = lukv_slice(lv.mean_budget, reference_length);
    if (taken[r]) continue;
    taken[r] = true;
    std::vector<double> above(n);
    int64_t total = 0;
    for (int p = 0; p < n; ++p) {
      const int64_t c = std::min<int64_t>(lv.budgets[p], T);
      total += c;
      above[p] = double(std::max<int64_t>(0, c - t.window));
    }
    // With floor == window this gives min(b, T) back exactly; a higher floor lifts the small heads.
    put(r,
        distribute(above, total, static_cast<int>(std::min<int64_t>(floor, total / n)), static_cast<int>(T)));
  }
  return npy::make<float>({99, L, G}, out);
}

void write_kv_compress(const BudgetTable& t, const std::string& path) {
  validate(t, path);
  const auto v = minmax_normalized(t.scores);
  std::vector<double> bias(v.size());
  for (size_t p = 0; p < v.size(); ++p) bias[p] = std::log(std::max(v[p], 1e-3));
  save_bias(t, bias, path);
}

void write_kv_compress_table(const BudgetTable& t, size_t k, const std::string& path) {
  validate(t, path);
  const auto& b = t.tables.at(k).budgets;
  const double top = std::max(1, *std::max_element(b.begin(), b.end()));
  std::vector<double> bias(b.size());
  for (size_t p = 0; p < b.size(); ++p) bias[p] = std::log(std::max(b[p], 1) / top);
  save_bias(t, bias, path);
}

void write_layer_lists(const BudgetTable& t, const std::string& path, int reference_length) {
  validate(t, path);
  check_reference_length(path, reference_length);
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
    // kvpress keeps int(T x (1 - ratio)) tokens: the half token makes the truncation land on m.
    std::vector<double> ratios(L);
    for (int il = 0; il < L; ++il)
      ratios[il] = m[il] >= reference_length ? 0.0 : std::max(0.0, 1.0 - (m[il] + 0.5) / reference_length);
    o["kvpress_compression_ratios"] = ratios;
    o["max_attention_window"] = m;
    j["tables"].push_back(o);
  }
  write_file_bytes(path, j.dump(2) + "\n");
}

}  // namespace cokv
