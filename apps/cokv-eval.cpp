// cokv-eval: LongBench-format evaluation. Subcommands:
//   score PRED.jsonl... [--dataset D] [--json FILE]   rescore prediction files (LongBench eval.py)
// Each subcommand is one setup_<name>() that declares its options and a callback into lib/;
// the app itself holds no evaluation logic.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/score_file.h"

namespace {

void setup_score(CLI::App& app) {
  struct Args {
    std::vector<std::string> files;
    std::string dataset, json_out;
    bool skip_bad = false;
    int rouge_recursion = cokv::longbench::RougeOptions{}.max_recursion;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("score", "Rescore LongBench-style prediction files (pred, answers, all_classes, dataset)");
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
    if (!args->json_out.empty()) {
      std::ofstream out(args->json_out);
      if (!out) throw cokv::Error(args->json_out + ": cannot write the JSON scores file");
      out << cokv::longbench::score_report_json(report);
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cokv-eval: LongBench-format evaluation"};
  app.require_subcommand(1);
  setup_score(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const cokv::Error& e) {
    std::cerr << "cokv-eval: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
