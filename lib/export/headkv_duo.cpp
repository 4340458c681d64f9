// HeadKV / KVCache-Factory JSON and the DuoAttention folders (see exports.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_bytes.h"
#include "export/exports.h"

namespace cokv {

namespace {

// {"0-0": [v], "0-1": [v], ...} over query heads, layer-major; v[p] is per KV head unless
// per_query_head.
void write_query_head_json(const BudgetTable& t, const std::vector<double>& v, bool per_query_head,
                           const std::string& path) {
  const int L = t.model.n_layers, H = t.model.n_heads, G = t.model.n_kv_heads, group = H / G;
  nlohmann::ordered_json j = nlohmann::ordered_json::object();  // keeps "0-0","0-1",.. order
  for (int il = 0; il < L; ++il)
    for (int h = 0; h < H; ++h)
      j[std::to_string(il) + "-" + std::to_string(h)] = {per_query_head ? v[size_t(il) * H + h]
                                                                        : v[size_t(il) * G + h / group]};
  write_file_bytes(path, j.dump());  // one line: HeadKV reads it with json.loads(f.readline())
}

void create_folder(const std::string& dir, const char* what) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create the " + what + " folder (" + ec.message() + ")");
}

void check_duo_sizes(const std::string& dir, int sink_size, int recent_size) {
  if (sink_size < 0) fail(dir, "sink_size", ">= 0", std::to_string(sink_size));
  if (recent_size < 1)
    fail(dir, "recent_size",
         ">= 1 (kvpress's DuoAttentionPress masks keys[sink:-recent], an empty slice for 0, so nothing "
         "would be evicted; set a window or a Duo recent size)",
         std::to_string(recent_size));
}

void write_tsv(const std::string& path, const std::vector<double>& v, int L, int G) {
  std::string tsv;
  char buf[32];
  for (int il = 0; il < L; ++il) {
    for (int ih = 0; ih < G; ++ih) {
      std::snprintf(buf, sizeof buf, "%.9g", v[size_t(il) * G + ih]);
      tsv += buf;
      tsv += ih + 1 < G ? '\t' : '\n';
    }
  }
  write_file_bytes(path, tsv);
}

}  // namespace

// ---- HeadKV --------------------------------------------------------------------------------------

double python_floordiv(double a, double b) {
  if (b == 0) fail("python_floordiv", "divisor", "!= 0", "0");
  // As CPython's float floor division computes it: through fmod, then floor with a correction.
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1.0;
  if (div == 0) return std::copysign(0.0, a / b);
  double f = std::floor(div);
  if (div - f > 0.5) f += 1.0;
  return f;
}

double headkv_min_num(double mean_budget, int window, double beta) {
  const double capacity = mean_budget - window;
  if (!(beta > 0)) fail("HeadKV export", "beta", "> 0", std::to_string(beta));
  if (python_floordiv(capacity, beta) < 1)
    fail("HeadKV export", "mean_budget - window",
         ">= beta (HeadKV's pool (capacity // beta) x heads would be empty)", std::to_string(capacity));
  return capacity - python_floordiv(capacity, beta);
}

std::vector<double> headkv_budget_values(const BudgetTable& t, size_t k, double beta) {
  const auto& lv = t.tables.at(k);
  if (lv.mean_budget != std::floor(lv.mean_budget))
    fail("HeadKV export", "mean_budget", "an integer (HeadKV's max_capacity_prompts)",
         std::to_string(lv.mean_budget));
  const double min_num = headkv_min_num(lv.mean_budget, t.window, beta);
  const int L = t.model.n_layers, H = t.model.n_heads, G = t.model.n_kv_heads, group = H / G;
  std::vector<double> v(size_t(L) * H);
  for (int il = 0; il < L; ++il)
    for (int h = 0; h < H; ++h)
      v[size_t(il) * H + h] = lv.budgets[size_t(il) * G + h / group] - t.window - min_num;
  return v;
}

void write_headkv_json(const BudgetTable& t, const std::string& path, bool normalize) {
  validate(t, path);
  write_query_head_json(t, normalize ? minmax_normalized(t.scores) : t.scores, false, path);
}

void write_headkv_budgets(const BudgetTable& t, size_t k, const std::string& path, double beta) {
  validate(t, path);
  write_query_head_json(t, headkv_budget_values(t, k, beta), true, path);
}

// ---- DuoAttention --------------------------------------------------------------------------------

DuoSplit duo_split(const BudgetTable& t, size_t k, int reference_length, int sink, int recent) {
  const auto& b = t.tables.at(k).budgets;
  const int n = static_cast<int>(b.size());
  const int64_t T = reference_length;
  if (T <= 0) fail("duo_split", "reference_length", "> 0", std::to_string(T));
  std::vector<int64_t> d(n);  // kept tokens at T, largest first
  int64_t memory = 0;
  for (int i = 0; i < n; ++i) memory += d[i] = std::min<int64_t>(b[i], T);
  std::sort(d.begin(), d.end(), std::greater<>());
  const int64_t streaming = std::min<int64_t>(int64_t(sink) + recent, T);
  DuoSplit s;
  if (streaming >= T) {
    s.n_full = n;  // a streaming head keeps the whole prompt: no head loses anything
  } else {
    const double x = double(memory - int64_t(n) * streaming) / double(T - streaming);
    const int want = static_cast<int>(std::clamp<double>(std::llround(x), 0, n));
    // The nearest split that does not cut a group of equal budgets (the smaller on ties).
    auto clean = [&](int j) { return j == 0 || j == n || d[j - 1] > d[j]; };
    int best = -1;
    for (int j = 0; j <= n; ++j)
      if (clean(j) && (best < 0 || std::abs(j - x) < std::abs(best - x))) best = j;
    s.n_full = clean(want) ? want : best;
  }
  s.head_compression_ratio = double(n - s.n_full) / n;
  return s;
}

void write_duo_attention(const BudgetTable& t, const std::string& dir, int sink_size, int recent_size) {
  validate(t, dir);
  check_duo_sizes(dir, sink_size, recent_size);
  create_folder(dir, "DuoAttention");
  write_tsv(dir + "/full_attention_heads.tsv", minmax_normalized(t.scores), t.model.n_layers,
            t.model.n_kv_heads);
  nlohmann::ordered_json cfg;
  cfg["sink_size"] = sink_size;
  cfg["recent_size"] = recent_size;
  cfg["source"] = "cokv";
  cfg["method"] = t.method_name();
  cfg["note"] =
      "full_attention_heads.tsv: min-max normalised head scores, one row per layer, one column per KV head";
  write_file_bytes(dir + "/config.json", cfg.dump(2) + "\n");
}

void write_duo_table(const BudgetTable& t, size_t k, const std::string& dir, int sink_size, int recent_size,
                     int reference_length) {
  validate(t, dir);
  check_duo_sizes(dir, sink_size, recent_size);
  const auto& lv = t.tables.at(k);
  const DuoSplit s = duo_split(t, k, reference_length, sink_size, recent_size);
  create_folder(dir, "DuoAttention");
  const int64_t T = reference_length;
  int64_t top = 1;
  for (int b : lv.budgets) top = std::max<int64_t>(top, std::min<int64_t>(b, T));
  std::vector<double> v(lv.budgets.size());
  for (size_t p = 0; p < v.size(); ++p) v[p] = double(std::min<int64_t>(lv.budgets[p], T)) / double(top);
  write_tsv(dir + "/full_attention_heads.tsv", v, t.model.n_layers, t.model.n_kv_heads);
  nlohmann::ordered_json cfg;
  cfg["sink_size"] = sink_size;
  cfg["recent_size"] = recent_size;
  cfg["source"] = "cokv";
  cfg["method"] = t.method_name();
  cfg["mean_budget"] = lv.mean_budget;
  cfg["reference_length"] = reference_length;
  cfg["n_full_heads"] = s.n_full;
  cfg["head_compression_ratio"] = s.head_compression_ratio;
  cfg["sparsity"] = s.head_compression_ratio;
  cfg["note"] =
      "full_attention_heads.tsv: min(budget, reference_length) / max, one row per layer, one column per KV "
      "head. kvpress DuoAttentionPress(head_compression_ratio) or DuoAttention's --sparsity keep "
      "the n_full_heads heads with the largest budgets whole and the rest at sink + recent tokens: the "
      "table's KV memory at reference_length, to the nearest head.";
  write_file_bytes(dir + "/config.json", cfg.dump(2) + "\n");
}

}  // namespace cokv
