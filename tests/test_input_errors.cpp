// Issue 15's "did not hold" cases, one test each: every input error names its file (and line
// or field) whatever layer found it; nothing is dropped or averaged silently; the metrics'
// memory is bounded; a bad --out or a non-regular --model costs no model load.
#include <sys/stat.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/paths.h"
#include "core/sha256.h"
#include "data/metrics.h"
#include "data/score_file.h"
#include "data/suite.h"
#include "eval/eval_run.h"
#include "kv/budget_table.h"
#include "model_fixture.h"
#include "profile/journal.h"
#include "profile/synthetic.h"
#include "runtime/cpu_backend.h"
#include "sandbox.h"
#include "scratch.h"

namespace fs = std::filesystem;
using namespace cokv;
using nlohmann::json;

namespace {

fs::path scratch(const std::string& name) { return cokv_test::scratch_dir("input_errors", name); }

std::string write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string record(const std::string& id) {
  return json({{"input", "Q?"}, {"context", "C."}, {"answers", {"a"}}, {"length", 2}, {"dataset", "hotpotqa"},
               {"language", "en"}, {"all_classes", nullptr}, {"_id", id}})
      .dump();
}

SuiteDataset dataset_at(const std::string& path) {
  SuiteDataset d;
  d.info.name = "hotpotqa";
  d.data_path = path;
  return d;
}

}  // namespace

TEST_CASE("input: a duplicate _id in a data file names the file and both lines", "[input]") {
  const fs::path dir = scratch("dup");
  const std::string path = write(dir / "hotpotqa.jsonl", record("x1") + "\n\n" + record("x2") + "\n" + record("x1") + "\n");
  const std::string e = error_of([&] { read_dataset_records(dataset_at(path)); });
  CHECK_THAT(e, Catch::StartsWith(path + ":4: field '_id'") && Catch::Contains("\"x1\"") &&
                    Catch::Contains(path + ":1"));
  // Distinct ids read in file order.
  write(dir / "hotpotqa.jsonl", record("x1") + "\n" + record("x2") + "\n");
  const auto recs = read_dataset_records(dataset_at(path));
  REQUIRE(recs.size() == 2);
  CHECK(recs[1].id == "x2");
}

TEST_CASE("input: an empty or blank-only data file is an error naming it", "[input]") {
  const fs::path dir = scratch("empty");
  for (const std::string& text : {std::string(), std::string("\n  \n\t\n\r\n")}) {
    const std::string path = write(dir / "hotpotqa.jsonl", text);
    CHECK_THAT(error_of([&] { read_dataset_records(dataset_at(path)); }),
               Catch::StartsWith(path + ": records: expected at least one LongBench record") &&
                   Catch::Contains("empty or has only blank lines"));
  }
}

TEST_CASE("input: cokv-eval score refuses an empty prediction file instead of averaging nothing", "[input]") {
  const fs::path dir = scratch("score_empty");
  const std::string empty = write(dir / "narrativeqa.jsonl", "\n\n");
  CHECK_THAT(error_of([&] { longbench::score_prediction_files({empty}); }),
             Catch::StartsWith(empty + ": predictions: expected at least one prediction line"));
  // Every line skipped (--skip-bad): no score either, and the first error is said.
  const std::string bad = write(dir / "bad.jsonl", "{\"pred\": 1}\n");
  longbench::ScoreOptions o;
  o.skip_bad = true;
  o.dataset = "narrativeqa";
  CHECK_THAT(error_of([&] { longbench::score_prediction_files({bad}, o); }),
             Catch::Contains("at least one scorable record") && Catch::Contains("1 skipped") &&
                 Catch::Contains(bad + ":1"));
  // The binary exits 1 with the message, and writes no --json.
  const std::string exe = std::string(COKV_BUILD_DIR) + "/cokv-eval";
  auto c = cokv_test::spawn({exe, "score", empty, "--json", (dir / "s.json").string()}, "",
                            (dir / "err.txt").string());
  const int st = c.wait(std::chrono::seconds(60));
  REQUIRE(st >= 0);
  CHECK(WEXITSTATUS(st) == 1);
  CHECK_THAT(read_file_bytes((dir / "err.txt").string()), Catch::Contains(empty));
  CHECK_FALSE(fs::exists(dir / "s.json"));
}

TEST_CASE("input: a 2000-character dataset name is printed whole", "[input]") {
  const fs::path dir = scratch("long_name");
  const std::string name(2000, 'd');
  const std::string line = json({{"pred", "a b"}, {"answers", {"a b"}}, {"dataset", name}, {"metric", "qa_f1"},
                                 {"method", "m"}, {"budget", 64}})
                               .dump();
  const std::string path = write(dir / "p.jsonl", line + "\n");
  const auto rep = longbench::score_prediction_files({path});
  const std::string table = longbench::format_score_table(rep);
  CHECK(table.find(name + "        1   100.00") != std::string::npos);
  CHECK(longbench::score_report_json(rep).find(name) != std::string::npos);
  // Without methods too.
  const std::string plain = write(dir / "q.jsonl", json({{"pred", "x"}, {"answers", {"x"}}, {"dataset", name},
                                                          {"metric", "qa_f1"}}).dump() + "\n");
  CHECK(longbench::format_score_table(longbench::score_prediction_files({plain})).find(name + "        1   100.00") !=
        std::string::npos);
}

TEST_CASE("input: a table with a number beyond double range, or without tables, names the file", "[input]") {
  const fs::path dir = scratch("tables");
  BudgetTable t;
  t.model = {"m", "llama", 1, 2, 2, 4, "", "", ""};
  t.method = {{"name", "cokv"}};
  t.scores = {0.5, 0.25};
  t.tables.push_back({8, std::nullopt, {8, 8}, json::object()});
  const std::string good = budget_table_to_string(t);
  // 1e999 in a score: nlohmann's out_of_range, reported with the file.
  std::string huge = good;
  huge.replace(huge.find("0.5"), 3, "1e999");
  const std::string p1 = write(dir / "huge.json", huge);
  CHECK_THAT(error_of([&] { read_budget_table(p1); }),
             Catch::StartsWith(p1 + ": not valid JSON") && Catch::Contains("beyond the range of a double"));
  // An empty tables array, and none at all.
  json j = json::parse(good);
  j["tables"] = json::array();
  const std::string p2 = write(dir / "empty.json", j.dump());
  CHECK_THAT(error_of([&] { read_budget_table(p2); }),
             Catch::StartsWith(p2 + ": tables: expected at least one budget level"));
  j.erase("tables");
  const std::string p3 = write(dir / "missing.json", j.dump());
  CHECK_THAT(error_of([&] { read_budget_table(p3); }), Catch::StartsWith(p3 + ": tables: expected present"));
}

TEST_CASE("input: a journal whose header was cut short is refused and kept as it is", "[input][journal]") {
  const fs::path dir = scratch("journal");
  profile::TableGame game = profile::TableGame::random(4, 1);
  const json settings = {{"seed", 1}};
  const std::string path = (dir / "journal.txt").string();
  for (const std::string& damaged : {std::string("# cokv.journal.v1 {\"se"), std::string("# cokv.jour")}) {
    write(path, damaged);
    CHECK_THAT(error_of([&] { profile::JournaledGame g(game, path, settings, profile::JournalMode::resume); }),
               Catch::StartsWith(path + ":1: header") && Catch::Contains("cut short"));
    CHECK(read_file_bytes(path) == damaged);  // not truncated, not replaced
  }
  // A complete header line that is not JSON.
  write(path, "# cokv.journal.v1 {oops\nssv 0 0 0 0 3 0x1p-1\n");
  CHECK_THAT(error_of([&] { profile::JournaledGame g(game, path, settings, profile::JournalMode::resume); }),
             Catch::StartsWith(path + ":1: header settings"));
  // An empty file holds nothing: resume starts a new journal.
  write(path, "");
  { profile::JournaledGame g(game, path, settings, profile::JournalMode::resume); }
  CHECK(read_file_bytes(path) == "# cokv.journal.v1 " + settings.dump() + "\n");
}

TEST_CASE("input: ROUGE-L memory is bounded; both tracebacks give the same scores", "[input][metrics]") {
  using longbench::RougeOptions;
  // The documented bound: a 300k x 300k-word pair needs tens of MB, not the 11 GB of a full matrix.
  // (A whole bit matrix would be 300000^2 / 8 bytes = 11.25 GB.)
  CHECK(longbench::rouge_lcs_scratch_bytes(300000, 300000) < 64u << 20);
  CHECK(longbench::rouge_lcs_scratch_bytes(100, 100) >= 100 * 100 / 8);  // small pairs: the whole matrix
  // Under the default recursion limit such a pair scores 0 at once (as the reference fails).
  std::string big;
  for (int k = 0; k < 300000; ++k) {
    big += k % 7 ? 'w' : 'v';
    big += std::to_string(k % 13) + ' ';
  }
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(longbench::rouge_l(big, big) == 0.0);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20));
  // The row-checkpointed traceback (forced by a tiny threshold) picks the same LCS words.
  std::mt19937 rng(15);
  const char* words[] = {"a", "b", "c", "d", "e", "f", "the", "x"};
  for (int trial = 0; trial < 60; ++trial) {
    auto text = [&](int n) {
      std::string s;
      // One long sentence every third trial (blocks of many rows), else sentences of ~23 words.
      for (int k = 0; k < n; ++k)
        s += std::string(words[rng() % 8]) + (trial % 3 && rng() % 23 == 0 ? ". " : " ");
      return s;
    };
    const std::string p = text(20 + int(rng() % 400)), g = text(20 + int(rng() % 400));
    RougeOptions direct, blocked;
    direct.max_recursion = blocked.max_recursion = trial % 2 ? 0 : 991;
    blocked.lcs_direct_bits = 64;
    INFO("trial " << trial);
    CHECK(longbench::rouge_l(p, g, direct) == longbench::rouge_l(p, g, blocked));
  }
}

TEST_CASE("input: a prediction line without its score or counts names the file and line", "[input][eval][model]") {
  const Model& m = cokv_test::default_model();
  CpuBackend backend(m);
  const fs::path out = scratch("noscore");
  EvalRunOptions o;
  o.benchmark_dir = std::string(COKV_SOURCE_DIR) + "/tests/data/eval";
  o.dataset_table = configs_dir() + "/longbench.json";
  o.datasets = {"trec"};
  o.methods = {"full"};
  o.split = SplitPart::All;
  o.max_records = 2;
  o.max_new_cap = 2;
  o.plots = false;
  o.out_dir = out.string();
  run_eval(backend, o);
  const std::string preds = (out / "predictions.jsonl").string();
  const std::string text = read_file_bytes(preds);
  const size_t nl = text.find('\n');
  for (const char* field : {"score", "kept_tokens"}) {
    json second = json::parse(text.substr(nl + 1, text.find('\n', nl + 1) - nl - 1));
    second.erase(field);
    write(preds, text.substr(0, nl + 1) + second.dump() + "\n");
    CHECK_THAT(error_of([&] { run_eval(backend, o); }), Catch::StartsWith(preds + ":2: ") && Catch::Contains(field));
  }
}

TEST_CASE("input: a bad --out or a FIFO as --model fails at once, before any model is loaded", "[input][apps]") {
  const fs::path dir = scratch("apps");
  const std::string file = write(dir / "a-file", "x");
  const std::string fifo = (dir / "model.gguf").string();
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  const std::string bin = COKV_BUILD_DIR, missing = (dir / "no-model.gguf").string();
  const std::string profile_fixture = std::string(COKV_SOURCE_DIR) + "/tests/data/profile";
  const std::string eval_fixture = std::string(COKV_SOURCE_DIR) + "/tests/data/eval";
  auto profile = [&](const std::string& model, const std::string& out) {
    return std::vector<std::string>{bin + "/cokv-profile", "--model", model, "--longbench", profile_fixture,
                                    "--category", "synthetic", "--budgets", "16", "--out", out};
  };
  auto eval = [&](const std::string& model, const std::string& out) {
    return std::vector<std::string>{bin + "/cokv-eval", "run", "--model", model, "--longbench", eval_fixture,
                                    "--datasets", "trec", "--methods", "full", "--out", out};
  };
  // expect: exit 1 within seconds, stderr naming `what` (and not the model: it was never opened).
  auto check = [&](const std::vector<std::string>& args, const std::string& what, bool names_model) {
    INFO(args[0] << " " << args[args.size() - 1]);
    const auto t0 = std::chrono::steady_clock::now();
    auto c = cokv_test::spawn(args, "", (dir / "err.txt").string());
    const int st = c.wait(std::chrono::seconds(120));
    REQUIRE(st >= 0);  // -1: it blocked and was killed
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 1);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60));
    const std::string err = read_file_bytes((dir / "err.txt").string());
    CHECK_THAT(err, Catch::Contains(what));
    if (!names_model) CHECK_THAT(err, !Catch::Contains("no-model.gguf"));
  };
  const std::string bad_out = file + "/out";  // under a regular file: cannot be created
  check(profile(missing, bad_out), bad_out, false);
  check(eval(missing, bad_out), bad_out, false);
  check(profile(fifo, (dir / "p").string()), "FIFO", true);
  check(eval(fifo, (dir / "e").string()), "FIFO", true);
}

namespace {

// A one-level table for the default model at mean 16: every head keeps 8 tokens and head 0
// the rest (`spread` false: more than any prompt, so fewer tokens are really kept), or heads
// alternate 8 and 24 (`spread` true).
BudgetTable mean16_table(const Model& m, const std::string& sha, bool spread) {
  const int n = m.cfg.n_kv_players();
  BudgetTable t;
  t.model = {m.cfg.name, m.cfg.arch, m.cfg.n_layers, m.cfg.n_heads, m.cfg.n_kv_heads, m.cfg.head_dim, sha, "", ""};
  t.method = {{"name", "cokv"}};
  t.scores.assign(n, 0.0);
  BudgetLevel lv;
  lv.mean_budget = 16;
  for (int p = 0; p < n; ++p) lv.budgets.push_back(spread ? (p % 2 ? 24 : 8) : p == 0 ? 16 * n - 8 * (n - 1) : 8);
  t.tables.push_back(lv);
  return t;
}

json result_of(const fs::path& out, const std::string& method) {
  const json scores = json::parse(read_file_bytes((out / "scores.json").string()));
  for (const auto& r : scores["results"])
    if (r["method"] == method) return r;
  return nullptr;
}

}  // namespace

TEST_CASE("input: a table rewritten under its name and mean is evaluated again, not reused", "[input][eval][model]") {
  // Issue 15: "0 evaluated, 2 reused", with the old table's kept tokens reported for the new one.
  const Model& m = cokv_test::default_model();
  CpuBackend backend(m);
  const std::string sha = sha256_file_hex(m.path);
  const fs::path dir = scratch("changed_table"), out = dir / "run", fresh = dir / "fresh";
  const std::string table = (dir / "cokv.budget.json").string();
  EvalRunOptions o;
  o.benchmark_dir = std::string(COKV_SOURCE_DIR) + "/tests/data/eval";
  o.dataset_table = configs_dir() + "/longbench.json";
  o.datasets = {"trec"};
  o.methods = {};
  o.tables = {table};
  o.split = SplitPart::All;
  o.max_records = 2;
  o.max_new_cap = 3;
  o.plots = false;
  o.out_dir = out.string();
  write_budget_table(table, mean16_table(m, sha, true));
  run_eval(backend, o);
  const json before = result_of(out, "cokv");
  write_budget_table(table, mean16_table(m, sha, false));  // same file, method name and mean budget
  const EvalRunSummary s = run_eval(backend, o);
  CHECK(s.n_records_run == 2);  // both records evaluated again
  CHECK(s.n_predictions_new == 2);
  CHECK(s.n_predictions_kept == 0);
  std::string notes;
  for (const auto& n : s.notes) notes += n + "\n";
  CHECK_THAT(notes, Catch::Contains("cokv@16") && Catch::Contains(table) && Catch::Contains("recomputed"));
  // What is reported is the new table's: as a fresh folder reports it, not as the old one did.
  o.out_dir = fresh.string();
  run_eval(backend, o);
  const json after = result_of(out, "cokv"), clean = result_of(fresh, "cokv");
  REQUIRE(after.is_object());
  CHECK(after["mean_kept_tokens"] == clean["mean_kept_tokens"]);
  CHECK(after["kv_bytes_per_record"] == clean["kv_bytes_per_record"]);
  CHECK(after["scores"] == clean["scores"]);
  CHECK(after["records"] == 2);
  CHECK(after["mean_kept_tokens"] != before["mean_kept_tokens"]);
}
