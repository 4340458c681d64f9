// Each export read back through its consumer's own reading rule, re-implemented here from the
// consumer's source (file and function named at each rule), and compared with cokv's per-head
// budgets. Sources read: FYYFU/HeadKV, Zefan-Cai/KVCache-Factory, mit-han-lab/duo-attention,
// kvpress 0.5.5 (the pip package), IsaacRe/vllm-kvcompress.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/npy.h"
#include "export/exports.h"

namespace fs = std::filesystem;
using namespace cokv;
using ojson = nlohmann::ordered_json;

namespace {

const fs::path kTmp = fs::temp_directory_path() / ("cokv-test-consumers-" + std::to_string(::getpid()));
struct TempCleanup {
  ~TempCleanup() {
    std::error_code ec;
    fs::remove_all(kTmp, ec);
  }
} temp_cleanup;

fs::path tmp_dir(const std::string& name) {
  fs::path d = kTmp / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// SmolLM2's shape (30 layers, 9 query heads, 3 KV heads); CoKV Eq. 3 tables, alpha 10.
BudgetTable ssv_table(std::vector<int> means = {64, 128}) {
  BudgetTable t;
  t.model = {"SmolLM2-135M-Instruct", "llama", 30, 9, 3, 64, ""};
  t.method = {{"name", "cokv-ssv"}};
  t.scores.resize(90);
  for (int p = 0; p < 90; ++p) t.scores[p] = std::sin(p * 0.7) * 0.05 - 0.01 * (p % 4) + 1e-4 * p;
  t.window = 8;
  for (int mean : means) t.tables.push_back({double(mean), 10, allocate_cokv(t.scores, mean, 8, 10), {}});
  return t;
}

// Task-KV's shape of table: 10 heads keep the whole 1000-token prompt, 80 keep sink 20 + window 8.
BudgetTable two_kind_table() {
  BudgetTable t = ssv_table({});
  t.method = {{"name", "taskkv"}};
  t.sink = 20;
  std::vector<int> b(90, 28);
  for (int p : {1, 5, 13, 22, 37, 41, 58, 60, 77, 89}) b[p] = 1000;
  t.tables.push_back({136, std::nullopt, b, {}});  // (10 x 1000 + 80 x 28) / 90
  return t;
}

bool has_note(const std::vector<std::string>& notes, const std::string& text) {
  return std::any_of(notes.begin(), notes.end(),
                     [&](const std::string& n) { return n.find(text) != std::string::npos; });
}

std::vector<int64_t> capped(const std::vector<int>& b, int64_t T) {
  std::vector<int64_t> c(b.size());
  for (size_t i = 0; i < b.size(); ++i) c[i] = std::min<int64_t>(b[i], T);
  return c;
}

// Values of a one-line {"L-H": [x, ...]} file, in file order, each the mean of its list.
std::vector<double> json_head_means(const std::string& path) {
  const std::string text = read_file_bytes(path);
  REQUIRE(text.find('\n') == std::string::npos);  // HeadKV: json.loads(file.readline())
  const ojson j = ojson::parse(text);
  std::vector<double> v;
  for (const auto& [k, list] : j.items()) {
    double s = 0;
    for (const auto& x : list) s += x.get<double>();
    v.push_back(s / double(list.size()));  // np.mean(l[1])
  }
  return v;
}

// std::floor(a / b) is Python's a // b for the operands used here (positive, not near a multiple).
double floordiv(double a, double b) { return std::floor(a / b); }

// ---- HeadKV: FYYFU/HeadKV headkv/snapkv_utils.py, ReasonSnapKVCluster.__init__ (capacities) and
// update_kv (top head_capacity of the ranking + the window; no compression when the base capacity
// exceeds the ranked part). run_longbench.py sets window_size 8, base_capacity = max_capacity_prompts.
std::vector<int64_t> headkv_kept(const std::vector<double>& values, int L, int H, int max_capacity_prompts,
                                 int window, double beta, double temp, int64_t prompt_len) {
  std::vector<double> s = values;
  double sum = 0;
  for (double x : s) sum += x;  // Python sum(), left to right
  for (double& x : s) x = std::pow(x / sum, temp);
  double sum2 = 0;
  for (double x : s) sum2 += x;
  const double capacity = max_capacity_prompts - window;
  const double pool = floordiv(capacity, beta) * L * H, min_num = capacity - floordiv(capacity, beta);
  std::vector<int64_t> kept(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const auto hc = static_cast<int64_t>(std::nearbyint(s[i] / sum2 * pool + min_num));  // torch.round
    kept[i] = capacity > prompt_len - window ? prompt_len : std::min(hc, prompt_len - window) + window;
  }
  return kept;
}

// ---- KVCache-Factory: run_longbench.py (the HeadKV branch: capacities from --head_path,
// --max_capacity_prompts, --head_beta; window_sizes 8) and pyramidkv/pyramidkv_utils.py
// HeadKVCluster.update_kv (top head_capacity + window; in kv_head mode a KV head takes the rounded
// mean of its query heads' capacities).
std::vector<int64_t> kvcache_factory_kept(const std::vector<double>& values, int L, int H, int G,
                                          int max_capacity_prompts, int window, double beta,
                                          int64_t prompt_len, bool kv_head_mode) {
  double sum = 0;
  for (double x : values) sum += x;
  const double M = max_capacity_prompts;
  const double pool = floordiv(M, beta) * L * H, min_num = M - floordiv(M, beta);
  std::vector<double> hc(values.size());
  for (size_t i = 0; i < values.size(); ++i) hc[i] = std::nearbyint(values[i] / sum * pool + min_num);
  if (kv_head_mode) {
    const int group = H / G;
    std::vector<double> kv(size_t(L) * G);
    for (size_t g = 0; g < kv.size(); ++g) {
      double m = 0;
      for (int q = 0; q < group; ++q) m += hc[g * group + q];
      kv[g] = std::nearbyint(m / group);
    }
    hc = kv;
  }
  std::vector<int64_t> kept(hc.size());
  for (size_t i = 0; i < hc.size(); ++i)
    kept[i] = M - window > prompt_len - window
                  ? prompt_len
                  : std::min<int64_t>(int64_t(hc[i]), prompt_len - window) + window;
  return kept;
}

// cokv's kept tokens per query head (a KV head's budget repeated over its group).
std::vector<int64_t> per_query_head(const BudgetTable& t, const std::vector<int64_t>& kv) {
  const int H = t.model.n_heads, G = t.model.n_kv_heads;
  std::vector<int64_t> q;
  for (int il = 0; il < t.model.n_layers; ++il)
    for (int h = 0; h < H; ++h) q.push_back(kv[size_t(il) * G + h / (H / G)]);
  return q;
}

// ---- DuoAttention files --------------------------------------------------------------------------
std::vector<double> read_tsv(const fs::path& p, int rows, int cols) {
  std::istringstream in(read_file_bytes(p.string()));
  std::vector<double> v;
  std::string line, cell;
  int r = 0;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    int c = 0;
    while (std::getline(ls, cell, '\t')) v.push_back(std::clamp(std::stod(cell), 0.0, 1.0)), ++c;  // np.clip
    REQUIRE(c == cols);
    ++r;
  }
  REQUIRE(r == rows);
  return v;
}

// kvpress presses/duo_attention_press.py, DuoAttentionPress.post_init_from_model (the
// round(n x head_compression_ratio) lowest values become streaming heads, np.argsort) and compress
// (a streaming head's keys[sink:-recent] are masked). np.argsort is not stable: ties go either way
// (reverse_ties).
std::vector<int64_t> kvpress_duo_kept(const std::vector<double>& v, int sink, int recent, double hcr,
                                      int64_t prompt_len, bool reverse_ties) {
  const int n = static_cast<int>(v.size());
  const auto n_pruned = static_cast<int>(std::nearbyint(n * hcr));
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return v[a] != v[b] ? v[a] < v[b] : (reverse_ties ? a > b : a < b); });
  std::vector<int64_t> kept(n, prompt_len);
  const int64_t masked_from = sink, masked_to = prompt_len - recent;  // keys[sink:-recent]
  for (int j = 0; j < n_pruned; ++j)
    kept[order[j]] = prompt_len - std::max<int64_t>(0, masked_to - masked_from);
  return kept;
}

// mit-han-lab/duo-attention duo_attn/utils.py, sparsify_attention_heads as eval/LongBench/pred.py
// calls it (sparsity given, threshold None): full = value >= np.quantile(values + noise, sparsity)
// (linear interpolation), noise uniform in [0, 1e-6) to break ties.
std::vector<int> duo_full_mask(std::vector<double> v, double sparsity, uint64_t noise_seed) {
  uint64_t x = noise_seed;
  for (double& e : v) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    e += noise_seed ? double(x >> 11) / double(1ULL << 53) * 1e-6 : 0.0;
  }
  std::vector<double> s = v;
  std::sort(s.begin(), s.end());
  const double h = (s.size() - 1) * sparsity;
  const size_t lo = static_cast<size_t>(std::floor(h));
  double th = lo + 1 < s.size() ? s[lo] + (h - lo) * (s[lo + 1] - s[lo]) : s[lo];
  if (sparsity >= 1) th = 2;
  if (sparsity <= 0) th = -1;
  std::vector<int> full(v.size());
  for (size_t i = 0; i < v.size(); ++i) full[i] = v[i] >= th;
  return full;
}

// ---- kvpress presses/lukv_press.py, LUKVPress.compress: slice round(100 x ratio) - 1 (clamped to
// 0..98) of the curve; per layer, keep (1 - p) x seq_len per head in float32, the layer total rounded,
// floors topped up by the largest fractional parts, each count clamped to [1, seq_len].
std::vector<int64_t> lukv_kept(const npy::Array& curve, double compression_ratio, int L, int G,
                               int64_t seq_len) {
  const auto v = curve.values<float>();
  const int idx = std::clamp(static_cast<int>(std::nearbyint(compression_ratio * 100)) - 1, 0, 98);
  std::vector<int64_t> kept;
  for (int il = 0; il < L; ++il) {
    std::vector<float> ideal(G);
    float sum = 0;
    for (int h = 0; h < G; ++h) {
      const float p = v[(size_t(idx) * L + il) * G + h];
      ideal[h] = std::clamp(1.0f - p, 0.0f, 1.0f) * float(seq_len);
      sum += ideal[h];
    }
    int64_t total = std::clamp<int64_t>(std::llround(std::nearbyint(sum)), G, int64_t(G) * seq_len);
    std::vector<int64_t> base(G);
    int64_t base_sum = 0;
    for (int h = 0; h < G; ++h) base_sum += base[h] = static_cast<int64_t>(std::floor(ideal[h]));
    std::vector<int> order(G);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return ideal[a] - float(base[a]) > ideal[b] - float(base[b]); });
    for (int64_t r = 0; r < std::min<int64_t>(total - base_sum, G); ++r) ++base[order[r]];
    for (int h = 0; h < G; ++h) kept.push_back(std::clamp<int64_t>(base[h], 1, seq_len));
  }
  return kept;
}

}  // namespace

TEST_CASE("consumers: Python floor division as HeadKV computes capacity // beta", "[export][consumers]") {
  // Values printed by CPython 3.11: 56 // 1.5, 1 // 0.1, -7 // 2.0, 7 // -2.0, 120 // 1.01, 248 // 1.005.
  CHECK(python_floordiv(56, 1.5) == 37.0);
  CHECK(python_floordiv(1, 0.1) == 9.0);  // floor(1 / 0.1) would say 10
  CHECK(python_floordiv(-7, 2.0) == -4.0);
  CHECK(python_floordiv(7, -2.0) == -4.0);
  CHECK(python_floordiv(120, 1.01) == 118.0);
  CHECK(python_floordiv(248, 1.005) == 246.0);
  CHECK(headkv_min_num(64, 8, 1.5) == 56 - 37);
  CHECK_THROWS_WITH(headkv_min_num(9, 8, 1.5), Catch::Contains(">= beta"));
}

TEST_CASE("consumers: HeadKV and KVCache-Factory give back the table from the budget files",
          "[export][consumers]") {
  // Tolerance: none. The values are integers whose sum over heads is HeadKV's pool, so
  // value / sum x pool + min_num is b - window up to float64 rounding (~1e-12 tokens here), far
  // inside the 0.5 round() needs; with temp 1 the pow is the identity.
  const BudgetTable t = ssv_table();
  const int L = 30, H = 9, G = 3;
  const auto dir = tmp_dir("headkv");
  for (double beta : {1.005, 1.01, 1.5, 2.0, 10.0}) {
    for (size_t k = 0; k < t.tables.size(); ++k) {
      const int mean = static_cast<int>(t.tables[k].mean_budget);
      INFO("beta " << beta << " mean " << mean);
      const std::string path = (dir / "b.json").string();
      write_headkv_budgets(t, k, path, beta);
      const auto values = json_head_means(path);
      REQUIRE(values.size() == size_t(L * H));
      // Prompt lengths: long (nothing capped) and 300 (the largest budgets exceed the prompt).
      for (int64_t T : {100000, 300}) {
        const auto want = per_query_head(t, capped(t.tables[k].budgets, T));
        CHECK(headkv_kept(values, L, H, mean, t.window, beta, 1.0, T) == want);
        // KVCache-Factory counts the window on top of --max_capacity_prompts: pass mean - window.
        CHECK(kvcache_factory_kept(values, L, H, G, mean - t.window, t.window, beta, T, false) == want);
        CHECK(kvcache_factory_kept(values, L, H, G, mean - t.window, t.window, beta, T, true) ==
              capped(t.tables[k].budgets, T));
      }
    }
  }
  // The score file is not a budget file: HeadKV's own rule spreads the table very differently.
  write_headkv_json(t, (dir / "s.json").string(), true);
  const auto from_scores =
      headkv_kept(json_head_means((dir / "s.json").string()), L, H, 64, 8, 1.01, 1.0, 100000);
  CHECK(from_scores != per_query_head(t, capped(t.tables[0].budgets, 100000)));
}

TEST_CASE("consumers: DuoAttention and kvpress DuoAttentionPress keep the table's top heads",
          "[export][consumers]") {
  const auto dir = tmp_dir("duo");
  SECTION("two kinds of head (Task-KV's shape): every head exactly") {
    // Tolerance: none. Duo's budgets are prompt or sink + recent, which is this table.
    const BudgetTable t = two_kind_table();
    const int T = 1000;
    const auto out = dir / "two";
    write_duo_table(t, 0, out.string(), t.sink, t.window, T);
    const auto cfg = nlohmann::json::parse(read_file_bytes((out / "config.json").string()));
    const auto v = read_tsv(out / "full_attention_heads.tsv", 30, 3);
    CHECK(cfg["n_full_heads"] == 10);
    for (bool rev : {false, true})
      CHECK(kvpress_duo_kept(v, cfg["sink_size"], cfg["recent_size"], cfg["head_compression_ratio"], T,
                             rev) == capped(t.tables[0].budgets, T));
    // DuoAttention's own loader, by sparsity, with and without its tie-breaking noise.
    std::vector<int> want(90);
    for (int p = 0; p < 90; ++p) want[p] = t.tables[0].budgets[p] == T;
    for (uint64_t seed : {0, 7}) CHECK(duo_full_mask(v, cfg["sparsity"].get<double>(), seed) == want);
  }
  SECTION("graded budgets (SSV): the largest budgets full, the KV memory to half a head") {
    // Tolerance: |Duo memory - table memory| <= (T - sink - recent) / 2: Duo can only move whole
    // heads between "prompt" and "sink + recent", and the split is the nearest head count.
    const BudgetTable t = ssv_table({64, 128, 512});
    for (int T : {2000, 8000}) {
      for (size_t k = 0; k < t.tables.size(); ++k) {
        INFO("T " << T << " mean " << t.tables[k].mean_budget);
        const auto out = dir / ("ssv" + std::to_string(T) + "_" + std::to_string(k));
        write_duo_table(t, k, out.string(), 0, 8, T);
        const auto cfg = nlohmann::json::parse(read_file_bytes((out / "config.json").string()));
        const auto v = read_tsv(out / "full_attention_heads.tsv", 30, 3);
        const auto kept = kvpress_duo_kept(v, 0, 8, cfg["head_compression_ratio"], T, false);
        CHECK(kept == kvpress_duo_kept(v, 0, 8, cfg["head_compression_ratio"], T, true));
        const auto table = capped(t.tables[k].budgets, T);
        int64_t duo_mem = 0, table_mem = 0, min_full = INT64_MAX, max_streaming = 0;
        for (int p = 0; p < 90; ++p) {
          duo_mem += kept[p], table_mem += table[p];
          if (kept[p] == T)
            min_full = std::min(min_full, table[p]);
          else
            max_streaming = std::max(max_streaming, table[p]);
        }
        CHECK(min_full > max_streaming);  // the full heads are the table's largest
        CHECK(std::abs(duo_mem - table_mem) <= (T - 8) / 2);
        std::vector<int> full(90);
        for (int p = 0; p < 90; ++p) full[p] = kept[p] == T;
        CHECK(duo_full_mask(v, cfg["sparsity"].get<double>(), 7) == full);
      }
    }
  }
  SECTION("window 0 is refused: kvpress would mask keys[0:-0], nothing") {
    BudgetTable t = ssv_table();
    t.window = 0;
    t.tables = {{64, 10, allocate_cokv(t.scores, 64, 0, 10), {}}};
    CHECK_THROWS_WITH(write_duo_attention(t, (dir / "w0").string(), 0, 0), Catch::Contains("recent_size"));
    CHECK_THROWS_WITH(write_duo_table(t, 0, (dir / "w0t").string(), 0, 0, 8000),
                      Catch::Contains("recent_size"));
    std::vector<std::string> notes;
    const auto files = export_all(t, (dir / "all0").string(), {}, &notes);
    CHECK_FALSE(fs::exists(dir / "all0" / "duo_attention"));
    CHECK(has_note(notes, "DuoAttention folders not written"));
    // A Duo recent size of its own brings the folders back.
    ExportOptions o;
    o.duo_recent_size = 8;
    export_all(t, (dir / "all8").string(), o);
    CHECK(fs::exists(dir / "all8" / "duo_attention.64" / "config.json"));
  }
}

TEST_CASE("consumers: kvpress LUKVPress gives back each table at the reference length",
          "[export][consumers]") {
  // Tolerance: none at seq_len == T. The curve is float32: (1 - p) x T is off by at most
  // T x 2^-23 (1e-3 tokens at T = 8000), so each layer's total rounds to the table's and the only
  // heads floored below their count (fraction ~0.999) are the ones the remainder tops up.
  const BudgetTable t = ssv_table({64, 128, 512});
  const int L = 30, G = 3;
  for (int T : {800, 2000, 8000}) {
    const auto curve = lukv_curve(t, default_export_rule(t), T);
    for (const auto& lv : t.tables) {
      INFO("T " << T << " mean " << lv.mean_budget);
      const int r = lukv_slice(lv.mean_budget, T);
      CHECK(lukv_kept(curve, r / 100.0, L, G, T) == capped(lv.budgets, T));
    }
  }
  // Mean 64 at T = 8000 is 99.2% compression; kvpress reads whole percents, and slice 99 is the
  // table (the rule's 1% would keep 80 per head: the 64-vs-68 kind of gap). The slices
  // between tables are the rule at that percent: slice 97 keeps 3% of 8000 per head.
  const int T = 8000;
  const auto curve = lukv_curve(t, default_export_rule(t), T);
  const auto k99 = lukv_kept(curve, 0.99, L, G, T);
  CHECK(std::accumulate(k99.begin(), k99.end(), int64_t(0)) == 90 * 64);
  const auto k97 = lukv_kept(curve, 0.97, L, G, T);
  CHECK(std::accumulate(k97.begin(), k97.end(), int64_t(0)) == 90 * 8000 * 3 / 100);
  // Two tables on one slice: the first keeps it, exports.json says so.
  std::vector<std::string> notes;
  ExportOptions o;
  o.reference_length = T;
  export_all(ssv_table({32, 64}), tmp_dir("lukv_clash").string(), o, &notes);
  CHECK(has_note(notes, "slice 99, taken by the table at mean 32"));

  SECTION("short prompts: kvpress scales the window too; --lukv-min-length keeps it") {
    // On a prompt of S tokens kvpress keeps ~(1 - p) x S: the window-only heads drop below the window.
    const int S = 2000, r = lukv_slice(128, T);
    const auto short_kept = lukv_kept(curve, r / 100.0, L, G, S);
    CHECK(*std::min_element(short_kept.begin(), short_kept.end()) < t.window);
    const auto floored = lukv_curve(t, default_export_rule(t), T, S);
    const auto fk = lukv_kept(floored, r / 100.0, L, G, S);
    CHECK(*std::min_element(fk.begin(), fk.end()) >= t.window);
    // At T the floored curve still spends exactly the table's tokens (the floor moves them between heads).
    const auto at_T = lukv_kept(floored, r / 100.0, L, G, T);
    CHECK(std::accumulate(at_T.begin(), at_T.end(), int64_t(0)) == 90 * 128);
  }
}

TEST_CASE("consumers: KV-Compress orders whole heads by the table's budgets", "[export][consumers]") {
  // vllm-kvcompress vllm/kvcompress/metrics.py: _load_kv_head_bias (npz "bias" [L, Hkv, bins],
  // "pos_bins"), CompressionMetrics.__init__ (bias.shape[:-1] must be (L, Hkv)),
  // KVHeadBias.get_bias_for_position (bin = number of pos_bins <= position, minus 1) and
  // schedule_evictions (metric + kv_head_bias_weight x bias, protected tokens at +inf, lowest
  // evicted first). KV-Compress has no per-head counts to reproduce; what it can take from a table
  // is the order of heads: with a weight above metric range / smallest bias gap, heads lose tokens
  // strictly in budget order, at most one head partly. Tolerance: that order, exactly.
  const BudgetTable t = ssv_table({128});
  const int L = 30, G = 3, n = 90, T = 1000, protected_tail = 8;
  const auto dir = tmp_dir("kvc");
  write_kv_compress_table(t, 0, (dir / "b.npz").string());
  const auto z = npy::load_npz((dir / "b.npz").string());
  const auto& bias = z.at("bias");
  REQUIRE(bias.shape == std::vector<int64_t>{L, G, 1});
  const auto bins = z.at("pos_bins").values<int32_t>();
  REQUIRE(bins == std::vector<int32_t>{0});
  const auto bv = bias.values<float>();
  std::vector<float> sorted(bv.begin(), bv.end());
  std::sort(sorted.begin(), sorted.end());
  float gap = 1e9f;
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i] > sorted[i - 1]) gap = std::min(gap, sorted[i] - sorted[i - 1]);
  const double metric_range = 1.0;  // the synthetic metrics below are in [0, 1)
  const auto table = capped(t.tables[0].budgets, T);
  const int64_t evict = int64_t(n) * T - std::accumulate(table.begin(), table.end(), int64_t(0));
  auto evicted_per_head = [&](double weight) {
    std::vector<std::pair<double, int>> m;  // (metric + weight x bias, head)
    uint64_t x = 42;
    for (int p = 0; p < n; ++p)
      for (int pos = 0; pos < T - protected_tail; ++pos) {  // the tail is protected (+inf): never evicted
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        const int bin = int(std::upper_bound(bins.begin(), bins.end(), pos) - bins.begin()) - 1;
        m.push_back({double(x >> 11) / double(1ULL << 53) + weight * bv[size_t(p) * bins.size() + bin], p});
      }
    std::sort(m.begin(), m.end());
    std::vector<int64_t> e(n, 0);
    for (int64_t i = 0; i < evict; ++i) ++e[m[i].second];
    return e;
  };
  const auto e = evicted_per_head(2.0 * metric_range / gap);
  int partly = 0;
  for (int p = 0; p < n; ++p) {
    partly += e[p] > 0 && e[p] < T - protected_tail;
    for (int q = 0; q < n; ++q)
      if (table[q] < table[p] && e[p] > 0) CHECK(e[q] == T - protected_tail);  // smaller budgets go first
  }
  CHECK(partly <= 1);
  // With no weight the order is lost: many heads are cut partly.
  const auto e0 = evicted_per_head(0.0);
  int partly0 = 0;
  for (int p = 0; p < n; ++p) partly0 += e0[p] > 0 && e0[p] < T - protected_tail;
  CHECK(partly0 > 10);
}

TEST_CASE("consumers: per-layer lists in SnapKV, kvpress PerLayerCompressionPress, TensorRT-LLM",
          "[export][consumers]") {
  // KVCache-Factory pyramidkv/pyramidkv_utils.py SnapKVCluster.update_kv: every head of layer l keeps
  // max_capacity_prompt tokens (window included) when the prompt is at least that long.
  // kvpress presses/per_layer_compression_press.py PerLayerCompressionPress.forward_hook sets the
  // layer's ratio; presses/scorer_press.py ScorerPress.compress keeps utils.py compute_n_kept =
  // max(1, int(k_len x (1 - ratio))). TensorRT-LLM keeps the last max_attention_window tokens.
  // Tolerance: each layer's total within one token per KV head of the table's (integer layer means,
  // the global total exact); the per-head shape is beyond these engines.
  const BudgetTable t = ssv_table();
  const int L = 30, G = 3;
  const auto dir = tmp_dir("layers");
  for (int T : {800, 8000}) {
    write_layer_lists(t, (dir / "l.json").string(), T);
    const auto j = nlohmann::json::parse(read_file_bytes((dir / "l.json").string()));
    for (size_t k = 0; k < t.tables.size(); ++k) {
      INFO("T " << T << " table " << k);
      const auto& o = j["tables"][k];
      const auto mcp = o["max_capacity_prompts"].get<std::vector<int64_t>>();
      const auto ratios = o["kvpress_compression_ratios"].get<std::vector<double>>();
      const auto window = o["max_attention_window"].get<std::vector<int64_t>>();
      const auto table_layers = layer_totals(t.tables[k].budgets, L, G);
      int64_t snap_sum = 0, table_sum = 0;
      for (int il = 0; il < L; ++il) {
        const int64_t snap = T < mcp[il] ? T : mcp[il];
        const int64_t press = ratios[il] == 0 ? T : std::max<int64_t>(1, int64_t(T * (1 - ratios[il])));
        const int64_t trt = std::min<int64_t>(window[il], T);
        CHECK(press == std::min<int64_t>(mcp[il], T));
        CHECK(trt == std::min<int64_t>(mcp[il], T));
        CHECK(std::abs(snap * G - table_layers[il]) < G);
        snap_sum += snap * G, table_sum += table_layers[il];
      }
      CHECK(snap_sum == table_sum);
    }
  }
}

TEST_CASE("consumers: exports.json lists every file with the settings the tests above use",
          "[export][consumers]") {
  const BudgetTable t = ssv_table();
  const auto dir = tmp_dir("manifest");
  ExportOptions o;
  o.reference_length = 2000;
  o.headkv_beta = 1.5;
  const auto files = export_all(t, dir.string(), o);
  const auto m = nlohmann::json::parse(read_file_bytes((dir / "exports.json").string()));
  CHECK(m["format"] == "cokv.exports.v1");
  CHECK(m["reference_length"] == 2000);
  for (const auto& f : files) CHECK(fs::exists(f));
  for (const auto& e : m["files"]) CHECK(fs::exists(dir / e["file"].get<std::string>()));
  // HeadKV settings reproduce the table (checked above with the same rule).
  const auto& hk = m["files"][1];
  REQUIRE(hk["file"] == "headkv_budgets.64.json");
  CHECK(hk["settings"]["HeadKV"]["max_capacity_prompts"] == 64);
  CHECK(hk["settings"]["HeadKV"]["beta"] == 1.5);
  CHECK(hk["settings"]["KVCache-Factory"]["max_capacity_prompts"] == 56);
  const auto values = json_head_means((dir / "headkv_budgets.64.json").string());
  CHECK(headkv_kept(values, 30, 9, 64, 8, 1.5, 1.0, 100000) ==
        per_query_head(t, capped(t.tables[0].budgets, 100000)));
  // LU-KV: the listed compression ratios select the tables.
  const auto curve = npy::load((dir / "lukv_curve.npy").string());
  for (const auto& e : m["files"])
    if (e["file"] == "lukv_curve.npy")
      for (size_t k = 0; k < 2; ++k)
        CHECK(lukv_kept(curve, e["tables"][k]["compression_ratio"], 30, 3, 2000) ==
              capped(t.tables[k].budgets, 2000));
}

TEST_CASE("consumers: cokv-profile export re-exports a table file", "[export][consumers]") {
  const BudgetTable t = ssv_table();
  const auto dir = tmp_dir("cli");
  write_budget_table((dir / "x.budget.json").string(), t);
  const std::string cmd = std::string(COKV_BUILD_DIR) + "/cokv-profile export " +
                          (dir / "x.budget.json").string() + " --out " + (dir / "out").string() +
                          " --reference-length 3000 --headkv-beta 2 > " + (dir / "log").string() + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const auto m = nlohmann::json::parse(read_file_bytes((dir / "out" / "exports.json").string()));
  CHECK(m["reference_length"] == 3000);
  CHECK(m["files"][1]["settings"]["HeadKV"]["beta"] == 2.0);
  CHECK(fs::exists(dir / "out" / "duo_attention.128" / "full_attention_heads.tsv"));
  const std::string bad = std::string(COKV_BUILD_DIR) + "/cokv-profile export " +
                          (dir / "missing.json").string() + " --out " + (dir / "out2").string() + " > " +
                          (dir / "log2").string() + " 2>&1";
  CHECK(std::system(bad.c_str()) != 0);
  CHECK_THAT(read_file_bytes((dir / "log2").string()), Catch::Contains("missing.json"));
}
