// cokv-profile: per-head importance scores and KV budget tables for a task (CoKV's Sliced
// Shapley Value and other estimators, BaKlaVa, Task-KV). Parses options; the run lives in
// lib/profile/profile_run.cpp.
//   cokv-profile --longbench SUITE --category few_shot --method ssv --utility loglik
//                --budgets 64,128 --samples 8 --out out/few_shot
#include <CLI/CLI.hpp>
#include <iostream>

#include "core/error.h"
#include "core/stop.h"
#include "profile/profile_run.h"
#include "runtime/backend.h"

int main(int argc, char** argv) {
  CLI::App app{"cokv-profile: per-KV-head scores and budget tables (CoKV SSV, BaKlaVa, Task-KV)"};
  cokv::profile::ProfileOptions o;
  std::string distance = "euclidean", tk_score = "frequency", method = "ssv", utility = "loglik",
              absent = "window", alpha = "auto", chat = "none", backend = "auto";
  int64_t samples = 0;
  app.add_option("--model", o.backend.model_path, "GGUF model (default: the model scripts/setup fetched)");
  app.add_option("--backend", backend, "runtime: auto | cpu | cuda (this build: " + cokv::built_backends() + ")")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app.add_option("--longbench", o.longbench_dir, "LongBench-format folder (data/, config/)")->required();
  auto* cat =
      app.add_option("--category", o.category, "task category (pools its datasets' validation records)");
  auto* ds = app.add_option("--dataset", o.dataset, "one dataset");
  cat->excludes(ds);
  app.add_option("--method", method, "ssv | permutation | regression | exact | baklava | taskkv")
      ->check(CLI::IsMember({"ssv", "permutation", "regression", "exact", "baklava", "taskkv"}));
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
  app.add_option("--threads", o.threads, "OpenMP threads for the whole run (0: OpenMP default)");
  app.add_option("--reference-length", o.reference_length, "exports: prompt length T for ratio formats");
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
  try {
    o.backend.kind = cokv::parse_backend(backend);
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
  try {
    const auto res = cokv::profile::run_profile(o, &std::cerr);
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
