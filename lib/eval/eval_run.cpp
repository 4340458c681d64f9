// The cokv-eval run loop, resume and outputs (see eval_run.h).
#include "eval/eval_run.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/file_bytes.h"
#include "data/records.h"
#include "data/split.h"
#include "eval/benchmark.h"
#include "eval/methods.h"
#include "report/eval_report.h"

namespace cokv {
namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

struct Item {
  const BenchDataset* ds;
  longbench::Record rec;
};

std::string pred_key(const std::string& dataset, const std::string& id, const std::string& label,
                     int budget) {
  return dataset + '\x1f' + id + '\x1f' + label + '\x1f' + std::to_string(budget);
}

Sample make_sample(const Model& m, const BenchDataset& d, const longbench::Record& r,
                   const EvalRunOptions& opt) {
  longbench::TokenizerFns fns{[&](std::string_view s) { return m.tok.encode(s); },
                              [&](const std::vector<int32_t>& ids) { return m.tok.decode(ids, true); }};
  longbench::PromptOptions po;
  po.max_length = opt.max_length;
  po.chat = longbench::chat_policy_from_name(opt.chat);
  const auto bp = longbench::build_prompt(r, d.prompt_template, d.info, po, fns,
                                          [&](const std::string& u) { return m.chat.apply_user(u); });
  Sample s;
  s.id = r.id;
  s.dataset = d.info.name;
  s.prompt = m.tok.encode(bp.text);
  s.answers = r.answers;
  if (r.all_classes) s.all_classes = *r.all_classes;
  s.scoring = {d.info.metric, d.info.first_line};
  s.max_new = opt.max_new_cap > 0 ? std::min(opt.max_new_cap, d.info.max_new_tokens) : d.info.max_new_tokens;
  s.stop = m.tok.stop_tokens();
  if (d.info.stop_on_newline) {
    // pred.py: tokenizer.encode("\n", add_special_tokens=False)[-1]
    const auto nl = m.tok.encode("\n", false, false);
    if (!nl.empty()) s.stop.push_back(nl.back());
  }
  return s;
}

// Bytes of the model file, or of every file in a Hugging Face folder; -1 when missing.
int64_t model_bytes(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return fs::exists(path, ec) ? int64_t(fs::file_size(path, ec)) : int64_t(-1);
  int64_t n = 0;
  for (const auto& e : fs::directory_iterator(path, ec))
    if (e.is_regular_file(ec)) n += int64_t(e.file_size(ec));
  return n;
}

// Settings that change predictions; a resumed run must match them.
ordered_json run_settings(const Model& m, const EvalRunOptions& opt) {
  ordered_json s;
  s["model"] = fs::path(m.path).filename().string();
  s["model_bytes"] = model_bytes(m.path);
  // Absent means fp32, so runs made before compact weights existed still resume.
  if (m.weights != WeightMode::Fp32) s["weights"] = weight_mode_name(m.weights);
  s["scorer"] = opt.scorer;
  s["window"] = opt.window;
  s["max_length"] = opt.max_length;
  s["chat"] = opt.chat;
  s["split"] = opt.split;
  s["max_new_cap"] = opt.max_new_cap;
  return s;
}

void check_or_write_settings(const std::string& path, const ordered_json& settings) {
  if (fs::exists(path)) {
    ordered_json old;
    try {
      old = ordered_json::parse(read_file_bytes(path));
    } catch (const std::exception& e) {
      fail(path, "content", "a cokv.eval_run.v1 settings file", e.what());
    }
    if (!old.contains("settings")) fail(path, "settings", "an object");
    for (const auto& [k, v] : settings.items()) {
      const auto& o = old["settings"];
      if (!o.contains(k) || o[k] != v)
        fail(path, "settings." + k,
             "the value of the run being resumed (" + (o.contains(k) ? o[k].dump() : std::string("missing")) +
                 "); use another --out folder for different settings",
             v.dump());
    }
    return;
  }
  ordered_json j;
  j["format"] = "cokv.eval_run.v1";
  j["settings"] = settings;
  write_file_bytes(path, j.dump(2) + "\n");
}

// Reads the keys of an existing predictions file. A last line cut short by a crash (no
// trailing newline) is dropped from the file.
std::set<std::string> load_done(const std::string& path) {
  std::set<std::string> done;
  if (!fs::exists(path)) return done;
  std::string text = read_file_bytes(path);
  if (!text.empty() && text.back() != '\n') {
    const size_t cut = text.rfind('\n');
    text.resize(cut == std::string::npos ? 0 : cut + 1);
    write_file_bytes(path, text);
  }
  longbench::for_each_jsonl(path, {}, [&](const json& j, const std::string& where) {
    done.insert(pred_key(longbench::get_string(j, "dataset", where), longbench::get_string(j, "_id", where),
                         longbench::get_string(j, "method", where),
                         int(longbench::get_integer(j, "budget", where))));
  });
  return done;
}

std::vector<size_t> pick(size_t n, const std::string& split, int max_records) {
  std::vector<size_t> idx;
  if (split == "all") {
    for (size_t i = 0; i < n; ++i) idx.push_back(i);
  } else {
    const auto s = longbench::validation_test_split(n);
    idx = split == "test" ? s.test : s.validation;
  }
  if (max_records > 0 && idx.size() > size_t(max_records)) idx.resize(size_t(max_records));
  return idx;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

EvalRunSummary run_eval(const Model& m, const EvalRunOptions& opt, Progress* progress) {
  if (opt.out_dir.empty()) fail("--out", "folder", "an output folder");
  if (opt.split != "test" && opt.split != "validation" && opt.split != "all")
    fail("--split", "'" + opt.split + "'", "test, validation or all");
  if (opt.window < 1) fail("--window", std::to_string(opt.window), "at least 1");
  longbench::chat_policy_from_name(opt.chat);  // validates
  MethodOptions mo;
  mo.scorer.kind = parse_scorer(opt.scorer);
  if (mo.scorer.kind != ScorerKind::SnapKV && mo.scorer.kind != ScorerKind::AhaKV)
    fail("--scorer", "'" + opt.scorer + "'", "snapkv or ahakv");
  mo.scorer.window = opt.window;
  for (int b : opt.budgets)
    if (b < opt.window)
      fail("--budgets", std::to_string(b), "mean budgets >= the window (" + std::to_string(opt.window) + ")");

  const Benchmark bench = open_benchmark(opt.benchmark_dir, opt.dataset_table);
  const std::vector<std::string> names = bench.select(opt.datasets, opt.category);
  const std::vector<MethodSpec> methods = build_method_list(opt.methods, opt.budgets, opt.tables, m.cfg);

  fs::create_directories(opt.out_dir);
  EvalRunSummary sum;
  sum.predictions_path = (fs::path(opt.out_dir) / "predictions.jsonl").string();
  sum.scores_path = (fs::path(opt.out_dir) / "scores.json").string();
  sum.results_path = (fs::path(opt.out_dir) / "results.md").string();
  const ordered_json settings = run_settings(m, opt);
  check_or_write_settings((fs::path(opt.out_dir) / "run.json").string(), settings);
  std::set<std::string> done = load_done(sum.predictions_path);

  // The records, in run order: dataset by dataset, split order inside.
  std::vector<Item> items;
  for (const std::string& name : names) {
    const BenchDataset& d = bench.dataset(name);
    auto recs = longbench::read_records(d.data_path);
    for (size_t i : pick(recs.size(), opt.split, opt.max_records)) items.push_back({&d, std::move(recs[i])});
  }
  sum.n_records = int64_t(items.size());
  if (progress) progress->set_total(sum.n_records);

  std::ofstream out(sum.predictions_path, std::ios::app | std::ios::binary);
  if (!out) fail(sum.predictions_path, "file", "a writable predictions file");
  for (const Item& it : items) {
    const std::string& dsname = it.ds->info.name;
    std::vector<const MethodSpec*> todo;
    for (const MethodSpec& ms : methods) {
      const std::string key = pred_key(dsname, it.rec.id, ms.label, ms.budget);
      if (done.count(key))
        ++sum.n_predictions_kept;
      else
        todo.push_back(&ms);
    }
    if (!todo.empty()) {
      PreparedSample ps(m, make_sample(m, *it.ds, it.rec, opt));
      std::vector<BudgetRequest> reqs;
      reqs.reserve(todo.size());
      for (const MethodSpec* ms : todo) reqs.push_back(method_request(*ms, ps, m.cfg, mo));
      const auto res = ps.evaluate(reqs, Utility::Metric, false);
      std::string lines;
      for (size_t k = 0; k < todo.size(); ++k) {
        ordered_json j;
        j["pred"] = res[k].prediction;
        j["answers"] = it.rec.answers;
        j["all_classes"] = it.rec.all_classes ? json(*it.rec.all_classes) : json(nullptr);
        j["length"] = it.rec.length;
        j["dataset"] = dsname;
        j["_id"] = it.rec.id;
        j["method"] = todo[k]->label;
        j["budget"] = todo[k]->budget;
        j["score"] = res[k].score;
        j["kv_bytes"] = res[k].kv_bytes;
        j["kept_tokens"] = res[k].kept_tokens;
        j["prompt_tokens"] = ps.n_tokens();
        j["gen_tokens"] = res[k].tokens.size();
        j["metric"] = longbench::metric_name(it.ds->info.metric);
        j["first_line"] = it.ds->info.first_line;
        lines += j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
        done.insert(pred_key(dsname, it.rec.id, todo[k]->label, todo[k]->budget));
      }
      out << lines;
      out.flush();
      if (!out) fail(sum.predictions_path, "write", "room to append predictions");
      ++sum.n_records_run;
      sum.n_predictions_new += int64_t(todo.size());
    }
    if (progress) progress->add(1, dsname);
  }
  out.close();

  // Latency: each method alone with the compacted cache on the first N records.
  std::vector<LatencyRow> latency;
  const std::string latency_path = (fs::path(opt.out_dir) / "latency.json").string();
  if (opt.latency_records > 0) {
    const size_t n = std::min(items.size(), size_t(opt.latency_records));
    std::vector<LatencyRow> rows(methods.size());
    for (size_t k = 0; k < methods.size(); ++k) {
      rows[k].label = methods[k].label;
      rows[k].budget = methods[k].budget;
    }
    if (progress) progress->set_total(sum.n_records + int64_t(n));
    for (size_t i = 0; i < n; ++i) {
      const double t0 = now_s();
      PreparedSample ps(m, make_sample(m, *items[i].ds, items[i].rec, opt));
      const double prefill_ms = 1e3 * (now_s() - t0);
      for (size_t k = 0; k < methods.size(); ++k) {
        const BudgetRequest req = method_request(methods[k], ps, m.cfg, mo);
        ps.ranking(req.scorer);  // token scoring happens once per prompt, outside the timing
        const double t1 = now_s();
        const auto res = ps.evaluate(std::span(&req, 1), Utility::Metric, true);
        const double ms = 1e3 * (now_s() - t1);
        LatencyRow& r = rows[k];
        r.n_records += 1;
        r.prefill_ms += prefill_ms;
        r.decode_ms += ms;
        r.n_tokens += int64_t(res[0].tokens.size()) + 1;
        const size_t gen_bytes =
            kv_bytes_for(int64_t(res[0].tokens.size() + 1) * m.cfg.n_kv_players(), m.cfg.head_dim);
        r.peak_kv_bytes = std::max(r.peak_kv_bytes, res[0].kv_bytes + gen_bytes);
      }
      if (progress) progress->add(1, "latency");
    }
    latency = rows;
    write_file_bytes(latency_path, latency_json(latency).dump(2) + "\n");
  } else if (fs::exists(latency_path)) {
    // From an earlier call with --latency: keep the rows of this run's methods.
    for (LatencyRow& r : latency_from_json(ordered_json::parse(read_file_bytes(latency_path)), latency_path))
      for (const MethodSpec& ms : methods)
        if (ms.label == r.label && ms.budget == r.budget) latency.push_back(r);
  }

  // Scores from the whole predictions file, restricted to this run's selection.
  std::set<std::string> wanted;
  for (const Item& it : items)
    for (const MethodSpec& ms : methods)
      wanted.insert(pred_key(it.ds->info.name, it.rec.id, ms.label, ms.budget));
  EvalTable table;
  table.datasets = names;
  for (const MethodSpec& ms : methods) table.rows.push_back(make_row(ms.label, ms.budget));
  for (const Item& it : items) table.records[it.ds->info.name] += 1;
  std::set<std::string> seen;
  longbench::for_each_jsonl(sum.predictions_path, {}, [&](const json& j, const std::string& where) {
    const std::string ds = longbench::get_string(j, "dataset", where);
    const std::string label = longbench::get_string(j, "method", where);
    const int budget = int(longbench::get_integer(j, "budget", where));
    const std::string key = pred_key(ds, longbench::get_string(j, "_id", where), label, budget);
    if (!wanted.count(key) || !seen.insert(key).second) return;
    table.add(label, budget, ds, j.at("score").get<double>(), j.at("kept_tokens").get<int64_t>(),
              j.at("kv_bytes").get<int64_t>());
  });
  table.finish();

  ordered_json scores = eval_scores_json(table, latency);
  scores["settings"] = settings;
  scores["settings"]["benchmark"] = fs::path(opt.benchmark_dir).filename().string();
  scores["settings"]["n_kv_heads_total"] = m.cfg.n_kv_players();
  write_file_bytes(sum.scores_path, scores.dump(2) + "\n");

  std::vector<std::string> plot_files;
  if (opt.plots) {
    try {
      plot_files = write_eval_plots(table, opt.out_dir, opt.plots_per_dataset);
    } catch (const Error& e) {
      sum.notes.push_back(std::string("plots skipped: ") + e.what());
    }
  }
  std::ostringstream md;
  md << eval_results_markdown(table, latency, m.cfg.name, settings, plot_files, m.cfg.n_kv_players());
  write_file_bytes(sum.results_path, md.str());
  return sum;
}

}  // namespace cokv
