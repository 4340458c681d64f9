// LongBench metrics: parity with LongBench's Python scorer on committed golden pairs, plus
// hand-checked quirks. Golden data: tests/data/longbench/ (README there says how it was made).
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/difflib.h"
#include "data/metrics.h"
#include "data/py_unicode.h"

namespace lb = cokv::longbench;
using nlohmann::json;

namespace {

std::vector<json> read_jsonl(const std::string& rel) {
  const std::string path = std::string(COKV_SOURCE_DIR) + "/tests/data/longbench/" + rel;
  std::ifstream in(path);
  REQUIRE(in.good());
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

// Scores one golden record through the same entry point cokv-eval uses.
double score_golden(const json& r) {
  const auto ds = lb::dataset_scoring(r.at("dataset").get<std::string>());
  std::vector<std::string> classes;
  const bool has_classes = r.contains("all_classes") && r["all_classes"].is_array();
  if (has_classes) classes = r["all_classes"].get<std::vector<std::string>>();
  lb::RougeOptions opt;
  if (r.contains("max_recursion")) opt.max_recursion = r["max_recursion"].get<int>();
  return lb::score_record(ds, r.at("pred").get<std::string>(), r.at("answers").get<std::vector<std::string>>(),
                          has_classes ? &classes : nullptr, opt);
}

void check_golden_file(const std::string& rel, size_t expect_count) {
  const auto recs = read_jsonl(rel);
  REQUIRE(recs.size() == expect_count);
  std::map<std::string, int> per_dataset;
  int mismatches = 0;
  for (size_t k = 0; k < recs.size(); ++k) {
    const double got = score_golden(recs[k]);
    const double want = recs[k].at("expected").get<double>();
    ++per_dataset[recs[k]["dataset"].get<std::string>()];
    if (std::abs(got - want) > 1e-9) {
      ++mismatches;
      UNSCOPED_INFO(rel << " record " << k << " (" << recs[k]["dataset"] << "): got " << got << ", expected " << want
                        << "\n  pred=" << recs[k]["pred"].dump() << "\n  answers=" << recs[k]["answers"].dump());
    }
  }
  CHECK(mismatches == 0);
  for (const auto& [d, n] : per_dataset) CHECK(lb::is_known_dataset(d));
}

}  // namespace

TEST_CASE("all 2400 reference pairs reproduce LongBench's scores to 1e-9", "[metrics][longbench]") {
  check_golden_file("longbench_metric_pairs.jsonl", 2400);
}
