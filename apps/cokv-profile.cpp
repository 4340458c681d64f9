// cokv-profile: per-head importance scores and KV budget tables for a task (CoKV's Sliced
// Shapley Value and other estimators, BaKlaVa, Task-KV). Parses options; the run lives in
// lib/profile/profile_run.cpp.
//   cokv-profile --longbench SUITE --category few_shot --method ssv --utility loglik
//                --budgets 64,128 --samples 8 --out out/few_shot
//   cokv-profile export out/few_shot/few_shot.cokv-ssv.budget.json --out DIR --reference-length 2000
//                (re-exports an existing table for other engines)
//   cokv-profile ... --shard I/N --out DIR     one shard's share of the coalitions (a journal)
//   cokv-profile merge SHARD.journal... --out DIR   the shards -> the unsharded run's outputs
//   mpirun -np N cokv-profile ...              one shard per rank, rank 0 merges (COKV_MPI builds)
#include <CLI/CLI.hpp>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "core/error.h"
#include "core/mpi.h"
#include "core/stop.h"
#include "export/exports.h"
#include "kv/budget_table.h"
#include "profile/profile_run.h"
#include "runtime/backend.h"

namespace {

// Export settings shared by a profile run and `cokv-profile export` (reference length aside).
void add_export_flags(CLI::App& app, cokv::ExportOptions& e) {
  app.add_option("--headkv-beta", e.headkv_beta, "exports: HeadKV beta of the headkv_budgets files")
      ->check(CLI::PositiveNumber);
  app.add_flag("--headkv-normalize", e.headkv_normalize, "exports: min-max normalise headkv_scores.json");
  app.add_option("--lukv-min-length", e.lukv_min_length,
                 "exports: shortest prompt on which every LU-KV head keeps its window (0: exact at T)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--duo-sink-size", e.duo_sink_size,
                 "exports: DuoAttention sink_size (default: the table's sink)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--duo-recent-size", e.duo_recent_size,
                 "exports: DuoAttention recent_size (default: the table's window; 0 is refused)")
      ->check(CLI::NonNegativeNumber);
}

int run_export(int argc, char** argv) {
  CLI::App app{
      "cokv-profile export: writes a budget table's files for other engines (see exports.json there)"};
  std::string table_path, out_dir;
  cokv::ExportOptions e;
  app.add_option("table", table_path, "a cokv.budget.v1 file")->required();
  app.add_option("--out", out_dir, "output folder")->required();
  app.add_option("--reference-length", e.reference_length, "prompt length T for ratio formats (default 8000)")
      ->check(CLI::PositiveNumber);
  add_export_flags(app, e);
  CLI11_PARSE(app, argc, argv);
  try {
    std::vector<std::string> notes;
    for (const auto& p : cokv::export_all(cokv::read_budget_table(table_path), out_dir, e, &notes))
      std::cout << p << "\n";
    for (const auto& n : notes) std::cerr << "cokv-profile export: " << n << "\n";
  } catch (const std::exception& ex) {
    std::cerr << "cokv-profile export: " << ex.what() << "\n";
    return 1;
  }
  return 0;
}

int run_merge(int argc, char** argv) {
  CLI::App app{"cokv-profile merge: shard journals (--shard I/N runs) -> the outputs one unsharded run writes"};
  std::vector<std::string> shards;
  std::string out, model, longbench, backend;
  cokv::profile::MergeOverrides ov;
  app.add_option("shards", shards, "every shard's journal (shard-I-of-N.journal)")->required()->check(CLI::ExistingFile);
  app.add_option("--out", out, "output folder")->required();
  app.add_option("--model", model, "model path (default: as the first shard recorded it)");
  app.add_option("--longbench", longbench, "suite path (default: as the first shard recorded it)");
  app.add_option("--backend", backend, "auto | cpu | cuda | cuda-emu (default: the shards')")
      ->check(CLI::IsMember({"auto", "cpu", "cuda", "cuda-emu"}));
  app.add_option("--threads", ov.threads, "OpenMP threads (0: OpenMP default)");
  app.add_option("--batch", ov.batch, "coalitions per batched decode (0: the run's)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (!model.empty()) ov.model_path = model;
    if (!longbench.empty()) ov.longbench_dir = longbench;
    if (!backend.empty()) ov.backend = cokv::parse_backend(backend);
    std::cout << cokv::profile::merge_profile(shards, out, ov, &std::cerr).table_path << "\n";
  } catch (const std::exception& e) {
    std::cerr << "cokv-profile merge: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

// "I/N" -> index, count.
bool parse_shard(const std::string& s, uint32_t& index, uint32_t& count) {
  const size_t slash = s.find('/');
  if (slash == std::string::npos) return false;
  try {
    size_t a = 0, b = 0;
    const unsigned long i = std::stoul(s.substr(0, slash), &a), n = std::stoul(s.substr(slash + 1), &b);
    if (a != slash || b != s.size() - slash - 1 || n < 1 || i >= n) return false;
    index = uint32_t(i), count = uint32_t(n);
    return true;
  } catch (const std::logic_error&) {
    return false;
  }
}

// Under mpirun: rank r computes shard r/size into OUT/shards; rank 0 merges once all are done.
int run_mpi(cokv::MpiSession& mpi, cokv::profile::ProfileOptions o) {
  namespace fs = std::filesystem;
  const std::string out = o.out_dir, shard_dir = out + "/shards";
  o.shard_index = uint32_t(mpi.rank());
  o.shard_count = uint32_t(mpi.size());
  o.out_dir = shard_dir;
  try {
    cokv::profile::run_profile(o, mpi.rank() == 0 ? &std::cerr : nullptr);
  } catch (const std::exception& e) {
    std::cerr << "cokv-profile (rank " << mpi.rank() << "): " << e.what() << "\n";
    mpi.abort(1);
  }
  mpi.barrier();
  if (mpi.rank() != 0) return 0;
  std::vector<std::string> shards;
  for (uint32_t i = 0; i < o.shard_count; ++i)
    shards.push_back(shard_dir + "/" + cokv::profile::shard_journal_name(i, o.shard_count));
  try {
    cokv::profile::MergeOverrides ov;
    ov.threads = o.threads;
    ov.batch = o.batch;
    std::cout << cokv::profile::merge_profile(shards, out, ov, &std::cerr).table_path << "\n";
  } catch (const std::exception& e) {
    std::cerr << "cokv-profile merge: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "export") == 0) return run_export(argc - 1, argv + 1);
  if (argc > 1 && std::strcmp(argv[1], "merge") == 0) return run_merge(argc - 1, argv + 1);
  cokv::MpiSession mpi(&argc, &argv);
  if (!cokv::MpiSession::built_with_mpi() && cokv::MpiSession::launcher_ranks() > 1) {
    std::cerr << "cokv-profile: started by mpirun with " << cokv::MpiSession::launcher_ranks()
              << " ranks, but this build has no MPI (COKV_MPI=OFF or none found): use --shard I/N\n";
    return 2;
  }
  CLI::App app{
      "cokv-profile: per-KV-head scores and budget tables (CoKV SSV, BaKlaVa, Task-KV)\n"
      "  cokv-profile export TABLE --out DIR [--reference-length T ...] re-exports a table "
      "(cokv-profile export --help)"};
  cokv::profile::ProfileOptions o;
  std::string distance = "euclidean", tk_score = "frequency", method = "ssv", utility = "loglik",
              absent = "window", alpha = "auto", chat = "none", backend = "auto", weights = "auto";
  int64_t samples = 0;
  std::string shard;
  app.add_option("--model", o.backend.model_path,
                 "GGUF file or Hugging Face folder (default: the model scripts/setup fetched)");
  app.add_option("--weights", weights, "weights in memory: fp32 (the reference) | bf16 | q8_0 | file (kept as the file stores them, the "
                 "smallest) | auto (fp32 up to 4 GiB of fp32 weights, else bf16)")
      ->check(CLI::IsMember(cokv::weight_mode_names()))
      ->capture_default_str();
  app.add_option("--backend", backend, "runtime: " + cokv::backend_help())
      ->check(CLI::IsMember({"auto", "cpu", "cuda", "cuda-emu"}));
  app.add_option("--devices", o.devices,
                 "CUDA: device ordinals, e.g. 0,1,2,3: one model replica per device, coalition batches shared "
                 "out from one queue (the scores do not depend on the number of devices)")
      ->delimiter(',');
  app.add_option("--longbench", o.longbench_dir, "LongBench-format folder (data/, config/)")->required();
  auto* cat =
      app.add_option("--category", o.category, "task category (pools its datasets' validation records)");
  auto* ds = app.add_option("--dataset", o.dataset, "one dataset");
  cat->excludes(ds);
  app.add_option("--method", method,
                 "ssv (CoKV's Sliced Shapley Value: the default, see docs/study.md) | permutation | regression | "
                 "exact | baklava | taskkv")
      ->check(CLI::IsMember({"ssv", "permutation", "regression", "exact", "baklava", "taskkv"}))
      ->capture_default_str();
  app.add_option("--utility", utility,
                 "metric (dataset metric of greedy output, CoKV) | loglik (gold answer)")
      ->check(CLI::IsMember({"metric", "loglik"}));
  app.add_option("--budgets", o.budgets, "mean budgets (tokens per KV head, window included)")
      ->delimiter(',');
  app.add_option("--out", o.out_dir, "output folder")->required();
  app.add_option("--samples", samples,
                 "samples per chain (per slice for ssv); without it: two chains until MAE < --tol")
      ->check(CLI::PositiveNumber);
  app.add_option("--min-samples", o.min_samples, "tolerance mode: samples per chain before the first check");
  app.add_option("--tol", o.tol, "two-chain MAE target (default 1/n without --samples)");
  app.add_option("--max-samples", o.max_samples, "tolerance mode: cap on samples per chain");
  app.add_option("--check-every", o.check_every, "samples per chain between MAE checks");
  app.add_option("--chains", o.chains, "independent chains (>= 2 gives the MAE)")->check(CLI::Range(1, 64));
  app.add_option("--slices", o.slices, "SSV slice sizes (default n/8, n/4, 3n/8, n/2)")->delimiter(',');
  app.add_flag("--left-only", o.left_only, "SSV: credit only the heads in S (CoKV's reference code)");
  app.add_flag("--antithetic", o.antithetic, "permutation: pair each permutation with its reverse");
  app.add_option("--batch", o.batch, "coalitions per batched decode")->check(CLI::Range(1, 4096));
  app.add_option("--absent", absent, "heads outside the coalition: window (CoKV) | zero")
      ->check(CLI::IsMember({"window", "zero"}));
  app.add_option("--window", o.window, "recent prompt tokens every head keeps")->check(CLI::Range(0, 100000));
  app.add_option("--alpha", alpha, "CoKV Eq. 3 alpha: auto (validation pick) | integer");
  app.add_option("--max-length", o.max_length, "middle truncation of prompts in tokens (0: none)");
  app.add_option("--chat", chat, "chat template: none (raw prompts, as CoKV; the default) | longbench (per dataset, as pred.py)")
      ->check(CLI::IsMember({"longbench", "none"}));
  app.add_option("--max-records", o.max_records, "validation records per dataset (0: all)");
  app.add_option("--seed", o.seed, "estimator seed");
  app.add_flag("--resume", o.resume, "replay OUT/journal.txt and continue");
  app.add_option("--shard", shard,
                 "I/N: evaluate only this shard's share of the coalitions into OUT/shard-I-of-N.journal "
                 "(needs --samples); then cokv-profile merge");
  app.add_option("--threads", o.threads, "OpenMP threads for the whole run (0: OpenMP default)");
  app.add_option("--reference-length", o.reference_length,
                 "exports: prompt length T for ratio formats (0: the longest profiled prompt)");
  add_export_flags(app, o.exports);
  app.add_option("--baklava-tokens", o.baklava_tokens, "BaKlaVa: profiled tokens per prompt (0: all)");
  app.add_flag("!--baklava-no-layer-weight", o.baklava_layer_weight,
               "BaKlaVa: scores without the layer proxy");
  app.add_option("--taskkv-beta", o.taskkv.beta, "Task-KV beta");
  app.add_option("--taskkv-m", o.taskkv.m, "Task-KV m");
  app.add_option("--taskkv-top-k", o.taskkv.top_k, "Task-KV positions in the semantic vector");
  app.add_option("--taskkv-distance", distance, "euclidean | cosine")
      ->check(CLI::IsMember({"euclidean", "cosine"}));
  app.add_option("--taskkv-score", tk_score, "static score: frequency | distance")
      ->check(CLI::IsMember({"frequency", "distance"}));
  app.add_option("--taskkv-sink", o.taskkv_sink, "Task-KV sink tokens of ordinary heads");
  app.add_option("--taskkv-full", o.taskkv_full,
                 "budget that means full cache (0: the longest validation prompt)");
  CLI11_PARSE(app, argc, argv);
  o.samples = samples;
  namespace p = cokv::profile;
  if (!shard.empty() && !parse_shard(shard, o.shard_index, o.shard_count)) {
    std::cerr << "cokv-profile: --shard: expected I/N with 0 <= I < N, got '" << shard << "'\n";
    return 2;
  }
  try {
    o.backend.kind = cokv::parse_backend(backend);
    o.backend.weights = cokv::parse_weight_mode(weights);
    o.method = p::parse_profile_method(method);
    o.utility = cokv::parse_utility(utility);
    o.absent = p::parse_absent(absent);
    o.chat = cokv::longbench::chat_policy_from_name(chat);
    if (alpha != "auto") {
      size_t used = 0;
      const int a = std::stoi(alpha, &used);
      if (used != alpha.size() || a < 1) throw std::invalid_argument(alpha);
      o.alpha = a;
    }
  } catch (const std::logic_error&) {
    std::cerr << "cokv-profile: --alpha: expected auto or a positive integer, got '" << alpha << "'\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "cokv-profile: " << e.what() << "\n";
    return 2;
  }
  for (int i = 0; i < argc; ++i) o.command_line += (i ? " " : "") + std::string(argv[i]);
  o.taskkv.distance =
      distance == "cosine" ? cokv::profile::TaskKvDistance::Cosine : cokv::profile::TaskKvDistance::Euclidean;
  o.taskkv.score =
      tk_score == "distance" ? cokv::profile::TaskKvScore::Distance : cokv::profile::TaskKvScore::Frequency;
  if (o.category.empty() && o.dataset.empty()) {
    std::cerr << "cokv-profile: one of --category or --dataset is required\n";
    return 2;
  }
  cokv::install_stop_handlers();
  if (mpi.size() > 1) {
    if (!shard.empty()) {
      std::cerr << "cokv-profile: --shard and mpirun both split the run: use one\n";
      return 2;
    }
    return run_mpi(mpi, o);
  }
  try {
    const auto res = cokv::profile::run_profile(o, &std::cerr);
    if (o.shard_count > 1)
      std::cout << o.out_dir << "/" << cokv::profile::shard_journal_name(o.shard_index, o.shard_count) << "\n";
    else
      std::cout << res.table_path << "\n";
  } catch (const cokv::Stopped& e) {
    std::cerr << "\ncokv-profile: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "cokv-profile: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
