// cokv-profile's run (see profile_run.h).
#include "profile/profile_run.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/error.h"
#include "core/paths.h"
#include "core/progress.h"
#include "core/sha256.h"
#include "export/exports.h"
#include "profile/allocation.h"
#include "profile/baklava.h"
#include "profile/estimators.h"
#include "profile/journal.h"
#include "profile/model_game.h"
#include "profile/samples.h"
#include "profile/sampling.h"
#include "report/gnuplot.h"
#include "report/heatmap.h"
#include "runtime/model.h"

namespace cokv::profile {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string table_method_name(const std::string& method) {
  if (method == "ssv" || method == "permutation" || method == "regression" || method == "exact")
    return "cokv-" + method;
  if (method == "baklava" || method == "taskkv") return method;
  fail("--method", "method", "ssv, permutation, regression, exact, baklava or taskkv", method);
}

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string hex_double(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", x);
  return buf;
}

std::string fmt(double x, int prec = 4) {
  std::ostringstream o;
  o.precision(prec);
  o << x;
  return o.str();
}

std::string budget_label(double b) {
  std::ostringstream o;
  o << b;
  return o.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  if (!out) fail(path, "file", "writable");
  out << text;
  if (!out) fail(path, "file", "written completely");
}

// Paths relative to the output folder (summary.json stays valid when the folder moves).
std::vector<std::string> relative_to(const std::vector<std::string>& files, const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(fs::path(f).lexically_relative(dir).generic_string());
  return out;
}

void check_options(const ProfileOptions& o) {
  if (o.longbench_dir.empty()) fail("options", "--longbench", "a LongBench-format folder");
  if (o.category.empty() == o.dataset.empty()) fail("options", "--category/--dataset", "exactly one of them");
  if (o.out_dir.empty()) fail("options", "--out", "an output folder");
  if (o.budgets.empty()) fail("options", "--budgets", "at least one mean budget");
  for (double b : o.budgets)
    if (!(b >= o.window))
      fail("options", "--budgets", "mean budgets >= the window (" + std::to_string(o.window) + ")", fmt(b));
  if (o.absent != "window" && o.absent != "zero") fail("options", "--absent", "window or zero", o.absent);
  if (o.window < 0) fail("options", "--window", ">= 0", std::to_string(o.window));
  if (o.batch < 1) fail("options", "--batch", ">= 1", std::to_string(o.batch));
  if (o.alpha != "auto") {
    try {
      if (std::stoi(o.alpha) < 1) throw 0;
    } catch (...) {
      fail("options", "--alpha", "auto or a positive integer", o.alpha);
    }
  }
  (void)table_method_name(o.method);
}

}  // namespace

ProfileResult run_profile(const ProfileOptions& opt, std::ostream* log) {
  check_options(opt);
  // --threads sets the OpenMP team for the whole run (the runtime's GEMMs and attention too);
  // on a loaded machine one thread can be several times faster than spinning teams.
  struct ThreadsGuard {  // restores the caller's setting
    int saved = omp_get_max_threads();
    ~ThreadsGuard() { omp_set_num_threads(saved); }
  } threads_guard;
  if (opt.threads > 0) omp_set_num_threads(opt.threads);
  const auto t_start = Clock::now();
  json summary;
  json times;
  std::ostringstream devnull_buf;
  std::ostream& plog = log ? *log : devnull_buf;

  // ---- model and data --------------------------------------------------------------------
  const std::string model_path = opt.model_path.empty() ? default_model_path() : opt.model_path;
  auto t0 = Clock::now();
  std::unique_ptr<Model> model = Model::load(model_path);
  const Model& m = *model;
  const std::string sha = sha256_file_hex(model_path);
  times["load_model_s"] = seconds_since(t0);
  const int n = m.cfg.n_kv_players();
  const int L = m.cfg.n_layers, G = m.cfg.n_kv_heads;
  if (opt.method == "exact" && n > 20)
    fail("--method exact", "players", "at most 20 (2^n coalitions)", std::to_string(n));

  const Suite suite = open_suite(opt.longbench_dir);
  const auto datasets = task_datasets(suite, opt.category, opt.dataset);
  const std::string task_name = opt.category.empty() ? opt.dataset : opt.category;
  SampleOptions so;
  so.max_length = opt.max_length;
  so.chat = longbench::chat_policy_from_name(opt.chat);
  so.max_records = opt.max_records;
  std::vector<Sample> samples = validation_samples(m, suite, datasets, so);
  json record_ids = json::array();
  int min_t = 1 << 30, max_t = 0;
  double sum_t = 0;
  for (const auto& s : samples) {
    record_ids.push_back(s.dataset + "/" + s.id);
    min_t = std::min<int>(min_t, int(s.prompt.size()));
    max_t = std::max<int>(max_t, int(s.prompt.size()));
    sum_t += double(s.prompt.size());
  }
  const size_t n_records = samples.size();

  const Utility utility = parse_utility(opt.utility);
  ModelGameOptions go;
  go.utility = utility;
  go.absent = opt.absent == "zero" ? kZeroHead : opt.window;
  go.scorer.kind = ScorerKind::SnapKV;
  go.scorer.window = opt.window;
  t0 = Clock::now();
  std::unique_ptr<ModelGame> game;
  {
    Progress prep(plog, "prefill " + task_name, int64_t(n_records));
    game = std::make_unique<ModelGame>(m, std::move(samples), go, &prep);
    prep.finish();
  }
  times["prefill_s"] = seconds_since(t0);
  const size_t prepared_bytes = game->prepared_bytes();

  // ---- journal (every method: the base utilities; estimators: every coalition) --------------
  fs::create_directories(opt.out_dir);
  const std::string journal_path = opt.out_dir + "/journal.txt";
  json settings = {{"method", opt.method}, {"model_sha256", sha},   {"task", task_name},
                   {"datasets", datasets}, {"records", record_ids}, {"utility", opt.utility},
                   {"absent", opt.absent}, {"window", opt.window},  {"max_length", opt.max_length},
                   {"chat", opt.chat}};

  const std::string method_name = table_method_name(opt.method);
  const bool game_method = opt.method != "baklava" && opt.method != "taskkv";

  SamplingOptions sampling;
  sampling.seed = opt.seed;
  sampling.batch_size = opt.batch;
  sampling.n_threads = opt.threads;
  sampling.chains = opt.chains;
  if (opt.samples > 0 && opt.tol <= 0) {
    sampling.samples = opt.samples;
    sampling.check_every = opt.check_every > 0 ? opt.check_every : std::max<int64_t>(1, opt.samples / 4);
  } else {
    sampling.samples = opt.samples > 0 ? opt.samples : opt.min_samples;
    sampling.tolerance = opt.tol > 0 ? opt.tol : 1.0 / n;
    sampling.max_samples = opt.max_samples;
    sampling.check_every = opt.check_every > 0 ? opt.check_every : std::max<int64_t>(1, sampling.samples / 2);
    sampling.chains = std::max(2, opt.chains);
  }
  SsvOptions ssv_opt;
  ssv_opt.sampling = sampling;
  ssv_opt.slices = opt.slices;
  ssv_opt.left_only = opt.left_only;
  PermutationOptions perm_opt;
  perm_opt.sampling = sampling;
  perm_opt.antithetic = opt.antithetic;
  RegressionOptions reg_opt;
  reg_opt.sampling = sampling;
  reg_opt.target = Target::ssv;
  reg_opt.slices = opt.slices;
  if (opt.method == "ssv") settings["estimator"] = settings_json(ssv_opt);
  if (opt.method == "permutation") settings["estimator"] = settings_json(perm_opt);
  if (opt.method == "regression") settings["estimator"] = settings_json(reg_opt);
  if (opt.method == "exact") settings["estimator"] = {{"slices", opt.slices}};

  JournaledGame jgame(*game, journal_path, settings, opt.resume ? JournalMode::resume : JournalMode::fresh);
  double u_empty = 0, u_full = 0;
  evaluate_base(jgame, u_empty, u_full);
  const int64_t computed_before = jgame.n_evaluated();

  // ---- scores --------------------------------------------------------------------------------
  t0 = Clock::now();
  std::vector<double> scores, stderr_;
  json method = {{"name", method_name},
                 {"utility", opt.utility},
                 {"seed", opt.seed},
                 {"absent", opt.absent},
                 {"scorer", "snapkv"}};
  json trace = json::array();
  Estimate est;
  bool have_est = false;
  std::string extra_md;

  if (game_method) {
    const std::vector<int> slices = resolve_slices(opt.slices, n, "--slices");
    int64_t expected = 0;
    // With a tolerance the total is the cap (the ETA is then an upper bound).
    const int64_t per_chain =
        sampling.tolerance <= 0
            ? sampling.samples
            : std::max(sampling.samples,
                       sampling.max_samples > 0 ? sampling.max_samples : 20 * sampling.samples);
    if (opt.method == "ssv") expected = int64_t(sampling.chains) * int64_t(slices.size()) * per_chain * 2;
    if (opt.method == "regression") expected = int64_t(sampling.chains) * per_chain * 2;
    if (opt.method == "exact") expected = int64_t(1) << std::min(n, 40);
    Progress prog(plog, "profile " + task_name + " " + method_name, expected);
    game->set_progress(&prog);
    auto on_check = [&](const Estimate& e) {
      prog.update(e.n_evaluations,
                  std::isnan(e.chain_mae)
                      ? std::string()
                      : "mae " + fmt(e.chain_mae, 3) + " (target " +
                            (sampling.tolerance > 0 ? fmt(sampling.tolerance, 3) : std::string("-")) + ")");
    };
    ssv_opt.sampling.progress = perm_opt.sampling.progress = reg_opt.sampling.progress = on_check;
    if (opt.method == "ssv") est = sliced_shapley(jgame, ssv_opt);
    if (opt.method == "permutation") est = permutation_shapley(jgame, perm_opt);
    if (opt.method == "regression") est = regression_values(jgame, reg_opt);
    if (opt.method == "exact") {
      if (n > 20) fail("--method exact", "players", "at most 20 (2^n coalitions)", std::to_string(n));
      est = exact_ssv(exact_values(jgame, opt.batch), opt.slices);
    }
    prog.finish(std::isnan(est.chain_mae) ? std::string() : "mae " + fmt(est.chain_mae, 3));
    game->set_progress(nullptr);
    have_est = true;
    scores = est.values;
    stderr_ = est.std_error;
    method["estimator"] = est.method;
    if (!est.slices.empty()) method["slices"] = est.slices;
    if (opt.method == "ssv") method["left_only"] = opt.left_only;
    method["samples_per_chain"] = est.n_samples;
    if (opt.method == "ssv") method["samples_per_slice"] = est.n_samples * est.n_chains;
    method["chains"] = est.n_chains;
    method["tolerance"] = sampling.tolerance;
    // With a fixed sample count there is no target to converge to: null, not true.
    method["converged"] = sampling.tolerance > 0 ? json(est.converged) : json(nullptr);
    method["converged_mae"] = std::isnan(est.chain_mae) ? json(nullptr) : json(est.chain_mae);
    method["evaluations"] = est.n_evaluations;
    for (const auto& tp : est.trace)
      trace.push_back({{"samples", tp.samples},
                       {"evaluations", tp.evaluations},
                       {"chain_mae", std::isnan(tp.chain_mae) ? json(nullptr) : json(tp.chain_mae)}});
  } else if (opt.method == "baklava") {
    BaklavaObserver obs(m, opt.baklava_tokens);
    Progress prog(plog, "baklava " + task_name, int64_t(game->n_samples()));
    for (const auto& ps : game->prepared_samples()) {
      PrefillOptions po;
      po.observer = &obs;
      po.keep_kv = false;
      (void)prefill(m, ps->sample().prompt, po);
      prog.add(1);
    }
    prog.finish();
    const auto imp = obs.kv_head_importance();
    const auto lp = obs.layer_proxy();
    scores = baklava_scores(imp, lp, G, opt.baklava_layer_weight);
    method["profiled_tokens"] = obs.n_tokens();
    method["tokens_per_prompt"] = opt.baklava_tokens;
    method["layer_weight"] = opt.baklava_layer_weight;
    method["kv_head_importance"] = imp;
    method["layer_proxy"] = lp;
    method["query_head_importance"] = obs.query_head_importance();
  } else {  // taskkv
    TaskKvProfiler prof(L, G, opt.taskkv);
    for (const auto& ps : game->prepared_samples()) prof.add(ps->kv());
    scores = prof.scores();
    const auto het = prof.heterogeneous();
    std::vector<int> f;
    for (int il = 0; il < L; ++il) f.push_back(taskkv_count(il, L, G, opt.taskkv.beta, opt.taskkv.m));
    method["score"] = opt.taskkv.score == TaskKvScore::Frequency ? "frequency" : "distance";
    method["distance"] = opt.taskkv.distance == TaskKvDistance::Euclidean ? "euclidean" : "cosine";
    method["beta"] = opt.taskkv.beta;
    method["m"] = opt.taskkv.m;
    method["top_k"] = opt.taskkv.top_k;
    method["f"] = f;
    method["heterogeneous"] = het;
    method["mean_distance"] = prof.mean_distance();
    method["frequency"] = prof.frequency();
    method["scorer"] = "taskkv";
  }
  times["scores_s"] = seconds_since(t0);
  method["time_s"] = times["scores_s"];
  for (double s : scores)
    if (!std::isfinite(s)) fail("profile", "scores", "finite values", "a NaN or infinity");

  // ---- tables ----------------------------------------------------------------------------------
  t0 = Clock::now();
  BudgetTable table;
  table.model = {m.cfg.name, m.cfg.arch, L, m.cfg.n_heads, G, m.cfg.head_dim, sha};
  table.task = {{"datasets", datasets},  {"samples", n_records},
                {"records", record_ids}, {"max_length", opt.max_length},
                {"chat", opt.chat},      {"suite", fs::path(opt.longbench_dir).filename().string()}};
  if (!opt.category.empty())
    table.task["category"] = opt.category;
  else
    table.task["dataset"] = opt.dataset;
  table.scores = scores;
  // Standard errors are undefined (inf/NaN) when a head was drawn fewer than twice in a slice:
  // the table then carries none (scores.json still has them).
  bool stderr_finite = !stderr_.empty() && stderr_.size() == scores.size();
  for (double e : stderr_) stderr_finite = stderr_finite && std::isfinite(e);
  if (stderr_finite)
    table.score_stderr = stderr_;
  else if (!stderr_.empty())
    method["score_stderr"] = "undefined (too few samples per head)";
  table.window = opt.window;
  table.sink = 0;
  std::vector<double> budgets = opt.budgets;
  std::sort(budgets.begin(), budgets.end());
  budgets.erase(std::unique(budgets.begin(), budgets.end()), budgets.end());
  const double smallest = budgets.front();
  json selection = json::array();

  if (game_method) {
    int alpha = 0;
    if (opt.alpha == "auto") {
      // CoKV: evaluate every candidate alpha's table at the smallest budget on validation.
      const auto cands = cokv_candidates(scores, smallest, opt.window);
      std::vector<BudgetVector> bv;
      for (const auto& c : cands)
        bv.push_back(BudgetVector{std::vector<int32_t>(c.budgets.begin(), c.budgets.end())});
      const auto u = game->evaluate_budgets(bv, utility);
      size_t best = 0;
      for (size_t k = 0; k < cands.size(); ++k) {
        selection.push_back({{"alpha", cands[k].alpha}, {"utility", u[k]}});
        if (u[k] > u[best]) best = k;
      }
      alpha = cands[best].alpha;
      method["alpha_selection"] = {
          {"mean_budget", smallest}, {"utility", opt.utility}, {"candidates", selection}, {"chosen", alpha}};
    } else {
      alpha = std::min(std::stoi(opt.alpha), n);
    }
    method["alpha"] = alpha;
    for (double b : budgets) {
      BudgetLevel lv;
      lv.mean_budget = b;
      lv.alpha = alpha;
      lv.budgets = allocate_cokv(scores, b, opt.window, alpha);
      table.tables.push_back(lv);
    }
  } else if (opt.method == "baklava") {
    // Search (floor, exponent) at the smallest budget by validation answer log-likelihood.
    const auto grid = baklava_grid(opt.window, smallest);
    std::vector<BudgetVector> bv;
    for (const auto& c : grid) {
      const auto b = allocate_proportional(scores, smallest, c.floor, c.exponent);
      bv.push_back(BudgetVector{std::vector<int32_t>(b.begin(), b.end())});
    }
    const auto u = game->evaluate_budgets(bv, Utility::Loglik);
    size_t best = 0;
    for (size_t k = 0; k < grid.size(); ++k) {
      selection.push_back({{"floor", grid[k].floor}, {"exponent", grid[k].exponent}, {"loglik", u[k]}});
      if (u[k] > u[best]) best = k;
    }
    method["search"] = {{"mean_budget", smallest},
                        {"utility", "loglik"},
                        {"candidates", selection},
                        {"floor", grid[best].floor},
                        {"exponent", grid[best].exponent}};
    for (double b : budgets) {
      BudgetLevel lv;
      lv.mean_budget = b;
      const int floor = std::min<int>(grid[best].floor, int(std::floor(b)));
      lv.budgets = allocate_proportional(scores, b, std::max(floor, opt.window), grid[best].exponent);
      lv.extra = {{"floor", std::max(floor, opt.window)}, {"exponent", grid[best].exponent}};
      table.tables.push_back(lv);
    }
  } else {
    table.sink = opt.taskkv_sink;
    const int full = opt.taskkv_full > 0 ? opt.taskkv_full : max_t;
    method["full_budget"] = full;
    std::vector<uint8_t> het = method["heterogeneous"].get<std::vector<uint8_t>>();
    for (double b : budgets) {
      BudgetLevel lv;
      lv.mean_budget = b;
      lv.budgets = taskkv_static_budgets(het, L, G, b, opt.window, opt.taskkv_sink, full);
      table.tables.push_back(lv);
    }
  }
  table.method = method;
  times["tables_s"] = seconds_since(t0);

  // ---- files -----------------------------------------------------------------------------------
  ProfileResult res;
  const std::string name = task_name + "." + method_name;
  res.table_path = opt.out_dir + "/" + name + ".budget.json";
  write_budget_table(res.table_path, table);
  res.files.push_back(res.table_path);
  for (auto& p : write_npy_twin(res.table_path, table)) res.files.push_back(p);
  // Ratio formats default to the longest profiled prompt: the prompt length the table was made on.
  ExportOptions eo = opt.exports;
  eo.reference_length = opt.reference_length > 0 ? opt.reference_length : std::max(1, int(max_t));
  std::vector<std::string> export_notes;
  for (auto& p : export_all(table, opt.out_dir + "/exports", eo, &export_notes)) res.files.push_back(p);
  for (const auto& note : export_notes) plog << "exports: " << note << "\n";
  std::string heatmap_note;
  if (gnuplot_available()) {
    HeatmapOptions ho;
    ho.title = name + " (" + opt.utility + ")";
    ho.value_label = method_name + " score";
    const std::string png = opt.out_dir + "/" + name + ".scores.png",
                      svg = opt.out_dir + "/" + name + ".scores.svg";
    write_heatmap(scores, L, G, png, svg, ho);
    res.files.push_back(png);
    res.files.push_back(svg);
  } else {
    heatmap_note = "gnuplot not found: no heatmap";
  }

  json sj = {{"method", method_name}, {"values", scores}};
  json hex = json::array();
  for (double v : scores) hex.push_back(hex_double(v));
  sj["values_hex"] = hex;
  if (!stderr_.empty()) sj["std_error"] = stderr_;
  if (have_est && !est.slice_values.empty()) sj["slice_values"] = est.slice_values;
  sj["utility_full"] = u_full;
  sj["utility_empty"] = u_empty;
  write_text(opt.out_dir + "/scores.json", sj.dump(1) + "\n");
  res.files.push_back(opt.out_dir + "/scores.json");

  // ---- summary -----------------------------------------------------------------------------------
  times["total_s"] = seconds_since(t_start);
  const double est_s = times["scores_s"].get<double>();
  summary = {{"task", task_name},
             {"datasets", datasets},
             {"method", method_name},
             {"utility", opt.utility},
             {"model", {{"name", m.cfg.name}, {"file_sha256", sha}, {"players", n}}},
             {"records", n_records},
             {"prompt_tokens", {{"min", min_t}, {"mean", sum_t / double(n_records)}, {"max", max_t}}},
             {"utility_full", u_full},
             {"utility_empty", u_empty},
             {"time_s", times},
             {"evaluations",
              {{"requested", jgame.n_requested()},
               {"computed", jgame.n_evaluated()},
               {"replayed", jgame.n_replayed()}}},
             // coalitions the model computed per second while estimating (base and replayed excluded)
             {"evaluations_per_s", est_s > 0 ? double(jgame.n_evaluated() - computed_before) / est_s : 0.0},
             {"memory",
              {{"prepared_samples_bytes", prepared_bytes},
               {"prepared_bytes_per_record", double(prepared_bytes) / double(n_records)},
               {"peak_rss_bytes", peak_rss_bytes()}}},
             {"batch", opt.batch},
             {"trace", trace},
             {"tables", json::array()},
             {"files", relative_to(res.files, opt.out_dir)}};
  if (have_est) {
    summary["converged"] = sampling.tolerance > 0 ? json(est.converged) : json(nullptr);
    summary["chain_mae"] = std::isnan(est.chain_mae) ? json(nullptr) : json(est.chain_mae);
    summary["samples_per_chain"] = est.n_samples;
    summary["chains"] = est.n_chains;
  }
  if (!opt.command_line.empty()) summary["command"] = opt.command_line;
  if (!heatmap_note.empty()) summary["note"] = heatmap_note;
  for (const auto& lv : table.tables) {
    json t = {{"mean_budget", lv.mean_budget},
              {"min", *std::min_element(lv.budgets.begin(), lv.budgets.end())},
              {"max", *std::max_element(lv.budgets.begin(), lv.budgets.end())}};
    if (lv.alpha) t["alpha"] = *lv.alpha;
    summary["tables"].push_back(t);
  }
  write_text(opt.out_dir + "/summary.json", summary.dump(1) + "\n");

  std::ostringstream md;
  md << "# cokv-profile: " << name << "\n\n";
  md << "| | |\n|---|---|\n";
  md << "| model | " << m.cfg.name << " (" << n << " KV heads) |\n";
  md << "| task | " << task_name << ": " << json(datasets).dump() << ", " << n_records
     << " validation records, " << min_t << "-" << max_t << " prompt tokens |\n";
  md << "| utility | " << opt.utility << "; full cache " << fmt(u_full) << ", "
     << (opt.absent == "zero" ? "all heads zeroed " : "window only ") << fmt(u_empty) << " |\n";
  md << "| time | " << format_duration(times["total_s"].get<double>()) << " total, prefill "
     << fmt(times["prefill_s"].get<double>(), 3) << " s, scores " << fmt(est_s, 3) << " s |\n";
  md << "| evaluations | " << jgame.n_evaluated() << " computed, " << jgame.n_replayed() << " replayed, "
     << fmt(summary["evaluations_per_s"].get<double>(), 3) << " /s |\n";
  md << "| memory | prepared samples " << fmt(double(prepared_bytes) / 1048576.0, 4) << " MiB, peak RSS "
     << fmt(double(peak_rss_bytes()) / 1048576.0, 4) << " MiB |\n";
  if (have_est)
    md << "| convergence | " << est.n_chains << " chains x " << est.n_samples << " samples, MAE "
       << (std::isnan(est.chain_mae) ? std::string("n/a") : fmt(est.chain_mae, 3))
       << (sampling.tolerance <= 0 ? " (fixed sample count)" : est.converged ? " (converged)" : " (not converged)")
       << " |\n";
  md << "\n## Tables\n\n| mean budget | min | max | alpha |\n|---|---|---|---|\n";
  for (const auto& t : summary["tables"])
    md << "| " << t["mean_budget"].dump() << " | " << t["min"].dump() << " | " << t["max"].dump() << " | "
       << (t.contains("alpha") ? t["alpha"].dump() : "-") << " |\n";
  if (!trace.empty()) {
    md << "\n## Convergence trace\n\n| samples | evaluations | chain MAE |\n|---|---|---|\n";
    for (const auto& tp : trace)
      md << "| " << tp["samples"].dump() << " | " << tp["evaluations"].dump() << " | "
         << tp["chain_mae"].dump() << " |\n";
  }
  if (!selection.empty())
    md << "\n## Selection at mean budget " << budget_label(smallest) << "\n\n```\n"
       << selection.dump() << "\n```\n";
  write_text(opt.out_dir + "/summary.md", md.str());
  res.files.push_back(opt.out_dir + "/summary.json");
  res.files.push_back(opt.out_dir + "/summary.md");
  res.files.push_back(journal_path);
  res.summary = summary;
  res.table = table;
  return res;
}

}  // namespace cokv::profile
