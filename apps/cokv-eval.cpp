// cokv-eval: LongBench-format evaluation. Subcommands:
//   run --longbench DIR --datasets a,b --methods full,uniform --budgets 64,128 --out OUT
//                                                    evaluate KV methods x budgets (lib/eval/eval_run.h)
//   score PRED.jsonl... [--dataset D] [--json FILE]   rescore prediction files (LongBench eval.py)
// Each subcommand is one setup_<name>() that declares its options and a callback into lib/;
// the app itself holds no evaluation logic.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/paths.h"
#include "core/progress.h"
#include "core/stop.h"
#include "data/score_file.h"
#include "eval/eval_run.h"
#include "runtime/backend.h"

namespace {

void setup_run(CLI::App& app) {
  struct Args {
    cokv::BackendOptions backend;
    std::string backend_kind = "auto", weights = "auto", utility = "metric", scorer = "snapkv", chat = "none",
                split = "test";
    cokv::EvalRunOptions opt;
  };
  auto args = std::make_shared<Args>();
  cokv::EvalRunOptions& o = args->opt;
  o.dataset_table = cokv::configs_dir() + "/longbench.json";
  CLI::App* cmd =
      app.add_subcommand("run", "Evaluate KV methods x budgets on a LongBench-format suite (resumable)");
  args->backend.model_path = cokv::default_model_path();
  cmd->add_option("--model", args->backend.model_path, "GGUF file or Hugging Face folder")->capture_default_str();
  cmd->add_option("--weights", args->weights, "weights in memory: fp32 (the reference) | bf16 | q8_0 | file (kept as the file stores them, the "
                 "smallest) | auto (fp32 up to 4 GiB of fp32 weights, else bf16)")
      ->check(CLI::IsMember(cokv::weight_mode_names()))
      ->capture_default_str();
  cmd->add_option("--backend", args->backend_kind, "Runtime: " + cokv::backend_help())
      ->check(CLI::IsMember({"auto", "cpu", "cuda", "cuda-emu"}))
      ->capture_default_str();
  cmd->add_option("--utility", args->utility,
                  "metric: greedy output scored by the dataset metric | loglik: mean gold-answer log-likelihood")
      ->check(CLI::IsMember({"metric", "loglik"}))
      ->capture_default_str();
  cmd->add_option("--longbench", o.benchmark_dir, "LongBench checkout or local suite folder (data/, config/)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--datasets", o.datasets,
                  "Datasets to run (comma separated; all = every dataset with a data file)")
      ->delimiter(',');
  cmd->add_option(
      "--category", o.category,
      "All datasets of a category (single_doc_qa, multi_doc_qa, summarization, few_shot, synthetic, code)");
  cmd->add_option("--methods", o.methods, "Built-in methods: full, uniform, adakv, pyramidkv, streaming")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--budgets", o.budgets,
                  "Mean KV budgets per head (window included) for the built-in methods")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--tables", o.tables,
                  "cokv.budget.v1 files (cokv-profile): every table is a method at its mean budget")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--allow-model-mismatch", o.allow_model_mismatch,
                  "Evaluate tables made for another model of the same shape (warns)");
  cmd->add_option("--scorer", args->scorer, "Token choice inside a head: snapkv | ahakv")
      ->check(CLI::IsMember({"snapkv", "ahakv"}))
      ->capture_default_str();
  cmd->add_option("--window", o.window, "Recent prompt tokens every head keeps")->capture_default_str();
  cmd->add_option("--max-length", o.max_length, "Prompt tokens kept by middle truncation (0 = all)")
      ->capture_default_str();
  cmd->add_option("--chat", args->chat,
                  "Chat template: none (raw prompts, as CoKV; cokv-profile's default too) | longbench (per dataset, "
                  "as pred.py)")
      ->check(CLI::IsMember({"none", "longbench"}))
      ->capture_default_str();
  cmd->add_option("--split", args->split, "CoKV's seed-42 split: test | validation | all")
      ->check(CLI::IsMember({"test", "validation", "all"}))
      ->capture_default_str();
  cmd->add_option("--max-records", o.max_records, "First N records of the split per dataset (0 = all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-new", o.max_new_cap, "Cap on every dataset's max new tokens (0 = the dataset's)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--latency", o.latency_records,
                  "After scoring, time N records per method alone (compacted cache)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("!--no-plots", o.plots, "Do not draw the score-vs-budget plots");
  cmd->add_flag("--plots-per-dataset", o.plots_per_dataset, "Also draw one score-vs-budget plot per dataset");
  cmd->add_option("--out", o.out_dir, "Output folder (predictions.jsonl, scores.json, results.md, plots)")
      ->required();
  cmd->callback([args] {
    cokv::EvalRunOptions& o = args->opt;
    args->backend.kind = cokv::parse_backend(args->backend_kind);
    args->backend.weights = cokv::parse_weight_mode(args->weights);
    o.utility = cokv::parse_utility(args->utility);
    o.scorer = cokv::parse_scorer(args->scorer);
    o.chat = cokv::longbench::chat_policy_from_name(args->chat);
    o.split = cokv::parse_split(args->split);
    cokv::check_eval_run(o);  // options and --out before the model loads
    auto backend = cokv::open_backend(args->backend);
    cokv::Progress prog(std::cerr, "eval", 0);
    const auto sum = cokv::run_eval(*backend, o, &prog);
    prog.finish();
    for (const auto& n : sum.notes) std::cerr << "note: " << n << "\n";
    std::cerr << sum.n_records << " records: " << sum.n_records_run << " evaluated, " << sum.n_predictions_new
              << " new predictions, " << sum.n_predictions_kept << " reused\n";
    std::cout << cokv::read_file_bytes(sum.results_path);
  });
}

void setup_score(CLI::App& app) {
  struct Args {
    std::vector<std::string> files;
    std::string dataset, json_out;
    bool skip_bad = false;
    int rouge_recursion = cokv::longbench::RougeOptions{}.max_recursion;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "score", "Rescore LongBench-style prediction files (pred, answers, all_classes, dataset)");
  cmd->add_option("files", args->files, "Prediction JSONL files")->required()->check(CLI::ExistingFile);
  cmd->add_option("--dataset", args->dataset,
                  "Dataset of every record (default: the record's 'dataset' field, else the file name)");
  cmd->add_option("--json", args->json_out, "Also write the scores as JSON to this file");
  cmd->add_flag("--skip-bad", args->skip_bad, "Skip unreadable records (counted) instead of stopping");
  cmd->add_option("--rouge-recursion-limit", args->rouge_recursion,
                  "ROUGE-L: LCS reconstruction depth at which the reference (Python) fails and scores 0; "
                  "0 = no limit")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([args] {
    cokv::longbench::ScoreOptions opt;
    opt.dataset = args->dataset;
    opt.skip_bad = args->skip_bad;
    opt.rouge.max_recursion = args->rouge_recursion;
    const auto report = cokv::longbench::score_prediction_files(args->files, opt);
    std::cout << cokv::longbench::format_score_table(report);
    if (report.n_skipped > 0)
      std::cerr << "skipped " << report.n_skipped << " bad record(s); first: " << report.first_error << "\n";
    if (!args->json_out.empty()) cokv::write_file_bytes(args->json_out, cokv::longbench::score_report_json(report));
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cokv-eval: LongBench-format evaluation"};
  app.require_subcommand(1);
  setup_run(app);
  setup_score(app);
  cokv::install_stop_handlers();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const cokv::Stopped& e) {
    std::cerr << "\ncokv-eval: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "cokv-eval: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
