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

TEST_CASE("edge cases scored by the real Python code reproduce to 1e-9", "[metrics][longbench]") {
  // Empty strings, Unicode case/space/digits/punctuation, classification quirks, difflib
  // autojunk and round-half-even, long texts, ROUGE-L sentences past Python's recursion limit.
  check_golden_file("metric_cases.jsonl", 69);
}

TEST_CASE("Python str semantics: lower, split, \\d", "[metrics]") {
  namespace py = cokv::py;
  auto low = [](const std::string& s) { return py::encode_utf8(py::lower(py::decode_utf8(s))); };
  CHECK(low("ABC Ünïcödé") == "abc ünïcödé");
  CHECK(low("İ") == "i\xCC\x87");  // two code points
  CHECK(low("ΟΔΟΣ") == "οδος");     // final sigma
  CHECK(low("Σ") == "σ");           // alone: not final
  CHECK(low("ΑΣ.Σ") == "ας.σ");
  CHECK(py::split_ws(py::decode_utf8("a\u3000b\u00a0c\u200bd  \n")).size() == 3);
  CHECK(py::split_ws(py::decode_utf8(" \t ")).empty());
  CHECK(py::split_char(U"a..b.", U'.') == std::vector<std::u32string>{U"a", U"", U"b", U""});
  const auto digits = py::find_digit_runs(py::decode_utf8("x12y٣٤ ３ ² ⅷ"));
  CHECK(digits.size() == 3);  // superscript two and roman numerals are not decimal digits
  CHECK(py::first_line("\n\nab\ncd") == "ab");
  CHECK(py::first_line("") == "");
  CHECK(py::lines_after_leading_newlines("\na\n\nb") == std::vector<std::string>{"a", "", "b"});
  // Invalid UTF-8 decodes one replacement character per bad byte.
  CHECK(py::decode_utf8("a\xff\xc3") == std::u32string{U'a', 0xFFFD, 0xFFFD});
}

TEST_CASE("normalize_answer and qa_f1", "[metrics]") {
  CHECK(lb::normalize_answer("The  Cat's hat, an apple!") == "cats hat apple");
  CHECK(lb::normalize_answer("theatre a_b") == "theatre ab");  // "_" is in string.punctuation
  CHECK(lb::qa_f1("the cat sat", "a cat") == Approx(2 * 0.5 * 1 / 1.5));
  CHECK(lb::qa_f1("", "") == 0.0);
}

TEST_CASE("difflib ratio and fuzz rounding", "[metrics]") {
  namespace dl = cokv::difflib;
  // Python: SequenceMatcher(None, "abcd", "bcde").ratio() == 0.75
  CHECK(dl::ratio(U"abcd", U"bcde") == 0.75);
  CHECK(dl::ratio(U"", U"") == 1.0);
  CHECK(dl::matching_characters(U"private Thread currentThread;", U"private volatile Thread currentThread;") == 29);
  CHECK(dl::fuzz_ratio("", "") == 100);
  CHECK(dl::fuzz_ratio("a", "") == 0);
  CHECK(dl::fuzz_ratio("abcdefgx", "yzzzzzzb") == 12);  // 12.5 -> even
  CHECK(dl::fuzz_ratio("aaaxxxxx", "aaayyyyy") == 38);  // 37.5 -> even
}

TEST_CASE("classification reproduces the remove-while-iterating skip", "[metrics]") {
  const std::vector<std::string> classes = {"Definition of something", "Definition", "Description", "of"};
  // Matches: [Definition of something, Definition, of]; gold "Definition of something":
  // "Definition" is removed, which shifts "of" into the slot the loop already passed -> kept.
  CHECK(lb::classification("Definition of something", "Definition of something", classes) == Approx(0.5));
  CHECK(lb::classification("Description", "Definition", classes) == 0.0);
}

TEST_CASE("ROUGE-L: recursion limit and long inputs", "[metrics]") {
  std::string a, b;
  for (int k = 0; k < 991; ++k) a += "w ";
  lb::RougeOptions unlimited;
  unlimited.max_recursion = 0;
  CHECK(lb::rouge_l(a, a) == 0.0);  // 991 traceback steps need 992 frames
  CHECK(lb::rouge_l(a, a, unlimited) == Approx(1.0).epsilon(1e-7));
  // An 8000 x 8000-word pair of single sentences: 8 MB of traceback bits and O(m) ints
  // (a full int table would be 256 MB).
  for (int k = 0; k < 8000; ++k) {
    b += 'w';
    b += std::to_string(k % 97);
    b += ' ';
  }
  const double s = lb::rouge_l(b, b, unlimited);
  CHECK(s == Approx(1.0).epsilon(1e-7));
}

TEST_CASE("dataset mapping covers the 16 English datasets", "[metrics]") {
  CHECK(lb::english_datasets().size() == 16);
  CHECK(lb::dataset_scoring("trec").metric == lb::Metric::Classification);
  CHECK(lb::dataset_scoring("samsum").first_line);
  CHECK(lb::dataset_scoring("lcc_e").metric == lb::Metric::CodeSim);
  CHECK_FALSE(lb::dataset_scoring("gov_report").first_line);
  CHECK_THROWS_AS(lb::dataset_scoring("dureader"), cokv::Error);
  CHECK(lb::metric_from_name("rouge_l") == lb::Metric::RougeL);
  CHECK_THROWS_AS(lb::metric_from_name("bleu"), cokv::Error);
  CHECK(lb::py_round2(41.665) == 41.66);  // binary 41.66499...
  CHECK(lb::py_round2(0.125) == 0.12);    // exact tie -> even
  CHECK(lb::py_round2(0.375) == 0.38);
}
