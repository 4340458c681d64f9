// cokv.budget.v1: round trip, .npy twin, and every malformed-file case named in the spec
// (format string, shapes, non-integer / NaN / negative / string budgets, budget < window,
// sums, mismatch against a model config of 30 layers x 3 KV heads).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/npy.h"
#include "kv/budget_table.h"
#include "model/config.h"
#include "kv/allocation.h"

namespace fs = std::filesystem;
using namespace cokv;
using nlohmann::json;

namespace {

fs::path tmp_dir() {
  fs::path d = fs::temp_directory_path() / ("cokv-test-bt-" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// Removes this file's temp folder when the test binary exits.
struct TempCleanup {
  ~TempCleanup() {
    std::error_code ec;
    fs::remove_all(fs::temp_directory_path() / ("cokv-test-bt-" + std::to_string(::getpid())), ec);
  }
} temp_cleanup;

// A valid SmolLM2-shaped table: 30 layers x 3 KV heads, two tables.
BudgetTable sample_table() {
  BudgetTable t;
  t.model = {"SmolLM2-135M-Instruct", "llama", 30, 9, 3, 64, std::string(64, 'a')};
  t.task = {{"category", "single_doc_qa"}, {"datasets", {"qasper"}}, {"samples", 30}};
  t.method = {{"name", "cokv-ssv"}, {"slices", {11, 22, 34, 45}}, {"seed", 42}, {"converged_mae", 0.004}};
  t.scores.resize(90);
  for (int p = 0; p < 90; ++p) t.scores[p] = ((p * 37) % 90) / 90.0 - 0.3 + p * 1e-7;
  t.score_stderr = std::vector<double>(90, 0.01);
  t.window = 8;
  t.sink = 0;
  for (int mean : {64, 128}) {
    BudgetLevel lv;
    lv.mean_budget = mean;
    lv.alpha = 10;
    lv.budgets = allocate_cokv(t.scores, mean, t.window, 10);
    t.tables.push_back(lv);
  }
  return t;
}

// Writes `j` to a file and expects read_budget_table to throw with all `needles` in the message.
void expect_bad(const json& j, const std::vector<std::string>& needles, const std::string& name) {
  const std::string path = (tmp_dir() / (name + ".json")).string();
  write_file_bytes(path, j.dump());
  INFO("case " << name);
  try {
    read_budget_table(path);
    FAIL("accepted a malformed table: " << name);
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO("message: " << msg);
    CHECK(msg.find(path) != std::string::npos);
    for (const auto& n : needles) CHECK(msg.find(n) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("budget table: write, read back, identical", "[budget_table]") {
  const auto t = sample_table();
  const std::string path = (tmp_dir() / "rt.json").string();
  write_budget_table(path, t);
  const auto b = read_budget_table(path);
  REQUIRE(b.model.n_layers == 30);
  REQUIRE(b.model.file_sha256 == t.model.file_sha256);
  REQUIRE(b.method_name() == "cokv-ssv");
  REQUIRE(b.method["slices"] == json({11, 22, 34, 45}));
  REQUIRE(b.task["category"] == "single_doc_qa");
  REQUIRE(b.scores == t.scores);  // doubles round-trip exactly through JSON
  REQUIRE(b.score_stderr.has_value());
  REQUIRE(b.tables.size() == 2);
  REQUIRE(b.tables[1].mean_budget == 128);
  REQUIRE(b.tables[1].alpha == 10);
  REQUIRE(b.tables[1].budgets == t.tables[1].budgets);
  // Human-friendly layout: one grid row per line; the whole thing is valid JSON.
  const std::string text = read_file_bytes(path);
  REQUIRE(json::parse(text)["format"] == "cokv.budget.v1");
  REQUIRE(std::count(text.begin(), text.end(), '\n') > 30 * 4);  // 4 grids of 30 rows
  // Writing again gives the same bytes.
  write_budget_table(path, b);
  REQUIRE(read_file_bytes(path) == text);
  // Extra per-table keys survive; alpha is optional.
  auto t2 = t;
  t2.tables[0].alpha.reset();
  t2.tables[0].extra = {{"floor", 16}, {"exponent", 1.5}};
  write_budget_table(path, t2);
  const auto b2 = read_budget_table(path);
  REQUIRE(!b2.tables[0].alpha);
  REQUIRE(b2.tables[0].extra["floor"] == 16);
}

TEST_CASE("budget table: .npy twins", "[budget_table]") {
  auto t = sample_table();
  const std::string path = (tmp_dir() / "twin.json").string();
  auto files = write_npy_twin(path, t);
  const std::string stem = (tmp_dir() / "twin").string();
  REQUIRE(files == std::vector<std::string>{stem + ".scores.npy", stem + ".score_stderr.npy",
                                            stem + ".budgets.64.npy", stem + ".budgets.128.npy"});
  const auto s = npy::load(files[0]);
  REQUIRE(s.dtype == npy::Dtype::f4);
  REQUIRE(s.shape == std::vector<int64_t>{30, 3});
  REQUIRE(s.values<float>()[4] == float(t.scores[4]));
  const auto b = npy::load(files[3]);
  REQUIRE(b.dtype == npy::Dtype::i4);
  REQUIRE(b.shape == std::vector<int64_t>{30, 3});
  const auto bv = b.values<int32_t>();
  REQUIRE(std::vector<int>(bv.begin(), bv.end()) == t.tables[1].budgets);
  // Two tables with the same mean get their alpha in the name.
  t.tables[1].mean_budget = 64;
  t.tables[1].alpha = 20;
  t.tables[1].budgets = allocate_cokv(t.scores, 64, 8, 20);
  files = write_npy_twin(path, t);
  REQUIRE(files[2] == stem + ".budgets.64.alpha10.npy");
  REQUIRE(files[3] == stem + ".budgets.64.alpha20.npy");
}

TEST_CASE("budget table: malformed files name file, field, expected and got", "[budget_table]") {
  const json good = budget_table_to_json(sample_table());
  auto mod = [&](auto f) {
    json j = good;
    f(j);
    return j;
  };
  expect_bad(mod([](json& j) { j["format"] = "cokv.budget.v0"; }),
             {"format", "cokv.budget.v1", "cokv.budget.v0"}, "format");
  expect_bad(mod([](json& j) { j.erase("format"); }), {"format", "missing"}, "format_missing");
  // Shapes.
  expect_bad(mod([](json& j) { j["scores"].erase(29); }), {"scores", "30 rows", "got 29 rows"},
             "scores_rows");
  expect_bad(mod([](json& j) { j["scores"][4].push_back(0.5); }), {"scores[4]", "3 values", "got 4 values"},
             "scores_cols");
  expect_bad(mod([](json& j) { j["tables"][1]["budgets"].erase(0); }), {"tables[1].budgets", "30 rows"},
             "budget_rows");
  expect_bad(mod([](json& j) {
               j["tables"][0]["budgets"][7] = {64, 64};
             }),
             {"tables[0].budgets[7]", "3 values"}, "budget_cols");
  expect_bad(mod([](json& j) { j["score_stderr"][2] = 0.1; }), {"score_stderr[2]", "a row"}, "stderr_row");
  // Non-integer, NaN (written as null by JSON encoders), negative, string budgets; below window.
  expect_bad(mod([](json& j) { j["tables"][0]["budgets"][3][1] = 12.5; }),
             {"tables[0].budgets[3][1]", "integer", "12.5"}, "budget_float");
  expect_bad(mod([](json& j) { j["tables"][0]["budgets"][3][1] = 12.0; }),
             {"tables[0].budgets[3][1]", "integer"}, "budget_float_integral");
  expect_bad(mod([](json& j) { j["tables"][0]["budgets"][3][1] = nullptr; }),
             {"tables[0].budgets[3][1]", "null"}, "budget_null");
  expect_bad(mod([](json& j) { j["tables"][0]["budgets"][3][1] = -3; }), {"tables[0].budgets[3][1]", "-3"},
             "budget_negative");
  expect_bad(mod([](json& j) { j["tables"][0]["budgets"][3][1] = "64"; }),
             {"tables[0].budgets[3][1]", "\"64\""}, "budget_string");
  expect_bad(mod([](json& j) { j["tables"][1]["budgets"][0][0] = 7; }),
             {"tables[1].budgets[0][0]", "window (8)", "got 7"}, "budget_below_window");
  expect_bad(
      mod([](json& j) { j["tables"][1]["budgets"][0][0] = j["tables"][1]["budgets"][0][0].get<int>() + 1; }),
      {"tables[1].budgets", "11520", "11521"}, "budget_sum");
  expect_bad(mod([](json& j) { j["scores"][0][0] = "high"; }), {"scores[0][0]", "finite number"},
             "score_string");
  expect_bad(mod([](json& j) { j["model"]["n_layers"] = 30.5; }), {"model.n_layers", "integer"},
             "model_float");
  expect_bad(mod([](json& j) { j["model"]["n_heads"] = 10; }), {"model.n_heads", "multiple of n_kv_heads"},
             "heads");
  expect_bad(mod([](json& j) { j["method"].erase("name"); }), {"method", "name"}, "method_name");
  expect_bad(mod([](json& j) { j["tables"][0]["mean_budget"] = "64"; }), {"tables[0].mean_budget", "number"},
             "mean_str");
  expect_bad(mod([](json& j) { j["window"] = -1; }), {"window", "-1"}, "window_negative");

  // A literal NaN (as Python's json.dump writes it) is not JSON at all.
  const std::string path = (tmp_dir() / "nan.json").string();
  std::string text = good.dump();
  text.replace(text.find("\"scores\":[[") + 11, 0, "NaN,");
  write_file_bytes(path, text);
  REQUIRE_THROWS_WITH(read_budget_table(path),
                      Catch::Contains(path) && Catch::Contains("not valid JSON") && Catch::Contains("NaN"));
  REQUIRE_THROWS_WITH(read_budget_table((tmp_dir() / "missing.json").string()),
                      Catch::Contains("missing.json"));
}

TEST_CASE("budget table: checked against a model config (30 layers x 3 KV heads)", "[budget_table]") {
  const std::string path = "tables/qasper.cokv.json";
  auto t = sample_table();
  ModelConfig cfg;
  cfg.n_layers = 30;
  cfg.n_heads = 9;
  cfg.n_kv_heads = 3;
  REQUIRE_NOTHROW(check_against_model(t, cfg, "", path));
  // A table made for a 32-layer, 8-KV-head model.
  json j = budget_table_to_json(t);
  BudgetTable big;
  big.model = {"Llama-3-8B-Instruct", "llama", 32, 32, 8, 128, ""};
  big.method = {{"name", "uniform"}};
  big.scores.assign(256, 1.0);
  big.tables.push_back({128, std::nullopt, allocate_uniform(256, 128, 8), json::object()});
  REQUIRE_THROWS_WITH(check_against_model(big, cfg, "", path),
                      Catch::Contains(path) && Catch::Contains("model.n_layers") &&
                          Catch::Contains("expected 30") && Catch::Contains("got 32"));
  big.model.n_layers = 30;
  big.scores.assign(240, 1.0);
  big.tables[0].budgets = allocate_uniform(240, 128, 8);
  REQUIRE_THROWS_WITH(check_against_model(big, cfg, "", path), Catch::Contains("model.n_kv_heads") &&
                                                               Catch::Contains("expected 3") &&
                                                               Catch::Contains("got 8"));
  REQUIRE_THROWS_WITH(check_against_model(t, 30, 3, path, 9, std::string(64, 'b')),
                      Catch::Contains("file_sha256"));
}
