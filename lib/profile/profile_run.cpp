// cokv-profile's run (see profile_run.h): options and output folder checked first, then
// model -> samples -> game -> journal -> head scores -> tables -> files.
#include "profile/profile_run.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/progress.h"
#include "data/suite.h"
#include "export/exports.h"
#include "model/model_source.h"
#include "profile/convergence.h"
#include "profile/head_scores.h"
#include "profile/journal.h"
#include "profile/model_game.h"
#include "profile/profile_tables.h"
#include "profile/sampling.h"
#include "report/gnuplot.h"
#include "report/heatmap.h"
#include "report/lineplot.h"
#include "report/profile_summary.h"

namespace cokv::profile {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

ProfileMethod parse_profile_method(const std::string& name) {
  for (ProfileMethod m : {ProfileMethod::Ssv, ProfileMethod::Permutation, ProfileMethod::Regression,
                          ProfileMethod::Exact, ProfileMethod::Baklava, ProfileMethod::TaskKv})
    if (name == profile_method_name(m)) return m;
  fail("--method", "method", "ssv, permutation, regression, exact, baklava or taskkv", name);
}

const char* profile_method_name(ProfileMethod m) {
  switch (m) {
    case ProfileMethod::Ssv: return "ssv";
    case ProfileMethod::Permutation: return "permutation";
    case ProfileMethod::Regression: return "regression";
    case ProfileMethod::Exact: return "exact";
    case ProfileMethod::Baklava: return "baklava";
    case ProfileMethod::TaskKv: return "taskkv";
  }
  return "?";
}

std::string table_method_name(ProfileMethod m) {
  return is_game_method(m) ? "cokv-" + std::string(profile_method_name(m)) : profile_method_name(m);
}

bool is_game_method(ProfileMethod m) { return m != ProfileMethod::Baklava && m != ProfileMethod::TaskKv; }

AbsentHeads parse_absent(const std::string& name) {
  if (name == "window") return AbsentHeads::Window;
  if (name == "zero") return AbsentHeads::Zero;
  fail("--absent", "'" + name + "'", "window or zero");
}

const char* absent_name(AbsentHeads a) { return a == AbsentHeads::Window ? "window" : "zero"; }

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string hex_double(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", x);
  return buf;
}

// Paths relative to the output folder (summary.json stays valid when the folder moves).
std::vector<std::string> relative_to(const std::vector<std::string>& files, const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(fs::path(f).lexically_relative(dir).generic_string());
  return out;
}

std::string journal_name(const ProfileOptions& o) {
  return o.shard_count > 1 ? shard_journal_name(o.shard_index, o.shard_count) : "journal.txt";
}

// Everything that can be checked without the model, so a bad flag or folder costs no prefill.
void check_options(const ProfileOptions& o) {
  if (o.longbench_dir.empty()) fail("options", "--longbench", "a LongBench-format folder");
  if (o.category.empty() == o.dataset.empty()) fail("options", "--category/--dataset", "exactly one of them");
  if (o.out_dir.empty()) fail("options", "--out", "an output folder");
  if (o.budgets.empty()) fail("options", "--budgets", "at least one mean budget");
  for (double b : o.budgets)
    if (!(b >= o.window))
      fail("options", "--budgets", "mean budgets >= the window (" + std::to_string(o.window) + ")",
           std::to_string(b));
  if (o.window < 0) fail("options", "--window", ">= 0", std::to_string(o.window));
  if (o.batch < 1) fail("options", "--batch", ">= 1", std::to_string(o.batch));
  if (o.alpha && *o.alpha < 1) fail("options", "--alpha", "auto or a positive integer", std::to_string(*o.alpha));
  if (!o.devices.empty()) {
    const BackendKind k = resolve_backend(o.backend.kind);
    if (k != BackendKind::Cuda && k != BackendKind::CudaEmulated)
      fail("options", "--devices", "--backend cuda or cuda-emu", backend_name(k));
    for (size_t i = 0; i < o.devices.size(); ++i)
      if (o.devices[i] < 0 || std::count(o.devices.begin(), o.devices.begin() + i, o.devices[i]))
        fail("options", "--devices", "distinct device ordinals >= 0", std::to_string(o.devices[i]));
  }
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec || !fs::is_directory(o.out_dir)) fail(o.out_dir, "--out", "a folder that can be created", ec.message());
  if (o.shard_count > 1) {
    if (o.shard_index >= o.shard_count)
      fail("options", "--shard", "I/N with I < N", std::to_string(o.shard_index) + "/" + std::to_string(o.shard_count));
    if (!is_game_method(o.method))
      fail("options", "--shard", "an estimator method (ssv, permutation, regression, exact)", profile_method_name(o.method));
    if (o.samples <= 0 || o.tol > 0)
      fail("options", "--shard", "a fixed --samples count (the two-chain rule cannot stop shards independently)",
           "no --samples");
  }
  const fs::path journal = fs::path(o.out_dir) / journal_name(o);
  if (!o.resume && fs::exists(journal) && fs::file_size(journal, ec) > 0)
    fail(journal.string(), "journal", "no existing journal (pass --resume to continue that run, or remove the file)",
         "a non-empty file");
}

// The task's validation samples and what the table and summary say about them.
struct TaskSamples {
  std::vector<std::string> datasets;
  std::vector<Sample> samples;
  json record_ids = json::array();
  int min_tokens = 0, max_tokens = 0;
  double mean_tokens = 0;
};

TaskSamples task_samples(const ProfileOptions& o, const ModelInfo& m) {
  TaskSamples ts;
  const Suite suite = open_suite(o.longbench_dir);
  ts.datasets = task_datasets(suite, o.category, o.dataset);
  SampleOptions so;
  so.max_length = o.max_length;
  so.chat = o.chat;
  so.max_records = o.max_records;
  ts.samples = validation_samples(m, suite, ts.datasets, so);
  if (ts.samples.empty()) fail(o.longbench_dir, "validation records", "at least one", "none");
  ts.min_tokens = 1 << 30;
  for (const auto& s : ts.samples) {
    ts.record_ids.push_back(s.dataset + "/" + s.id);
    ts.min_tokens = std::min<int>(ts.min_tokens, int(s.prompt.size()));
    ts.max_tokens = std::max<int>(ts.max_tokens, int(s.prompt.size()));
    ts.mean_tokens += double(s.prompt.size()) / double(ts.samples.size());
  }
  return ts;
}

BudgetTable make_table(const ProfileOptions& o, const ModelInfo& m, const std::string& sha, const TaskSamples& ts,
                       HeadScores& hs, std::vector<BudgetLevel> levels) {
  BudgetTable t;
  t.model = {m.cfg.name, m.cfg.arch, m.cfg.n_layers, m.cfg.n_heads, m.cfg.n_kv_heads, m.cfg.head_dim, sha};
  t.model.format = model_format_name(m.format);
  t.model.weights = weight_mode_name(m.weights);
  t.task = {{"datasets", ts.datasets},
            {"samples", ts.samples.size()},
            {"records", ts.record_ids},
            {"max_length", o.max_length},
            {"chat", longbench::chat_policy_name(o.chat)},
            {"suite", fs::path(o.longbench_dir).filename().string()}};
  t.task[o.category.empty() ? "dataset" : "category"] = task_name(o);
  t.scores = hs.values;
  // Standard errors are undefined (inf/NaN) when a head was drawn fewer than twice in a slice:
  // the table then carries none (scores.json still has them).
  bool finite = !hs.std_error.empty() && hs.std_error.size() == hs.values.size();
  for (double e : hs.std_error) finite = finite && std::isfinite(e);
  if (finite)
    t.score_stderr = hs.std_error;
  else if (!hs.std_error.empty())
    hs.method["score_stderr"] = "undefined (too few samples per head)";
  t.window = o.window;
  t.sink = o.method == ProfileMethod::TaskKv ? o.taskkv_sink : 0;
  t.tables = std::move(levels);
  t.method = hs.method;
  return t;
}

json scores_json(const ProfileOptions& o, const HeadScores& hs, double u_full, double u_empty) {
  json sj = {{"method", table_method_name(o.method)}, {"values", hs.values}};
  json hex = json::array();
  for (double v : hs.values) hex.push_back(hex_double(v));
  sj["values_hex"] = hex;
  if (!hs.std_error.empty()) sj["std_error"] = hs.std_error;
  if (hs.estimate && !hs.estimate->slice_values.empty()) sj["slice_values"] = hs.estimate->slice_values;
  sj["utility_full"] = u_full;
  sj["utility_empty"] = u_empty;
  return sj;
}

// Chain MAE against evaluations, log-log, with the target: <stem>.png/.svg when the trace has a
// measured point (two chains).
std::vector<std::string> write_convergence_plot(const json& summary, const std::string& stem) {
  if (!summary.contains("trace") || !summary.contains("convergence")) return {};
  LineSeries mae{"chain MAE", {}, {}};
  for (const auto& tp : summary["trace"])
    if (tp["chain_mae"].is_number() && tp["chain_mae"].get<double>() > 0 && tp["evaluations"].get<double>() > 0) {
      mae.x.push_back(tp["evaluations"].get<double>());
      mae.y.push_back(tp["chain_mae"].get<double>());
    }
  if (mae.x.empty()) return {};
  const double target = summary["convergence"]["target"].get<double>();
  LineSeries tgt{"target " + summary["convergence"]["target_rule"].get<std::string>(),
                 {mae.x.front(), mae.x.back()}, {target, target}, {}, {}, true, false};
  LinePlotOptions po;
  po.title = summary["name"].get<std::string>() + ": two-chain agreement";
  po.x_label = "utility evaluations";
  po.y_label = "mean |chain 0 - chain 1|";
  po.log_xy = true;
  write_line_plot({mae, tgt}, stem + ".png", stem + ".svg", po);
  return {stem + ".png", stem + ".svg"};
}

// Table (+ twins), exports, heatmap and scores.json; returns the paths written.
std::vector<std::string> write_results(const ProfileOptions& o, const BudgetTable& t, const std::string& table_path,
                                       const json& scores, json& summary, std::ostream& log) {
  std::vector<std::string> files;
  write_budget_table(table_path, t);
  files.push_back(table_path);
  for (auto& p : write_npy_twin(table_path, t)) files.push_back(p);
  // Ratio formats default to the longest profiled prompt: the prompt length the table was made on.
  ExportOptions eo = o.exports;
  eo.reference_length =
      o.reference_length > 0 ? o.reference_length : std::max(1, summary["prompt_tokens"]["max"].get<int>());
  std::vector<std::string> notes;
  for (auto& p : export_all(t, o.out_dir + "/exports", eo, &notes)) files.push_back(p);
  for (const auto& n : notes) log << "exports: " << n << "\n";
  if (!notes.empty()) summary["export_notes"] = notes;
  const std::string name = summary["name"].get<std::string>();
  if (gnuplot_available()) {
    HeatmapOptions ho;
    ho.title = name + " (" + utility_name(o.utility) + ")";
    ho.value_label = table_method_name(o.method) + " score";
    const std::string png = o.out_dir + "/" + name + ".scores.png", svg = o.out_dir + "/" + name + ".scores.svg";
    write_heatmap(t.scores, t.model.n_layers, t.model.n_kv_heads, png, svg, ho);
    files.push_back(png);
    files.push_back(svg);
    for (auto& p : write_convergence_plot(summary, o.out_dir + "/" + name + ".convergence")) files.push_back(p);
  } else {
    summary["note"] = "gnuplot not found: no heatmap";
  }
  write_file_bytes(o.out_dir + "/scores.json", scores.dump(1) + "\n");
  files.push_back(o.out_dir + "/scores.json");
  return files;
}

// The backend, once per --devices entry. Replicas must be alike (one kind of device), or a
// batch's bits would depend on which device took it.
std::vector<std::unique_ptr<Backend>> open_replicas(const ProfileOptions& o) {
  std::vector<std::unique_ptr<Backend>> out;
  if (o.devices.empty()) {
    out.push_back(open_backend(o.backend));
    return out;
  }
  for (int d : o.devices) {
    BackendOptions bo = o.backend;
    bo.device = d;
    out.push_back(open_backend(bo));
    const DeviceInfo a = out.front()->device(), b = out.back()->device();
    if (a.name != b.name || a.compute_capability != b.compute_capability || a.sms != b.sms)
      fail("--devices", "device " + std::to_string(d), "a device like device " + std::to_string(a.index) + " (" +
                                                           a.name + "): replicas must give the same bits",
           b.name);
  }
  return out;
}

json device_json(const Backend& b) {
  const DeviceInfo d = b.device();
  return {{"name", d.name}, {"index", d.index}};
}

// The run's facts for summary.json (the rest is added as it becomes known).
std::string summary_name(const ProfileOptions& o) { return task_name(o) + "." + table_method_name(o.method); }

json run_summary(const ProfileOptions& o, const Backend& b, const std::string& sha, const TaskSamples& ts,
                 double u_full, double u_empty, const JournaledGame& jgame, double evals_per_s) {
  const ModelInfo& m = b.model();
  return {{"name", summary_name(o)},
          {"task", task_name(o)},
          {"datasets", ts.datasets},
          {"method", table_method_name(o.method)},
          {"utility", utility_name(o.utility)},
          {"absent", absent_name(o.absent)},
          {"backend", backend_name(b.kind())},
          {"model",
           {{"name", m.cfg.name},
            {"file_sha256", sha},
            {"format", model_format_name(m.format)},
            {"weights", weight_mode_name(m.weights)},
            {"players", m.cfg.n_kv_players()}}},
          {"records", ts.record_ids.size()},
          {"prompt_tokens", {{"min", ts.min_tokens}, {"mean", ts.mean_tokens}, {"max", ts.max_tokens}}},
          {"utility_full", u_full},
          {"utility_empty", u_empty},
          {"evaluations",
           {{"requested", jgame.n_requested()}, {"computed", jgame.n_evaluated()}, {"replayed", jgame.n_replayed()}}},
          // coalitions the model computed per second while estimating (base and replayed excluded)
          {"evaluations_per_s", evals_per_s},
          {"batch", o.batch},
          {"trace", json::array()},
          {"tables", json::array()}};
}

void add_convergence(json& s, const HeadScores& hs) {
  if (!hs.estimate) return;
  const Estimate& e = *hs.estimate;
  s["converged"] = hs.tolerance > 0 ? json(e.converged) : json(nullptr);
  s["chain_mae"] = std::isnan(e.chain_mae) ? json(nullptr) : json(e.chain_mae);
  s["tolerance"] = hs.tolerance;
  s["samples_per_chain"] = e.n_samples;
  s["chains"] = e.n_chains;
  for (const auto& tp : e.trace)
    s["trace"].push_back({{"samples", tp.samples},
                          {"evaluations", tp.evaluations},
                          {"chain_mae", std::isnan(tp.chain_mae) ? json(nullptr) : json(tp.chain_mae)}});
}


// A merge's view of its shards: replay only, and say who computes what is missing.
struct MergeContext {
  uint32_t count = 1;
  std::vector<uint32_t> indices;
  std::vector<std::string> commands;  // per index in `indices`
  double evaluations_per_s = 0;       // the shards' rate together (their summaries), 0 if unknown
};

std::string missing_message(const std::vector<EvalKey>& missing, const MergeContext& mc) {
  std::map<uint32_t, std::set<uint64_t>> by_shard;
  for (const EvalKey& k : missing) by_shard[uint32_t(k.sample % mc.count)].insert(k.sample);
  std::string msg = std::to_string(missing.size()) + " evaluations are in no shard journal given:";
  for (const auto& [i, samples] : by_shard) {
    msg += "\n  shard " + std::to_string(i) + "/" + std::to_string(mc.count) + ": samples";
    int shown = 0;
    for (uint64_t smp : samples) {
      if (shown++ == 12) {
        msg += " ...";
        break;
      }
      msg += " " + std::to_string(smp);
    }
    const auto it = std::find(mc.indices.begin(), mc.indices.end(), i);
    if (it == mc.indices.end())
      msg += "; no journal of this shard was given: run the shards' command with --shard " + std::to_string(i) + "/" +
             std::to_string(mc.count);
    else if (const std::string& c = mc.commands[size_t(it - mc.indices.begin())]; !c.empty())
      msg += "; resume it: " + c + (c.find("--resume") == std::string::npos ? " --resume" : "");
    else
      msg += "; rerun that shard with --resume";
  }
  return msg;
}

// A shard's end: its journal holds its share; a summary says what it did.
ProfileResult finish_shard(const ProfileOptions& opt, const JournaledGame& jgame, const std::string& journal_path,
                           double seconds) {
  ProfileResult res;
  const std::string path = opt.out_dir + "/shard-" + std::to_string(opt.shard_index) + "-of-" +
                           std::to_string(opt.shard_count) + ".summary.json";
  res.summary = {{"shard", {{"index", opt.shard_index}, {"count", opt.shard_count}}},
                 {"journal", fs::path(journal_path).filename().string()},
                 {"evaluations",
                  {{"requested", jgame.n_requested()},
                   {"computed", jgame.n_evaluated()},
                   {"replayed", jgame.n_replayed()},
                   {"other_shards", jgame.n_skipped()}}},
                 {"time_s", seconds},
                 {"merge", "cokv-profile merge <every shard's journal> --out DIR"}};
  write_file_bytes(path, res.summary.dump(1) + "\n");
  res.files = {journal_path, path};
  return res;
}

ProfileResult run_profile_impl(const ProfileOptions& opt, std::ostream* log, const MergeContext* merge) {
  check_options(opt);
  // --threads sets the OpenMP team for the whole run (the runtime's GEMMs and attention too);
  // on a loaded machine one thread can be several times faster than spinning teams.
  struct ThreadsGuard {  // restores the caller's setting
    int saved = omp_get_max_threads();
    ~ThreadsGuard() { omp_set_num_threads(saved); }
  } threads_guard;
  if (opt.threads > 0) omp_set_num_threads(opt.threads);
  const auto t_start = Clock::now();
  json times;
  std::ostringstream devnull_buf;
  std::ostream& plog = log ? *log : devnull_buf;

  // ---- model, samples, game -----------------------------------------------------------------
  auto t0 = Clock::now();
  std::vector<std::unique_ptr<Backend>> replicas = open_replicas(opt);
  Backend* backend = replicas[0].get();
  const ModelInfo& m = backend->model();
  const std::string sha = model_sha256(m.path);
  times["load_model_s"] = seconds_since(t0);
  const int n = m.cfg.n_kv_players();
  if (opt.method == ProfileMethod::Exact && n > 20)
    fail("--method exact", "players", "at most 20 (2^n coalitions)", std::to_string(n));
  TaskSamples ts = task_samples(opt, m);
  const size_t n_records = ts.samples.size();

  ModelGameOptions go;
  go.utility = opt.utility;
  go.absent = opt.absent == AbsentHeads::Zero ? kZeroHead : opt.window;
  go.scorer.kind = ScorerKind::SnapKV;
  go.scorer.window = opt.window;
  t0 = Clock::now();
  std::unique_ptr<ModelGame> game;
  {
    Progress prep(plog, "prefill " + task_name(opt), int64_t(n_records));
    std::vector<Backend*> rp;
    for (auto& r : replicas) rp.push_back(r.get());
    game = std::make_unique<ModelGame>(rp, std::move(ts.samples), go, &prep);
    prep.finish();
  }
  times["prefill_s"] = seconds_since(t0);
  const size_t prepared_bytes = game->prepared_bytes();

  // ---- journal (every method: the base utilities; estimators: every coalition) ----------------
  const std::string journal_path = opt.out_dir + "/" + journal_name(opt);
  json settings = {{"method", profile_method_name(opt.method)},
                   {"model_sha256", sha},
                   {"weights", weight_mode_name(m.weights)},
                   {"task", task_name(opt)},
                   {"datasets", ts.datasets},
                   {"records", ts.record_ids},
                   {"utility", utility_name(opt.utility)},
                   {"absent", absent_name(opt.absent)},
                   {"window", opt.window},
                   {"max_length", opt.max_length},
                   {"chat", longbench::chat_policy_name(opt.chat)},
                   {"cokv_version", COKV_VERSION},
                   {"run", options_json(opt)}};
  settings["run"]["backend"] = backend_name(backend->kind());  // what auto resolved to
  if (opt.shard_count > 1) settings["shard"] = {{"index", opt.shard_index}, {"count", opt.shard_count}};
  std::optional<EstimatorPlan> plan;
  if (is_game_method(opt.method)) {
    plan = plan_estimator(opt, n);
    settings["estimator"] = plan->settings;
  }
  JournaledGame jgame(*game, journal_path, settings, opt.resume ? JournalMode::resume : JournalMode::fresh);
  if (opt.shard_count > 1) {
    jgame.set_share(opt.shard_index, opt.shard_count);
    if (jgame.n_replayed() == 0 && !opt.command_line.empty()) jgame.comment("command: " + opt.command_line);
    jgame.comment("paths: " + json{{"model", m.path}, {"longbench", opt.longbench_dir}}.dump());
  }
  if (merge) jgame.set_replay_only(true);
  double u_empty = 0, u_full = 0;
  evaluate_base(jgame, u_empty, u_full);
  const int64_t computed_before = jgame.n_evaluated();

  // ---- scores and tables ------------------------------------------------------------------------
  t0 = Clock::now();
  HeadScores hs = plan ? score_by_estimator(opt, *plan, jgame, *game, plog)
                  : opt.method == ProfileMethod::Baklava ? score_baklava(opt, *backend, *game, plog)
                                                         : score_taskkv(opt, *game);
  times["scores_s"] = seconds_since(t0);
  if (opt.shard_count > 1) return finish_shard(opt, jgame, journal_path, seconds_since(t_start));
  if (merge && !jgame.missing().empty()) throw Error(missing_message(jgame.missing(), *merge));
  const double est_s = times["scores_s"].get<double>();
  // A merge computes nothing: its rate is the shards' (run side by side).
  const double evals_per_s = merge ? merge->evaluations_per_s
                             : est_s > 0 ? double(jgame.n_evaluated() - computed_before) / est_s
                                         : 0.0;
  std::optional<Convergence> conv;
  if (hs.estimate) {
    // The table says itself whether the profile behind it converged (cokv-eval repeats it).
    conv = assess_convergence(*hs.estimate, n, hs.tolerance, evals_per_s);
    // The table holds what the run computed, not how fast: no times (a merged run's table is
    // byte-identical to the unsharded one).
    json cj = convergence_json(*conv);
    cj.erase("further_seconds");
    Convergence timeless = *conv;
    timeless.further_seconds.reset();
    hs.method["convergence"] = cj;
    hs.method["convergence_statement"] = convergence_sentence(timeless);
  }
  for (double s : hs.values)
    if (!std::isfinite(s)) fail("profile", "scores", "finite values", "a NaN or infinity");
  t0 = Clock::now();
  json selection;
  auto levels = budget_levels(opt, hs, *game, ts.max_tokens, selection);
  BudgetTable table = make_table(opt, m, sha, ts, hs, std::move(levels));
  times["tables_s"] = seconds_since(t0);

  // ---- files ------------------------------------------------------------------------------------
  const std::string name = summary_name(opt);
  json summary = run_summary(opt, *backend, sha, ts, u_full, u_empty, jgame, evals_per_s);
  add_convergence(summary, hs);
  if (conv) {
    summary["convergence"] = convergence_json(*conv);
    summary["convergence_statement"] = convergence_sentence(*conv);
  }
  if (!selection.empty())
    summary["selection"] = {{"mean_budget", sorted_budgets(opt).front()}, {"candidates", selection}};
  for (const auto& lv : table.tables) {
    json t = {{"mean_budget", lv.mean_budget},
              {"min", *std::min_element(lv.budgets.begin(), lv.budgets.end())},
              {"max", *std::max_element(lv.budgets.begin(), lv.budgets.end())}};
    if (lv.alpha) t["alpha"] = *lv.alpha;
    summary["tables"].push_back(t);
  }
  if (!opt.command_line.empty()) summary["command"] = opt.command_line;

  ProfileResult res;
  res.table_path = opt.out_dir + "/" + name + ".budget.json";
  res.files = write_results(opt, table, res.table_path, scores_json(opt, hs, u_full, u_empty), summary, plog);
  res.files.push_back(opt.out_dir + "/summary.json");
  res.files.push_back(opt.out_dir + "/summary.md");
  res.files.push_back(journal_path);
  times["total_s"] = seconds_since(t_start);
  BackendCounters bc = backend->counters();
  summary["devices"] = json::array();
  for (const auto& r : replicas) {  // device memory: the most any replica used
    const BackendCounters rc = r->counters();
    bc.peak_device_bytes = std::max(bc.peak_device_bytes, rc.peak_device_bytes);
    bc.device_reserved_bytes = std::max(bc.device_reserved_bytes, rc.device_reserved_bytes);
    summary["devices"].push_back(device_json(*r));
  }
  summary["time_s"] = times;
  summary["memory"] = {{"prepared_samples_bytes", prepared_bytes},
                       {"prepared_bytes_per_record", double(prepared_bytes) / double(n_records)},
                       {"weight_bytes", bc.weight_bytes},
                       {"peak_state_bytes", bc.peak_state_bytes},
                       {"peak_device_bytes", bc.peak_device_bytes},
                       {"device_reserved_bytes", bc.device_reserved_bytes},
                       {"peak_rss_bytes", peak_rss_bytes()}};
  summary["files"] = relative_to(res.files, opt.out_dir);
  write_file_bytes(opt.out_dir + "/summary.json", summary.dump(1) + "\n");
  write_file_bytes(opt.out_dir + "/summary.md", profile_summary_markdown(summary));
  res.summary = summary;
  res.table = table;
  return res;
}

}  // namespace

ProfileResult run_profile(const ProfileOptions& opt, std::ostream* log) { return run_profile_impl(opt, log, nullptr); }

ProfileResult merge_profile(const std::vector<std::string>& shards, const std::string& out_dir,
                            const MergeOverrides& ov, std::ostream* log) {
  if (out_dir.empty()) fail("options", "--out", "an output folder");
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir)) fail(out_dir, "--out", "a folder that can be created", ec.message());
  const std::string journal = out_dir + "/journal.txt";
  MergedJournal mj = merge_journal_files(shards, journal);
  ProfileOptions o = options_from_json(mj.settings.contains("run") ? mj.settings["run"] : json(), shards[0]);
  // Paths: as the first shard recorded them, unless overridden.
  std::istringstream lines(read_file_bytes(shards[0]));
  for (std::string l; std::getline(lines, l);) {
    if (l.rfind("# paths: ", 0) != 0) continue;
    const json p = json::parse(l.substr(9), nullptr, false);
    if (p.is_object()) {
      o.backend.model_path = p.value("model", std::string());
      o.longbench_dir = p.value("longbench", std::string());
    }
    break;
  }
  if (ov.model_path) o.backend.model_path = *ov.model_path;
  if (ov.longbench_dir) o.longbench_dir = *ov.longbench_dir;
  if (ov.backend) o.backend.kind = *ov.backend;
  if (ov.threads > 0) o.threads = ov.threads;
  if (ov.batch > 0) o.batch = ov.batch;
  o.out_dir = out_dir;
  o.resume = true;
  o.command_line = "cokv-profile merge (" + std::to_string(mj.indices.size()) + " of " + std::to_string(mj.count) +
                   " shards, " + std::to_string(mj.records) + " records)";
  // The shards' rate side by side: all their evaluations over the longest shard's time, from the
  // summaries they wrote beside their journals (when there).
  int64_t computed = 0;
  double longest = 0;
  for (const auto& sh : shards) {
    const std::string sum = sh.substr(0, sh.size() - std::string(".journal").size()) + ".summary.json";
    if (sh.size() <= 8 || !fs::exists(sum)) continue;
    const json j = json::parse(read_file_bytes(sum), nullptr, false);
    if (!j.is_object() || !j.contains("evaluations")) continue;
    computed += j["evaluations"].value("computed", int64_t(0));
    longest = std::max(longest, j.value("time_s", 0.0));
  }
  const MergeContext mc{mj.count, mj.indices, mj.commands, longest > 0 ? double(computed) / longest : 0.0};
  return run_profile_impl(o, log, &mc);
}

}  // namespace cokv::profile
