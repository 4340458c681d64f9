// cokv-eval building blocks without a model: the method list, benchmark folders (local-suite
// and LongBench layouts), grouped rescoring of cokv-eval predictions, line plots. (AdaKV and
// PyramidKV budgets: test_allocation.cpp.)
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/paths.h"
#include "data/score_file.h"
#include "data/suite.h"
#include "eval/methods.h"
#include "report/gnuplot.h"
#include "report/heatmap.h"
#include "report/lineplot.h"

namespace fs = std::filesystem;
using namespace cokv;

namespace {

fs::path scratch(const std::string& name) {
  fs::path p = fs::path(COKV_BUILD_DIR) / "test-scratch" / "eval" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void write(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << s;
}

}  // namespace

TEST_CASE("method list: full once, built-ins x budgets, errors", "[eval]") {
  ModelConfig cfg;
  cfg.n_layers = 2;
  cfg.n_heads = 6;
  cfg.n_kv_heads = 3;
  cfg.head_dim = 4;
  const auto ms = build_method_list({"uniform", "full", "adakv", "full"}, {32, 64}, {}, cfg);
  REQUIRE(ms.size() == 5);
  CHECK(ms[0].label == "full");
  CHECK(ms[0].budget == 0);
  CHECK(ms[1].label == "uniform");
  CHECK(ms[2].budget == 64);
  CHECK(ms[4].label == "adakv");
  CHECK_THROWS_WITH(build_method_list({"h2o"}, {32}, {}, cfg), Catch::Contains("full, uniform, adakv"));

  // Budget tables: every level is a method at its mean; repeated labels get the alpha; the
  // model shape is checked.
  BudgetTable t;
  t.model = {"m", "llama", 2, 6, 3, 4, ""};
  t.method = {{"name", "cokv"}};
  t.scores = {1, 2, 3, 4, 5, 6};
  t.window = 8;
  for (int alpha : {1, 5}) {
    BudgetLevel lv;
    lv.mean_budget = 16;
    lv.alpha = alpha;
    lv.budgets = {8, 8, 16, 16, 24, 24};
    t.tables.push_back(lv);
  }
  const fs::path dir = scratch("tables");
  write_budget_table((dir / "t.json").string(), t);
  const auto tm = build_method_list({"full"}, {}, {(dir / "t.json").string()}, cfg);
  REQUIRE(tm.size() == 3);
  CHECK(tm[1].kind == MethodKind::Table);
  CHECK(tm[1].label == "cokv");
  CHECK(tm[1].budget == 16);
  CHECK(tm[1].table == std::vector<int>{8, 8, 16, 16, 24, 24});
  CHECK(tm[2].label == "cokv-a5");
  ModelConfig other = cfg;
  other.n_layers = 3;
  CHECK_THROWS_WITH(build_method_list({}, {}, {(dir / "t.json").string()}, other),
                    Catch::Contains("n_layers"));
  CHECK_THROWS_AS(build_method_list({"uniform"}, {}, {}, cfg), Error);
}

TEST_CASE("benchmark folders: local-suite configs and LongBench checkout layout", "[eval]") {
  const fs::path suite = scratch("suite");
  write(suite / "config" / "dataset2prompt.json",
        R"({"passkey": "{context} {input}", "fortune_topic": "{context}\n{input}"})");
  write(suite / "config" / "dataset2maxlen.json", R"({"passkey": 16, "fortune_topic": 16})");
  write(suite / "config" / "dataset2metric.json",
        R"({"passkey": "count", "fortune_topic": "classification"})");
  write(suite / "config" / "dataset2style.json",
        R"({"passkey": {"analog": "passage_count", "chat_template": true, "first_line": false},
            "fortune_topic": {"analog": "trec", "chat_template": false, "first_line": true}})");
  write(suite / "config" / "categories.json", R"({"synthetic": ["passkey"], "few_shot": ["fortune_topic"]})");
  write(suite / "data" / "passkey.jsonl", "\n");
  const std::string table = configs_dir() + "/longbench.json";
  const Suite b = open_suite(suite.string(), table);
  REQUIRE(b.datasets.size() == 2);
  const auto& pk = b.dataset("passkey").info;
  CHECK(pk.metric == longbench::Metric::Count);
  CHECK(pk.category == "synthetic");
  CHECK(pk.max_new_tokens == 16);
  CHECK(pk.chat_template);
  const auto& ft = b.dataset("fortune_topic").info;
  CHECK(ft.first_line);
  CHECK_FALSE(ft.chat_template);
  CHECK(b.select({}, "synthetic") == std::vector<std::string>{"passkey"});
  CHECK(b.select({"all"}, "") == std::vector<std::string>{"passkey"});  // those with data, config order
  // fortune_topic has no data file: an error when named, and its category selects nothing.
  CHECK_THROWS_WITH(b.select({"fortune_topic"}, ""), Catch::Contains("data file"));
  CHECK_THROWS_WITH(b.select({}, "few_shot"), Catch::Contains("at least one dataset"));
  CHECK_THROWS_WITH(b.select({"nope"}, ""), Catch::Contains("dataset 'nope'"));
  CHECK_THROWS_WITH(b.select({}, "nope"), Catch::Contains("category 'nope'"));

  // LongBench layout: only prompts and maxlen; the rest from configs/longbench.json.
  const Suite lb = open_suite(std::string(COKV_SOURCE_DIR) + "/tests/data/eval", table);
  CHECK(lb.dataset("trec").info.metric == longbench::Metric::Classification);
  CHECK(lb.dataset("trec").info.first_line);
  CHECK(lb.dataset("hotpotqa").info.category == "multi_doc_qa");
  CHECK(lb.dataset("hotpotqa").info.max_new_tokens == 32);
  CHECK(lb.select({}, "few_shot") == std::vector<std::string>{"trec"});
  CHECK(lb.select({"all"}, "") == std::vector<std::string>{"hotpotqa", "trec"});  // LongBench's order
  CHECK_THROWS_WITH(open_suite(scratch("empty").string(), table), Catch::Contains("dataset2prompt.json"));
}

TEST_CASE("score: cokv-eval predictions group by method and budget, metric from the record", "[eval]") {
  const fs::path dir = scratch("score");
  const fs::path f = dir / "predictions.jsonl";
  std::ofstream(f)
      << R"({"pred": "12345", "answers": ["12345"], "all_classes": null, "dataset": "passkey", "_id": "a", "method": "full", "budget": 0, "metric": "count", "first_line": false}
{"pred": "no", "answers": ["12345"], "all_classes": null, "dataset": "passkey", "_id": "a", "method": "uniform", "budget": 32, "metric": "count", "first_line": false}
{"pred": "12345 and 9", "answers": ["12345"], "all_classes": null, "dataset": "passkey", "_id": "b", "method": "full", "budget": 0, "metric": "count", "first_line": false}
{"pred": "Paris", "answers": ["Paris"], "all_classes": null, "dataset": "hotpotqa", "_id": "c", "method": "full", "budget": 0}
)";
  const auto rep = longbench::score_prediction_files({f.string()});
  REQUIRE(rep.datasets.size() == 3);
  CHECK(rep.has_methods());
  CHECK(rep.datasets[0].method == "full");
  CHECK(rep.datasets[0].n == 2);
  CHECK(rep.datasets[0].score == 75.0);  // 1 and 1/2
  CHECK(rep.datasets[1].method == "uniform");
  CHECK(rep.datasets[1].budget == 32);
  CHECK(rep.datasets[1].score == 0.0);
  CHECK(rep.average("full", 0) == 87.5);
  const auto j = nlohmann::json::parse(longbench::score_report_json(rep));
  REQUIRE(j["groups"].size() == 2);
  CHECK(j["groups"][0]["scores"]["hotpotqa"] == 100.0);
  CHECK(longbench::format_score_table(rep).find("uniform@32") != std::string::npos);
  // A non-LongBench dataset without a metric field is an error naming the way out.
  std::ofstream(f) << R"({"pred": "x", "answers": ["x"], "dataset": "passkey"})"
                   << "\n";
  CHECK_THROWS_WITH(longbench::score_prediction_files({f.string()}), Catch::Contains("'metric' field"));
}

TEST_CASE("line plots: PNG and SVG written", "[eval]") {
  if (!gnuplot_available()) {
    WARN("gnuplot is not installed: line plots not tested");
    return;
  }
  const fs::path dir = scratch("plot");
  std::vector<LineSeries> s{{"uniform", {32, 64, 128}, {10, 20, 25}},
                            {"full cache", {32, 128}, {30, 30}, {}, {}, true, false}};
  LinePlotOptions o;
  o.title = "it's a test";
  o.log2_x = true;
  write_line_plot(s, (dir / "p.png").string(), (dir / "p.svg").string(), o);
  CHECK(fs::file_size(dir / "p.png") > 1000);
  CHECK(fs::file_size(dir / "p.svg") > 1000);
  CHECK_THROWS_AS(write_line_plot({{"bad", {1, 2}, {1}}}, (dir / "q.png").string(), ""), Error);
}
