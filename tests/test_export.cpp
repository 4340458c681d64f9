// Exports for other engines, each parsed back and shape-checked: HeadKV key order and count,
// DuoAttention tsv rows/cols and config, LU-KV [99, L, G] with exact per-slice and per-layer
// totals, KV-Compress npz members, per-layer lists.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/npy.h"
#include "export/exports.h"

namespace fs = std::filesystem;
using namespace cokv;

namespace {

fs::path tmp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("cokv-test-export-" + std::to_string(::getpid())) / name;
  fs::create_directories(d);
  return d;
}

// Removes this file's temp folder when the test binary exits.
struct TempCleanup {
  ~TempCleanup() {
    std::error_code ec;
    fs::remove_all(fs::temp_directory_path() / ("cokv-test-export-" + std::to_string(::getpid())), ec);
  }
} temp_cleanup;

BudgetTable smol_table() {
  BudgetTable t;
  t.model = {"SmolLM2-135M-Instruct", "llama", 30, 9, 3, 64, ""};
  t.method = {{"name", "cokv-ssv"}};
  t.scores.resize(90);
  for (int p = 0; p < 90; ++p) t.scores[p] = std::sin(p * 0.7) * 0.05 - 0.01 * (p % 4);
  t.window = 8;
  for (int mean : {64, 128}) t.tables.push_back({double(mean), 10, allocate_cokv(t.scores, mean, 8, 10), {}});
  return t;
}

}  // namespace

TEST_CASE("export: HeadKV JSON keys over query heads, layer-major, group-repeated", "[export]") {
  const auto t = smol_table();
  const std::string p = (tmp_dir("headkv") / "h.json").string();
  write_headkv_json(t, p);
  const std::string text = read_file_bytes(p);
  REQUIRE(text.find('\n') == std::string::npos);  // one line
  const auto j = nlohmann::ordered_json::parse(text);
  REQUIRE(j.size() == size_t(30 * 9));
  int k = 0;
  for (auto it = j.begin(); it != j.end(); ++it, ++k) {
    const int il = k / 9, h = k % 9;
    REQUIRE(it.key() == std::to_string(il) + "-" + std::to_string(h));
    REQUIRE(it.value().is_array());
    REQUIRE(it.value().size() == 1);
    REQUIRE(it.value()[0].get<double>() == t.scores[il * 3 + h / 3]);  // query head h is in KV group h/3
  }
  write_headkv_json(t, p, true);
  const auto n = nlohmann::ordered_json::parse(read_file_bytes(p));
  double lo = 2, hi = -1;
  for (auto& v : n) lo = std::min(lo, v[0].get<double>()), hi = std::max(hi, v[0].get<double>());
  REQUIRE(lo == 0.0);
  REQUIRE(hi == 1.0);
}

TEST_CASE("export: DuoAttention folder", "[export]") {
  const auto t = smol_table();
  const auto dir = tmp_dir("duo") / "d";
  write_duo_attention(t, dir.string(), 4, 256);
  std::istringstream in(read_file_bytes((dir / "full_attention_heads.tsv").string()));
  std::string line;
  int rows = 0;
  double lo = 2, hi = -1;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string cell;
    int cols = 0;
    while (std::getline(ls, cell, '\t')) {
      const double v = std::stod(cell);
      REQUIRE(v >= 0.0);
      REQUIRE(v <= 1.0);
      lo = std::min(lo, v), hi = std::max(hi, v);
      ++cols;
    }
    REQUIRE(cols == 3);
    ++rows;
  }
  REQUIRE(rows == 30);
  REQUIRE(lo == 0.0);
  REQUIRE(hi == 1.0);
  const auto cfg = nlohmann::json::parse(read_file_bytes((dir / "config.json").string()));
  REQUIRE(cfg["sink_size"] == 4);
  REQUIRE(cfg["recent_size"] == 256);
}

TEST_CASE("export: LU-KV curve [99, L, G] with exact totals", "[export]") {
  const auto t = smol_table();
  const int T = 8000, n = 90;
  const AllocRule rule = default_export_rule(t);
  REQUIRE(rule.kind == AllocRule::Kind::cokv);
  REQUIRE(rule.alpha == 10);
  const auto a = lukv_curve(t, rule, T);
  REQUIRE(a.dtype == npy::Dtype::f4);
  REQUIRE(a.shape == std::vector<int64_t>{99, 30, 3});
  const auto v = a.values<float>();
  // The tables' own slices (64: 99.2% -> 99, 128: 98.4% -> 98) hold the tables: test_export_consumers.
  REQUIRE(lukv_slice(64, T) == 99);
  REQUIRE(lukv_slice(128, T) == 98);
  for (int r = 1; r <= 97; ++r) {
    INFO("ratio " << r);
    const int64_t total = (int64_t(n) * T * (100 - r) + 50) / 100;
    // Re-running the allocator at this ratio gives exactly this slice.
    const auto c = allocate_rule(rule, t.scores, total, t.window, T);
    int64_t sum = 0;
    std::vector<int64_t> layer(30, 0);
    double mean_p = 0;
    for (int p = 0; p < n; ++p) {
      const float pr = v[size_t(r - 1) * n + p];
      REQUIRE(pr >= 0.0f);
      REQUIRE(pr <= 1.0f);
      const int64_t kept = std::llround((1.0 - pr) * T);  // what LUKVPress computes at seq_len T
      REQUIRE(kept == c[p]);
      sum += kept;
      layer[p / 3] += kept;
      mean_p += pr / n;
    }
    REQUIRE(sum == total);
    REQUIRE(layer == layer_totals(c, 30, 3));
    REQUIRE(mean_p == Approx(r / 100.0).margin(1e-5));
  }
  // Higher compression never gives any head more tokens (the rule is monotone here, and each table
  // lies between its neighbouring slices: its percent rounds to its slice).
  for (int r = 2; r <= 99; ++r)
    for (int p = 0; p < n; ++p) REQUIRE(v[size_t(r - 1) * n + p] >= v[size_t(r - 2) * n + p] - 1e-6f);
}

TEST_CASE("export: export_all writes every format; npz members and layer lists", "[export]") {
  const auto t = smol_table();
  const auto dir = tmp_dir("all") / "out";
  const auto files = export_all(t, dir.string());
  // headkv x 3, duo x 2 x 3, lukv, kv_compress x 3, layer lists, exports.json
  REQUIRE(files.size() == 3 + 6 + 1 + 3 + 1 + 1);
  for (const auto& f : files) {
    INFO(f);
    REQUIRE(fs::exists(f));
    REQUIRE(fs::file_size(f) > 0);
  }
  const auto z = npy::load_npz((dir / "kv_compress_bias.npz").string());
  REQUIRE(z.size() == 2);
  REQUIRE(z.at("bias").dtype == npy::Dtype::f4);
  REQUIRE(z.at("bias").shape == std::vector<int64_t>{30, 3, 1});
  const auto bias = z.at("bias").values<float>();
  REQUIRE(*std::max_element(bias.begin(), bias.end()) == 0.0f);
  REQUIRE(*std::min_element(bias.begin(), bias.end()) == Approx(std::log(1e-3)));
  REQUIRE(z.at("pos_bins").shape == std::vector<int64_t>{1});
  REQUIRE(z.at("pos_bins").values<int32_t>() == std::vector<int32_t>{0});

  const auto lj = nlohmann::json::parse(read_file_bytes((dir / "layer_budgets.json").string()));
  REQUIRE(lj["tables"].size() == 2);
  for (size_t k = 0; k < 2; ++k) {
    const auto& o = lj["tables"][k];
    const auto mcp = o["max_capacity_prompts"].get<std::vector<int>>();
    REQUIRE(mcp.size() == 30);
    REQUIRE(o["kvpress_compression_ratios"].size() == 30);
    REQUIRE(o["max_attention_window"].size() == 30);
    int64_t s = 0;
    for (int x : mcp) s += x;
    REQUIRE(s == int64_t(30) * o["mean_budget"].get<int>());
    for (int il = 0; il < 30; ++il) {
      const auto lt = layer_totals(t.tables[k].budgets, 30, 3)[il];
      REQUIRE(std::abs(mcp[il] - lt / 3.0) < 1.0);  // per-layer mean, rounded
      // kvpress truncates 8000 x (1 - ratio): the half token lands it on mcp.
      REQUIRE(o["kvpress_compression_ratios"][il].get<double>() == Approx(1.0 - (mcp[il] + 0.5) / 8000.0));
    }
  }
}
