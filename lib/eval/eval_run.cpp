// The cokv-eval run loop, resume and outputs (see eval_run.h).
#include "eval/eval_run.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/json_text.h"
#include "core/stop.h"
#include "data/records.h"
#include "eval/methods.h"
#include "model/model_source.h"
#include "report/eval_report.h"

namespace cokv {
namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

struct Item {
  const SuiteDataset* ds;
  longbench::Record rec;
};

// A method of this run with the key its prediction lines carry.
struct RunMethod {
  const MethodSpec* spec;
  std::string fingerprint;
};

std::string pred_key(const std::string& dataset, const std::string& id, const std::string& label, int budget,
                     const std::string& fingerprint) {
  return dataset + '\x1f' + id + '\x1f' + label + '\x1f' + std::to_string(budget) + '\x1f' + fingerprint;
}

std::string pred_key(const Item& it, const RunMethod& rm) {
  return pred_key(it.ds->info.name, it.rec.id, rm.spec->label, rm.spec->budget, rm.fingerprint);
}

// Settings that change predictions; a resumed run must match them.
ordered_json run_settings(const Backend& b, const std::string& model_sha, const EvalRunOptions& opt) {
  ordered_json s;
  s["model"] = fs::path(b.model().path).filename().string();
  s["model_sha256"] = model_sha;
  s["weights"] = weight_mode_name(b.model().weights);
  s["backend"] = backend_name(b.kind());
  s["utility"] = utility_name(opt.utility);
  s["scorer"] = scorer_name(opt.scorer);
  s["window"] = opt.window;
  s["max_length"] = opt.max_length;
  s["chat"] = longbench::chat_policy_name(opt.chat);
  s["split"] = split_name(opt.split);
  s["max_new_cap"] = opt.max_new_cap;
  return s;
}

void check_or_write_settings(const std::string& path, const ordered_json& settings) {
  if (fs::exists(path)) {
    const ordered_json old = parse_ordered_json(read_file_bytes(path), path);
    if (!old.is_object() || !old.contains("settings") || !old["settings"].is_object())
      fail(path, "settings", "an object (a cokv.eval_run.v1 settings file)");
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

std::string line_key(const json& j, const std::string& where) {
  return pred_key(longbench::get_string(j, "dataset", where), longbench::get_string(j, "_id", where),
                  longbench::get_string(j, "method", where), int(longbench::get_integer(j, "budget", where)),
                  j.contains("method_key") && j["method_key"].is_string() ? j["method_key"].get<std::string>() : "");
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
  longbench::for_each_jsonl(path, {}, [&](const json& j, const std::string& where) { done.insert(line_key(j, where)); });
  return done;
}

// The records, in run order: dataset by dataset, split order inside.
std::vector<Item> select_items(const Suite& suite, const std::vector<std::string>& names, const EvalRunOptions& opt) {
  std::vector<Item> items;
  for (const std::string& name : names) {
    const SuiteDataset& d = suite.dataset(name);
    auto recs = read_dataset_records(d);
    for (size_t i : split_indices(recs.size(), opt.split, opt.max_records)) items.push_back({&d, std::move(recs[i])});
  }
  return items;
}

SampleOptions sample_options(const EvalRunOptions& opt) {
  SampleOptions so;
  so.max_length = opt.max_length;
  so.chat = opt.chat;
  so.max_new_cap = opt.max_new_cap;
  return so;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

ordered_json prediction_line(const Item& it, const RunMethod& rm, const SampleResult& r, int prompt_tokens,
                             Utility u) {
  ordered_json j;
  j["pred"] = r.prediction;
  j["answers"] = it.rec.answers;
  j["all_classes"] = it.rec.all_classes ? json(*it.rec.all_classes) : json(nullptr);
  j["length"] = it.rec.length;
  j["dataset"] = it.ds->info.name;
  j["_id"] = it.rec.id;
  j["method"] = rm.spec->label;
  j["budget"] = rm.spec->budget;
  j["method_key"] = rm.fingerprint;
  if (u == Utility::Metric)
    j["score"] = r.score;
  else
    j["loglik"] = r.loglik;
  j["kv_bytes"] = r.kv_bytes;
  j["kept_tokens"] = r.kept_tokens;
  j["prompt_tokens"] = prompt_tokens;
  j["gen_tokens"] = r.tokens.size();
  j["metric"] = longbench::metric_name(it.ds->info.metric);
  j["first_line"] = it.ds->info.first_line;
  return j;
}

// Evaluates every record's missing predictions (one prefill and one batch per record) and
// appends them, flushed per record.
void predict(Backend& b, const std::vector<Item>& items, const std::vector<RunMethod>& methods,
             const MethodOptions& mo, const EvalRunOptions& opt, std::set<std::string>& done, EvalRunSummary& sum,
             Progress* progress) {
  AppendFile out(sum.predictions_path, AppendFile::Mode::Keep);
  const SampleOptions so = sample_options(opt);
  for (const Item& it : items) {
    throw_if_stopped(sum.predictions_path + " holds every finished record: rerun the same command to continue");
    std::vector<const RunMethod*> todo;
    for (const RunMethod& rm : methods) {
      if (done.count(pred_key(it, rm)))
        ++sum.n_predictions_kept;
      else
        todo.push_back(&rm);
    }
    if (!todo.empty()) {
      PreparedSample ps(b, make_sample(b.model(), it.rec, *it.ds, so));
      std::vector<BudgetRequest> reqs;
      reqs.reserve(todo.size());
      for (const RunMethod* rm : todo) reqs.push_back(method_request(*rm->spec, ps, b.model().cfg, mo));
      const auto res = ps.evaluate(reqs, opt.utility, false);
      std::string lines;
      for (size_t k = 0; k < todo.size(); ++k) {
        lines += prediction_line(it, *todo[k], res[k], ps.n_tokens(), opt.utility)
                     .dump(-1, ' ', false, json::error_handler_t::replace) +
                 "\n";
        done.insert(pred_key(it, *todo[k]));
      }
      out.append(lines, false);  // all of the record's lines or none
      ++sum.n_records_run;
      sum.n_predictions_new += int64_t(todo.size());
    }
    if (progress) progress->add(1, it.ds->info.name);
  }
}

// Latency: each method alone with the compacted cache on the first N records.
std::vector<LatencyRow> measure_latency(Backend& b, const std::vector<Item>& items,
                                        const std::vector<RunMethod>& methods, const MethodOptions& mo,
                                        const EvalRunOptions& opt, Progress* progress) {
  const ModelConfig& c = b.model().cfg;
  const size_t n = std::min(items.size(), size_t(opt.latency_records));
  std::vector<LatencyRow> rows(methods.size());
  for (size_t k = 0; k < methods.size(); ++k) {
    rows[k].label = methods[k].spec->label;
    rows[k].budget = methods[k].spec->budget;
  }
  if (progress) progress->set_total(int64_t(items.size() + n));
  const SampleOptions so = sample_options(opt);
  for (size_t i = 0; i < n; ++i) {
    throw_if_stopped("every prediction is saved; rerun to measure the latency again");
    const double t0 = now_s();
    PreparedSample ps(b, make_sample(b.model(), items[i].rec, *items[i].ds, so));
    const double prefill_ms = 1e3 * (now_s() - t0);
    for (size_t k = 0; k < methods.size(); ++k) {
      const BudgetRequest req = method_request(*methods[k].spec, ps, c, mo);
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
          kv_bytes_for(int64_t(res[0].tokens.size() + 1) * c.n_kv_players(), c.head_dim, b.kv_element_bytes());
      r.peak_kv_bytes = std::max(r.peak_kv_bytes, res[0].kv_bytes + gen_bytes);
    }
    if (progress) progress->add(1, "latency");
  }
  return rows;
}

// The table of this run's selection from the whole predictions file.
EvalTable collect(const std::string& predictions_path, const std::vector<Item>& items,
                  const std::vector<RunMethod>& methods, const std::vector<std::string>& names, Utility u) {
  std::set<std::string> wanted;
  for (const Item& it : items)
    for (const RunMethod& rm : methods) wanted.insert(pred_key(it, rm));
  EvalTable table;
  table.value = u == Utility::Metric ? EvalValue::Metric : EvalValue::Loglik;
  table.datasets = names;
  for (const RunMethod& rm : methods) {
    table.rows.push_back(make_row(rm.spec->label, rm.spec->budget));
    table.rows.back().source = rm.spec->source;
  }
  for (const Item& it : items) table.records[it.ds->info.name] += 1;
  std::set<std::string> seen;
  const char* field = u == Utility::Metric ? "score" : "loglik";
  longbench::for_each_jsonl(predictions_path, {}, [&](const json& j, const std::string& where) {
    const std::string key = line_key(j, where);
    if (!wanted.count(key) || !seen.insert(key).second) return;
    if (!j.contains(field) || !j[field].is_number()) fail(where, field, "a number");
    table.add(j["method"].get<std::string>(), j["budget"].get<int>(), j["dataset"].get<std::string>(),
              j["_id"].get<std::string>(), j[field].get<double>(), longbench::get_integer(j, "kept_tokens", where),
              longbench::get_integer(j, "kv_bytes", where));
  });
  table.finish();
  return table;
}

// A method whose label and budget have lines from an earlier run under another fingerprint
// (a table file rewritten under the same name): said once, since its rows are recomputed.
void note_changed_methods(const std::set<std::string>& done, const std::vector<RunMethod>& methods,
                          std::vector<std::string>& notes) {
  std::map<std::string, std::set<std::string>> seen;  // label\x1fbudget -> fingerprints
  for (const std::string& k : done) {
    const size_t a = k.find('\x1f'), b = k.find('\x1f', a + 1), c = k.find('\x1f', b + 1), d = k.find('\x1f', c + 1);
    if (d == std::string::npos) continue;
    seen[k.substr(b + 1, d - b - 1)].insert(k.substr(d + 1));
  }
  for (const RunMethod& rm : methods) {
    auto it = seen.find(rm.spec->label + '\x1f' + std::to_string(rm.spec->budget));
    if (it != seen.end() && !it->second.count(rm.fingerprint))
      notes.push_back((rm.spec->budget ? rm.spec->label + "@" + std::to_string(rm.spec->budget) : rm.spec->label) + ": differs from the earlier run's (" +
                      (rm.spec->source.empty() ? "its options" : rm.spec->source + " changed") +
                      "); its predictions are recomputed");
  }
}

// What ran the evaluation and what it used (the backend's counters over this call's life).
ordered_json backend_json(const Backend& b) {
  const BackendCounters c = b.counters();
  const DeviceInfo d = b.device();
  ordered_json j;
  j["kind"] = backend_name(b.kind());
  j["device"] = d.name;
  j["weight_bytes"] = c.weight_bytes;
  j["peak_state_bytes"] = c.peak_state_bytes;
  j["peak_device_bytes"] = c.peak_device_bytes;
  j["device_reserved_bytes"] = c.device_reserved_bytes;
  j["prefills"] = c.prefills;
  j["decoded_rows"] = c.decoded_rows;
  j["prefill_s"] = c.prefill_s;
  j["decode_s"] = c.decode_s;
  return j;
}

std::string backend_markdown(const ordered_json& j) {
  const double mib = 1 << 20;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "\n## Backend\n\n%s on %s: weights %.1f MiB, prompt states at most %.1f MiB at once",
                j["kind"].get<std::string>().c_str(), j["device"].get<std::string>().c_str(),
                j["weight_bytes"].get<double>() / mib, j["peak_state_bytes"].get<double>() / mib);
  std::string md = buf;
  if (j["peak_device_bytes"].get<double>() > 0) {
    std::snprintf(buf, sizeof buf, ", device memory at most %.1f MiB in use (%.1f MiB reserved)",
                  j["peak_device_bytes"].get<double>() / mib, j["device_reserved_bytes"].get<double>() / mib);
    md += buf;
  }
  std::snprintf(buf, sizeof buf, "; %lld prefills (%.1f s), %lld decoded rows (%.1f s).\n",
                (long long)j["prefills"].get<int64_t>(), j["prefill_s"].get<double>(),
                (long long)j["decoded_rows"].get<int64_t>(), j["decode_s"].get<double>());
  return md + buf;
}

}  // namespace

void check_eval_run(const EvalRunOptions& opt) {
  if (opt.out_dir.empty()) fail("--out", "folder", "an output folder");
  if (opt.window < 1) fail("--window", std::to_string(opt.window), "at least 1");
  if (opt.scorer != ScorerKind::SnapKV && opt.scorer != ScorerKind::AhaKV)
    fail("--scorer", "'" + std::string(scorer_name(opt.scorer)) + "'", "snapkv or ahakv");
  for (int bud : opt.budgets)
    if (bud < opt.window)
      fail("--budgets", std::to_string(bud), "mean budgets >= the window (" + std::to_string(opt.window) + ")");
  std::error_code ec;
  fs::create_directories(opt.out_dir, ec);
  if (ec || !fs::is_directory(opt.out_dir))
    fail(opt.out_dir, "--out", "a folder that can be created", ec ? ec.message() : "not a directory");
}

EvalRunSummary run_eval(Backend& b, const EvalRunOptions& opt, Progress* progress) {
  check_eval_run(opt);
  MethodOptions mo;
  mo.scorer.kind = opt.scorer;
  mo.scorer.window = opt.window;

  const ModelInfo& m = b.model();
  const std::string model_sha = model_sha256(m.path);
  const Suite suite = open_suite(opt.benchmark_dir, opt.dataset_table);
  const std::vector<std::string> names = suite.select(opt.datasets, opt.category);
  EvalRunSummary sum;
  TableCheck check{model_sha, m.path, opt.allow_model_mismatch, opt.chat, opt.max_length};
  const std::vector<MethodSpec> specs =
      build_method_list(opt.methods, opt.budgets, opt.tables, m.cfg, check, &sum.notes);
  std::vector<RunMethod> methods;
  for (const MethodSpec& ms : specs) methods.push_back({&ms, method_fingerprint(ms, mo)});

  sum.predictions_path = (fs::path(opt.out_dir) / "predictions.jsonl").string();
  sum.scores_path = (fs::path(opt.out_dir) / "scores.json").string();
  sum.results_path = (fs::path(opt.out_dir) / "results.md").string();
  const ordered_json settings = run_settings(b, model_sha, opt);
  check_or_write_settings((fs::path(opt.out_dir) / "run.json").string(), settings);
  std::set<std::string> done = load_done(sum.predictions_path);
  note_changed_methods(done, methods, sum.notes);

  const std::vector<Item> items = select_items(suite, names, opt);
  sum.n_records = int64_t(items.size());
  if (progress) progress->set_total(sum.n_records);
  predict(b, items, methods, mo, opt, done, sum, progress);

  std::vector<LatencyRow> latency;
  const std::string latency_path = (fs::path(opt.out_dir) / "latency.json").string();
  if (opt.latency_records > 0) {
    latency = measure_latency(b, items, methods, mo, opt, progress);
    write_file_bytes(latency_path, latency_json(latency).dump(2) + "\n");
  } else if (fs::exists(latency_path)) {
    // From an earlier call with --latency: keep the rows of this run's methods.
    for (LatencyRow& r : latency_from_json(parse_ordered_json(read_file_bytes(latency_path), latency_path), latency_path))
      for (const RunMethod& rm : methods)
        if (rm.spec->label == r.label && rm.spec->budget == r.budget) latency.push_back(r);
  }

  const EvalTable table = collect(sum.predictions_path, items, methods, names, opt.utility);
  ordered_json scores = eval_scores_json(table, latency);
  scores["settings"] = settings;
  scores["settings"]["benchmark"] = fs::path(opt.benchmark_dir).filename().string();
  scores["settings"]["n_kv_heads_total"] = m.cfg.n_kv_players();
  scores["notes"] = sum.notes;
  scores["backend"] = backend_json(b);
  write_file_bytes(sum.scores_path, scores.dump(2) + "\n");

  std::vector<std::string> plot_files;
  if (opt.plots) {
    try {
      plot_files = write_eval_plots(table, opt.out_dir, opt.plots_per_dataset);
    } catch (const Error& e) {
      sum.notes.push_back(std::string("plots skipped: ") + e.what());
    }
  }
  std::string md = eval_results_markdown(table, latency, m.cfg.name, settings, plot_files, m.cfg.n_kv_players());
  md += backend_markdown(scores["backend"]);
  if (!sum.notes.empty()) {
    md += "\n## Notes\n\n";
    for (const auto& n : sum.notes) md += "- " + n + "\n";
  }
  write_file_bytes(sum.results_path, md);
  return sum;
}

}  // namespace cokv
