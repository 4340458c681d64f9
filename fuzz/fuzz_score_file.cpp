// Fuzz target: prediction files for `cokv-eval score` (lib/data/score_file.*, and through it
// every LongBench metric on fuzzed predictions and answers). Input: one flag byte (bit 0:
// --skip-bad, bit 1: no ROUGE recursion limit, bit 2: --dataset trec), then the file. Checks:
// only cokv::Error escapes, naming the file; scores are within [0, 100]; the table and the
// JSON render.
#include <cmath>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "data/score_file.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  cokv::longbench::ScoreOptions opt;
  opt.skip_bad = data[0] & 1;
  if (data[0] & 2) opt.rouge.max_recursion = 0;
  if (data[0] & 4) opt.dataset = "trec";
  const std::string& path = cokv_fuzz::write_input(data + 1, size - 1, ".jsonl");
  try {
    const auto rep = cokv::longbench::score_prediction_files({path}, opt);
    for (const auto& d : rep.datasets)
      if (!(d.score >= 0 && d.score <= 100)) cokv_fuzz::property_failed("a dataset score outside [0, 100]");
    (void)cokv::longbench::format_score_table(rep);
    (void)cokv::longbench::score_report_json(rep);
  } catch (const cokv::Error& e) {
    if (std::string(e.what()).find(path) == std::string::npos)
      cokv_fuzz::property_failed("an error that does not name the file");
  }
  return 0;
}
