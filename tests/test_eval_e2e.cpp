// cokv-eval run end to end on the real default model and the tiny LongBench-format fixture
// tests/data/eval (2 datasets x 3 short records): outputs exist and parse, one prediction per
// record x method x budget, full-cache predictions equal a separate full-only run (batching does
// not change outputs), KV bytes ordered by budget, AdaKV's total equals uniform's, resume skips
// everything, a settings change is refused, the cokv-eval binary runs and `cokv-eval score`
// reproduces scores.json.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/paths.h"
#include "core/sha256.h"
#include "data/records.h"
#include "data/suite.h"
#include "eval/eval_run.h"
#include "kv/budget_table.h"
#include "model_fixture.h"
#include "runtime/cpu_backend.h"
#include "runtime/prefill.h"
#include "report/gnuplot.h"
#include "report/heatmap.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path scratch(const std::string& name) {
  fs::path p = fs::path(COKV_BUILD_DIR) / "test-scratch" / "eval-e2e" / name;
  fs::remove_all(p);
  fs::create_directories(p.parent_path());
  return p;
}

std::vector<json> read_lines(const fs::path& p) {
  std::vector<json> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

std::string key(const json& j) {
  return j["dataset"].get<std::string>() + "/" + j["_id"].get<std::string>() + "/" +
         j["method"].get<std::string>() + "/" + std::to_string(j["budget"].get<int>());
}

cokv::EvalRunOptions base_options(const fs::path& out) {
  cokv::EvalRunOptions o;
  o.benchmark_dir = std::string(COKV_SOURCE_DIR) + "/tests/data/eval";
  o.dataset_table = cokv::configs_dir() + "/longbench.json";
  o.datasets = {"trec", "hotpotqa"};
  o.methods = {"full", "uniform", "adakv", "streaming"};
  o.budgets = {16, 32};
  o.split = cokv::SplitPart::All;
  o.max_new_cap = 6;
  o.out_dir = out.string();
  return o;
}

}  // namespace

TEST_CASE("cokv-eval run: outputs, resume, full-only parity, binary and rescoring", "[e2e][eval][model]") {
  const cokv::Model& m = cokv_test::default_model();
  cokv::CpuBackend backend(m);
  const fs::path out1 = scratch("run1");
  // A cokv-profile-style table file: one level at mean 16 (heads alternate 8 and 24).
  const int n = m.cfg.n_kv_players();
  cokv::BudgetTable bt;
  bt.model = {m.cfg.name, m.cfg.arch, m.cfg.n_layers, m.cfg.n_heads, m.cfg.n_kv_heads, m.cfg.head_dim, ""};
  bt.method = {{"name", "cokv"}};
  bt.scores.assign(n, 0.0);
  bt.window = 8;
  cokv::BudgetLevel lv;
  lv.mean_budget = 16;
  for (int p = 0; p < n; ++p) lv.budgets.push_back(p % 2 ? 24 : 8);
  bt.tables.push_back(lv);
  fs::create_directories(out1.parent_path());
  const std::string table_path = (out1.parent_path() / "table.json").string();
  cokv::write_budget_table(table_path, bt);
  cokv::EvalRunOptions o = base_options(out1);
  o.tables = {table_path};
  o.latency_records = 1;
  const auto s1 = cokv::run_eval(backend, o);
  CHECK(s1.n_records == 6);
  CHECK(s1.n_records_run == 6);
  const int n_methods = 1 + 3 * 2 + 1;
  CHECK(s1.n_predictions_new == 6 * n_methods);

  for (const char* f : {"predictions.jsonl", "scores.json", "results.md", "run.json", "latency.json"})
    CHECK(fs::exists(out1 / f));
  if (cokv::gnuplot_available()) {
    CHECK(fs::file_size(out1 / "score_vs_budget.png") > 1000);
    CHECK(fs::file_size(out1 / "score_vs_budget.svg") > 1000);
  }
  const auto preds = read_lines(out1 / "predictions.jsonl");
  REQUIRE(preds.size() == size_t(6 * n_methods));
  std::map<std::string, json> by_key;
  for (const auto& p : preds) {
    for (const char* f :
         {"pred", "answers", "all_classes", "dataset", "_id", "method", "budget", "kv_bytes", "score"})
      REQUIRE(p.contains(f));
    CHECK(by_key.emplace(key(p), p).second);  // no duplicates
    if (p["dataset"] == "trec") CHECK(p["all_classes"].size() == 4);
    CHECK(p["gen_tokens"].get<int>() <= 6);
  }
  // KV bytes per record: budget 16 < budget 32 < full; AdaKV and StreamingLLM keep as many
  // tokens as uniform at the same mean budget.
  for (const auto& p : preds) {
    if (p["method"] != "full") continue;
    const std::string base = p["dataset"].get<std::string>() + "/" + p["_id"].get<std::string>() + "/";
    const size_t full = p["kv_bytes"];
    const size_t u16 = by_key.at(base + "uniform/16")["kv_bytes"],
                 u32 = by_key.at(base + "uniform/32")["kv_bytes"];
    CHECK(u16 < u32);
    CHECK(u32 < full);
    CHECK(full == size_t(p["prompt_tokens"].get<int>()) * m.cfg.n_kv_players() * 2 * m.cfg.head_dim * 4);
    // The table keeps as many tokens as uniform at its mean (every head has >= 24 tokens).
    CHECK(by_key.at(base + "cokv/16")["kv_bytes"] == u16);
    for (const char* meth : {"adakv", "streaming"})
      for (int b : {16, 32})
        CHECK(by_key.at(base + meth + "/" + std::to_string(b))["kv_bytes"] ==
              by_key.at(base + "uniform/" + std::to_string(b))["kv_bytes"]);
  }

  // scores.json: every method@budget, per-dataset scores equal to the predictions' mean.
  const json scores = json::parse(cokv::read_file_bytes((out1 / "scores.json").string()));
  CHECK(scores["format"] == "cokv.eval_scores.v1");
  REQUIRE(scores["results"].size() == size_t(n_methods));
  CHECK(scores["results"][0]["method"] == "full");
  CHECK(scores["latency"].size() == size_t(n_methods));
  CHECK(scores["latency"][0]["decode_ms_per_token"].get<double>() > 0);
  const std::string md = cokv::read_file_bytes((out1 / "results.md").string());
  CHECK(md.find("| Method | trec | hotpotqa | Avg. |") != std::string::npos);
  CHECK(md.find("| uniform@16 |") != std::string::npos);
  CHECK(md.find("## Latency") != std::string::npos);

  // Full-only run: the same full-cache predictions and scores.
  const fs::path out2 = scratch("full-only");
  cokv::EvalRunOptions o2 = base_options(out2);
  o2.methods = {"full"};
  o2.plots = false;
  cokv::run_eval(backend, o2);
  const auto preds2 = read_lines(out2 / "predictions.jsonl");
  REQUIRE(preds2.size() == 6);
  for (const auto& p : preds2) {
    INFO(key(p));
    CHECK(p["pred"] == by_key.at(key(p))["pred"]);
    CHECK(p["score"] == by_key.at(key(p))["score"]);
  }
  const json scores2 = json::parse(cokv::read_file_bytes((out2 / "scores.json").string()));
  CHECK(scores2["results"][0]["scores"] == scores["results"][0]["scores"]);

  // Resume: nothing new, same file, same scores.
  const std::string before = cokv::read_file_bytes((out1 / "predictions.jsonl").string());
  o.latency_records = 0;  // keeps latency.json from the first run
  const auto s3 = cokv::run_eval(backend, o);
  CHECK(s3.n_records_run == 0);
  CHECK(s3.n_predictions_new == 0);
  CHECK(s3.n_predictions_kept == 6 * n_methods);
  CHECK(cokv::read_file_bytes((out1 / "predictions.jsonl").string()) == before);
  const json scores3 = json::parse(cokv::read_file_bytes((out1 / "scores.json").string()));
  CHECK(scores3["results"] == scores["results"]);
  CHECK(scores3["latency"] == scores["latency"]);
  // A crash mid-line: the cut line is dropped and redone.
  {
    std::string cut = before.substr(0, before.size() - 20);
    std::ofstream(out1 / "predictions.jsonl", std::ios::binary) << cut;
    const auto s4 = cokv::run_eval(backend, o);
    CHECK(s4.n_predictions_new == 1);
    CHECK(read_lines(out1 / "predictions.jsonl").size() == preds.size());
  }
  // Different settings into the same folder: refused.
  cokv::EvalRunOptions bad = o;
  bad.window = 4;
  CHECK_THROWS_WITH(cokv::run_eval(backend, bad), Catch::Contains("settings.window"));

  // The binary: a smaller run, and rescoring the first run's predictions.
  const std::string exe = std::string(COKV_BUILD_DIR) + "/cokv-eval";
  INFO("the cokv-eval binary (build the cokv-eval target): " << exe);
  REQUIRE(fs::exists(exe));
  const fs::path out5 = scratch("binary");
  const std::string cmd =
      exe + " run --model '" + m.path + "' --longbench '" + COKV_SOURCE_DIR +
      "/tests/data/eval' --datasets trec,hotpotqa --methods full,uniform --budgets 16 --split all "
      "--max-records 1 --max-new 6 --no-plots --out '" +
      out5.string() + "' > '" + (out5.string() + ".stdout") + "' 2> '" + out5.string() + ".stderr'";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const auto preds5 = read_lines(out5 / "predictions.jsonl");
  CHECK(preds5.size() == 2 * 1 * 2);
  for (const auto& p : preds5) CHECK(p["pred"] == by_key.at(key(p))["pred"]);
  CHECK(cokv::read_file_bytes(out5.string() + ".stdout").find("| uniform@16 |") != std::string::npos);

  const std::string rescore = (out1 / "rescore.json").string();
  REQUIRE(std::system((exe + " score '" + (out1 / "predictions.jsonl").string() + "' --json '" + rescore +
                       "' > /dev/null")
                          .c_str()) == 0);
  const json rs = json::parse(cokv::read_file_bytes(rescore));
  REQUIRE(rs["groups"].size() == size_t(n_methods));
  for (size_t k = 0; k < rs["groups"].size(); ++k) {
    const json& g = rs["groups"][k];
    const json& r = scores["results"][k];
    CHECK(g["method"] == r["method"]);
    CHECK(g["budget"] == r["budget"]);
    CHECK(g["scores"] == r["scores"]);
    CHECK(g["average"] == r["average"]);
  }
}

namespace {

// A one-level table for the default model: heads alternate `lo` and `hi` tokens.
cokv::BudgetTable alternating_table(const cokv::Model& m, const std::string& sha, int lo, int hi) {
  const int n = m.cfg.n_kv_players();
  cokv::BudgetTable bt;
  bt.model = {m.cfg.name, m.cfg.arch, m.cfg.n_layers, m.cfg.n_heads, m.cfg.n_kv_heads, m.cfg.head_dim, sha};
  bt.method = {{"name", "cokv"},
               {"convergence", {{"met", false}}},
               {"convergence_statement", "chain MAE 0.287 against the 1/n target 0.0111: not converged"}};
  bt.task = {{"chat", "longbench"}, {"max_length", 8000}};
  bt.scores.assign(n, 0.0);
  bt.window = 8;
  cokv::BudgetLevel lv;
  lv.mean_budget = (lo + hi) / 2.0;
  for (int p = 0; p < n; ++p) lv.budgets.push_back(p % 2 ? hi : lo);
  bt.tables.push_back(lv);
  return bt;
}

// log p(answer | prompt) by repeated full forward passes (the prefill's last-position logits),
// independent of the batched decoder; mean per answer token.
double reference_loglik(const cokv::Model& m, std::vector<int32_t> toks, const std::vector<int32_t>& answer) {
  double sum = 0;
  for (int32_t a : answer) {
    cokv::PrefillOptions po;
    po.keep_kv = false;
    const auto p = cokv::prefill(m, toks, po);
    const float mx = *std::max_element(p.logits.begin(), p.logits.end());
    double z = 0;
    for (float l : p.logits) z += std::exp(double(l - mx));
    sum += double(p.logits[a] - mx) - std::log(z);
    toks.push_back(a);
  }
  return sum / double(answer.size());
}

}  // namespace

TEST_CASE("cokv-eval run: tables bound to their model, changed tables recomputed, loglik utility",
          "[e2e][eval][model]") {
  const cokv::Model& m = cokv_test::default_model();
  cokv::CpuBackend backend(m);
  const std::string sha = cokv::sha256_file_hex(m.path);
  const fs::path out = scratch("bound");
  fs::create_directories(out.parent_path());
  const std::string table_path = (out.parent_path() / "bound-table.json").string();
  cokv::EvalRunOptions o = base_options(out);
  o.datasets = {"trec"};
  o.methods = {"full"};
  o.max_records = 2;
  o.max_new_cap = 4;
  o.plots = false;
  o.tables = {table_path};

  // A table whose model hash was edited: refused, naming both files and both hashes.
  const std::string other(64, 'a');
  cokv::write_budget_table(table_path, alternating_table(m, other, 8, 24));
  CHECK_THROWS_WITH(cokv::run_eval(backend, o), Catch::Contains(table_path) && Catch::Contains(other) &&
                                                    Catch::Contains(sha) && Catch::Contains(m.path) &&
                                                    Catch::Contains("--allow-model-mismatch"));
  // Overridden: evaluated, with a warning; the other prompt format is said too.
  o.allow_model_mismatch = true;
  const auto s0 = cokv::run_eval(backend, o);
  CHECK(s0.n_predictions_new == 2 * 2);
  std::string notes;
  for (const auto& n : s0.notes) notes += n + "\n";
  CHECK_THAT(notes, Catch::Contains("--allow-model-mismatch") && Catch::Contains("chat template policy 'longbench'") &&
                        Catch::Contains("did not converge (chain MAE 0.287"));
  CHECK(cokv::read_file_bytes((out / "results.md").string()).find("## Notes") != std::string::npos);

  // The same file name with other budgets: its rows are recomputed, the full cache's reused.
  fs::remove_all(out);
  o.allow_model_mismatch = false;
  cokv::write_budget_table(table_path, alternating_table(m, sha, 8, 24));
  const auto s1 = cokv::run_eval(backend, o);
  CHECK(s1.n_predictions_new == 4);
  cokv::write_budget_table(table_path, alternating_table(m, sha, 12, 20));
  const auto s2 = cokv::run_eval(backend, o);
  CHECK(s2.n_predictions_new == 2);
  CHECK(s2.n_predictions_kept == 2);
  notes.clear();
  for (const auto& n : s2.notes) notes += n + "\n";
  CHECK_THAT(notes, Catch::Contains("cokv@16") && Catch::Contains("recomputed"));
  const json sc = json::parse(cokv::read_file_bytes((out / "scores.json").string()));
  for (const auto& r : sc["results"]) CHECK(r["records"] == 2);  // the stale rows do not count

  // --utility loglik: the mean answer log-likelihood per method; the full cache's equals repeated
  // plain forward passes.
  const fs::path out_ll = scratch("loglik");
  cokv::EvalRunOptions l = o;
  l.out_dir = out_ll.string();
  l.utility = cokv::Utility::Loglik;
  l.methods = {"full", "uniform"};
  l.budgets = {16};
  cokv::run_eval(backend, l);
  const auto preds = read_lines(out_ll / "predictions.jsonl");
  REQUIRE(preds.size() == 2 * 3);
  const cokv::Suite suite = cokv::open_suite(l.benchmark_dir, l.dataset_table);
  const auto records = cokv::longbench::read_records(suite.dataset("trec").data_path);
  cokv::SampleOptions so;
  for (const auto& p : preds) {
    REQUIRE(p.contains("loglik"));
    CHECK_FALSE(p.contains("score"));
    CHECK(p["loglik"].get<double>() < 0);
    if (p["method"] != "full") continue;
    for (const auto& r : records)
      if (r.id == p["_id"].get<std::string>()) {
        const cokv::Sample s = cokv::make_sample(m, r, suite.dataset("trec"), so);
        // Decode and the plain forward sum in other orders: fp32 rounding, a few 1e-5 at most.
        CHECK(p["loglik"].get<double>() == Approx(reference_loglik(m, s.prompt, s.answer_tokens)).margin(1e-4));
      }
  }
  const std::string md = cokv::read_file_bytes((out_ll / "results.md").string());
  CHECK(md.find("## Answer log-likelihood") != std::string::npos);
  const json ls = json::parse(cokv::read_file_bytes((out_ll / "scores.json").string()));
  CHECK(ls["settings"]["utility"] == "loglik");
  // Another utility into the same folder is refused.
  l.utility = cokv::Utility::Metric;
  CHECK_THROWS_WITH(cokv::run_eval(backend, l), Catch::Contains("settings.utility"));
}
