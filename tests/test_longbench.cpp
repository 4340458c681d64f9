// LongBench plumbing: record parsing and its error messages, prompt templates, middle
// truncation with a toy tokenizer, the per-dataset table, and prediction-file scoring.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/metrics.h"
#include "data/prompt.h"
#include "data/records.h"
#include "data/score_file.h"

namespace lb = cokv::longbench;
namespace fs = std::filesystem;

namespace {

// A scratch folder under the build tree, fresh per test case.
fs::path scratch(const std::string& name) {
  fs::path p = fs::path(COKV_BUILD_DIR) / "test-scratch" / "longbench" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

std::string write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

const char* k_good =
    R"({"input": "Q?", "context": "C.", "answers": ["a", "b"], "length": 12, "dataset": "qasper", )"
    R"("language": "en", "all_classes": null, "_id": "id0"})";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const cokv::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("records: a good file parses every field", "[longbench]") {
  const auto dir = scratch("good");
  const std::string trec =
      R"({"input": "What?", "context": "ctx", "answers": ["Date"], "length": 5.0, "dataset": "trec", )"
      R"("language": "en", "all_classes": ["Date", "City"], "_id": "t1", "extra": 1})";
  const auto path = write_file(dir / "x.jsonl", std::string(k_good) + "\n\n" + trec + "\r\n");
  lb::ReadStats st;
  const auto recs = lb::read_records(path, {}, &st);
  REQUIRE(recs.size() == 2);
  CHECK(st.n_read == 2);
  CHECK(recs[0].input == "Q?");
  CHECK(recs[0].context == "C.");
  CHECK(recs[0].answers == std::vector<std::string>{"a", "b"});
  CHECK(recs[0].length == 12);
  CHECK(recs[0].dataset == "qasper");
  CHECK(recs[0].language == "en");
  CHECK_FALSE(recs[0].all_classes.has_value());
  CHECK(recs[0].id == "id0");
  CHECK(recs[1].length == 5);
  REQUIRE(recs[1].all_classes.has_value());
  CHECK(*recs[1].all_classes == std::vector<std::string>{"Date", "City"});
}

TEST_CASE("records: every kind of bad record names file, line and field", "[longbench]") {
  const auto dir = scratch("bad");
  auto one_bad = [&](const std::string& bad_line) {
    const auto path = write_file(dir / "bad.jsonl", std::string(k_good) + "\n" + k_good + "\n" + bad_line + "\n");
    return error_of([&] { lb::read_records(path); });
  };
  auto patch = [](const std::string& key, const std::string& value) {
    auto j = nlohmann::json::parse(k_good);
    if (value.empty()) j.erase(key);
    else j[key] = nlohmann::json::parse(value);
    return j.dump();
  };
  const std::string at = (dir / "bad.jsonl").string() + ":3: ";

  std::string e = one_bad(R"({"input": "Q?", "context": )");
  CHECK(e.rfind(at + "JSON: expected one JSON object per line, got", 0) == 0);

  CHECK(one_bad("[1, 2]") == at + "record: expected a JSON object, got array [1,2]");
  CHECK(one_bad(patch("answers", "")) == at + "field 'answers': expected a list of strings, got nothing (field missing)");
  CHECK(one_bad(patch("input", "")) == at + "field 'input': expected a string, got nothing (field missing)");
  CHECK(one_bad(patch("_id", "")) == at + "field '_id': expected a string, got nothing (field missing)");
  CHECK(one_bad(patch("input", "3")) == at + "field 'input': expected a string, got number 3");
  CHECK(one_bad(patch("answers", "\"a\"")) == at + "field 'answers': expected a list of strings, got string \"a\"");
  CHECK(one_bad(patch("answers", "[\"a\", 2]")) == at + "field 'answers'[1]: expected a string, got number 2");
  CHECK(one_bad(patch("length", "\"12\"")) == at + "field 'length': expected an integer, got string \"12\"");
  CHECK(one_bad(patch("length", "1.5")) == at + "field 'length': expected an integer, got number 1.5");
  CHECK(one_bad(patch("all_classes", "\"x\"")) ==
        at + "field 'all_classes': expected a list of strings or null, got string \"x\"");
  CHECK(one_bad(patch("all_classes", "")) ==
        at + "field 'all_classes': expected a list of strings or null, got nothing (field missing)");
  CHECK(one_bad(patch("context", "null")) == at + "field 'context': expected a string, got null");

  CHECK(error_of([&] { lb::read_records((dir / "missing.jsonl").string()); }) ==
        (dir / "missing.jsonl").string() + ": file: expected a readable JSONL file, got cannot open it");
}

TEST_CASE("records: skip mode drops bad records and counts them", "[longbench]") {
  const auto dir = scratch("skip");
  const auto path = write_file(dir / "s.jsonl", std::string(k_good) + "\nnot json\n" + k_good + "\n{\"input\": 1}\n" +
                                                    k_good + "\n");
  lb::ReadStats st;
  const auto recs = lb::read_records(path, {true}, &st);
  CHECK(recs.size() == 3);
  CHECK(st.n_read == 3);
  CHECK(st.n_skipped == 2);
  CHECK(st.first_error.rfind(path + ":2: JSON:", 0) == 0);
  // Without skip mode the first bad line stops the read.
  CHECK(error_of([&] { lb::read_records(path); }).rfind(path + ":2: JSON:", 0) == 0);
}

TEST_CASE("templates: str.format semantics, verbatim otherwise", "[longbench]") {
  const std::map<std::string, std::string> f = {{"context", "CTX"}, {"input", "Q {x} }"}};
  // Odd spacing, trailing spaces and newlines survive untouched; values are not re-parsed.
  CHECK(lb::format_template("Read  this.  \n{context}\n\n Question:{input}  \nAnswer: ", f, "t") ==
        "Read  this.  \nCTX\n\n Question:Q {x} }  \nAnswer: ");
  CHECK(lb::format_template("{{literal}} {{{context}}} }}{{", f, "t") == "{literal} {CTX} }{");
  CHECK(lb::format_template("", f, "t").empty());
  CHECK(lb::format_template("no fields", f, "t") == "no fields");
  CHECK(lb::format_template("{context}{input}{context}", f, "t") == "CTXQ {x} }CTX");

  CHECK(error_of([&] { lb::format_template("Hi {question}", f, "tmpl"); }) ==
        "tmpl: template field {question}: expected one of context, input, got an unknown field (Python: KeyError)");
  CHECK(error_of([&] { lb::format_template("{}", f, "t"); }).find("positional") != std::string::npos);
  CHECK(error_of([&] { lb::format_template("{0}", f, "t"); }).find("positional") != std::string::npos);
  CHECK(error_of([&] { lb::format_template("{context!r}", f, "t"); }).find("no conversion") != std::string::npos);
  CHECK(error_of([&] { lb::format_template("{context:>9}", f, "t"); }).find("format spec") != std::string::npos);
  CHECK(error_of([&] { lb::format_template("{context[0]}", f, "t"); }).find("plain {name}") != std::string::npos);
  CHECK(error_of([&] { lb::format_template("a } b", f, "t"); }) ==
        "t: template at byte 2: expected '}}' for a literal brace, got a single '}' (Python: \"Single '}' "
        "encountered in format string\")");
  CHECK(error_of([&] { lb::format_template("a { b", f, "t"); }).find("expected '}' before end of string") !=
        std::string::npos);

  lb::Record r;
  r.input = std::string("I");  // std::string() sidesteps GCC 12's false -Wrestrict on literal assignment
  r.context = std::string("C");
  r.dataset = std::string("qasper");
  r.length = 77;
  CHECK(lb::format_record("{context}|{input}|{dataset}|{length}", r, "t") == "C|I|qasper|77");
}

TEST_CASE("templates: LongBench's config files load from a folder", "[longbench]") {
  const auto dir = scratch("config");
  write_file(dir / "dataset2prompt.json",
             R"({"qasper": "Article: {context}\n\n Answer: {input}\nAnswer:", "trec": "{context}\n{input}"})");
  write_file(dir / "dataset2maxlen.json", R"({"qasper": 128, "trec": 64})");
  const auto t = lb::read_prompt_templates(dir.string());
  CHECK(t.at("qasper") == "Article: {context}\n\n Answer: {input}\nAnswer:");
  CHECK(lb::read_max_new_tokens(dir.string()).at("trec") == 64);
  CHECK(lb::read_max_new_tokens((dir / "dataset2maxlen.json").string()).at("qasper") == 128);
  write_file(dir / "bad" , R"({"qasper": 0})");
  CHECK(error_of([&] { lb::read_max_new_tokens((dir / "bad").string()); }).find("'qasper': expected a positive integer") !=
        std::string::npos);
}

namespace {
// Toy tokenizer: one token per byte, id = byte + 1, plus a BOS (id 0) that decode drops, the
// way a real tokenizer's encode(add_bos) / decode(skip_special) pair behaves.
lb::TokenizerFns toy_tokenizer() {
  lb::TokenizerFns t;
  t.encode = [](std::string_view s) {
    std::vector<int32_t> ids{0};
    for (unsigned char c : s) ids.push_back(static_cast<int32_t>(c) + 1);
    return ids;
  };
  t.decode = [](const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids)
      if (id > 0) s.push_back(static_cast<char>(id - 1));
    return s;
  };
  return t;
}
}  // namespace

TEST_CASE("truncation keeps the first and last max_length/2 tokens", "[longbench]") {
  const auto tok = toy_tokenizer();
  // "abcdefghij" -> 11 tokens with BOS.
  auto t = lb::truncate_middle("abcdefghij", 11, tok);
  CHECK_FALSE(t.truncated);
  CHECK(t.text == "abcdefghij");
  CHECK(t.n_tokens == 11);
  t = lb::truncate_middle("abcdefghij", 6, tok);  // half 3: [BOS a b] + [h i j]
  CHECK(t.truncated);
  CHECK(t.text == "abhij");
  t = lb::truncate_middle("abcdefghij", 7, tok);  // int(7/2) = 3, same as 6
  CHECK(t.text == "abhij");
  t = lb::truncate_middle("abcdefghij", 10, tok);  // half 5: [BOS a b c d] + [f g h i j]
  CHECK(t.text == "abcdfghij");
  CHECK(lb::truncate_middle("abcdefghij", 0, tok).text == "abcdefghij");
}

TEST_CASE("dataset table: configs/longbench.json agrees with FORMATS.md and the metrics", "[longbench]") {
  const auto table = lb::read_dataset_table(std::string(COKV_SOURCE_DIR) + "/configs/longbench.json");
  REQUIRE(table.size() == 16);
  const std::map<std::string, int> max_new = {
      {"narrativeqa", 128}, {"qasper", 128}, {"multifieldqa_en", 64}, {"hotpotqa", 32}, {"2wikimqa", 32},
      {"musique", 32}, {"gov_report", 512}, {"qmsum", 512}, {"multi_news", 512}, {"trec", 64}, {"triviaqa", 32},
      {"samsum", 128}, {"passage_count", 32}, {"passage_retrieval_en", 32}, {"lcc", 64}, {"repobench-p", 64}};
  for (const auto& name : lb::english_datasets()) {
    INFO(name);
    const auto& d = lb::dataset_info(table, name);
    CHECK(d.max_new_tokens == max_new.at(name));
    CHECK(d.metric == lb::dataset_scoring(name).metric);
    CHECK(d.first_line == lb::dataset_scoring(name).first_line);
    const bool raw = name == "trec" || name == "triviaqa" || name == "samsum" || name == "lcc" || name == "repobench-p";
    CHECK(d.chat_template == !raw);
    CHECK(d.stop_on_newline == (name == "samsum"));
  }
  CHECK(lb::dataset_info(table, "qasper_e").name == "qasper");
  CHECK(lb::dataset_info(table, "lcc").category == "code");
  CHECK(error_of([&] { lb::dataset_info(table, "dureader"); }).find("'dureader'") != std::string::npos);
}

TEST_CASE("build_prompt: format, truncate, then chat template per policy", "[longbench]") {
  const auto table = lb::read_dataset_table(std::string(COKV_SOURCE_DIR) + "/configs/longbench.json");
  const auto tok = toy_tokenizer();
  auto chat = [](const std::string& s) { return "<u>" + s + "</u>"; };
  lb::Record r;
  r.input = "Q";
  r.context = "0123456789";
  lb::PromptOptions opt;
  opt.max_length = 8;  // "C:0123456789 Q:Q" is 16 bytes + BOS -> keep [BOS C: 0] + [ Q:Q]
  auto b = lb::build_prompt(r, "C:{context} Q:{input}", lb::dataset_info(table, "qasper"), opt, tok, chat);
  CHECK(b.truncated);
  CHECK(b.n_tokens_untruncated == 17);
  CHECK(b.chat_applied);
  CHECK(b.text == "<u>C:0 Q:Q</u>");
  b = lb::build_prompt(r, "C:{context} Q:{input}", lb::dataset_info(table, "trec"), opt, tok, chat);
  CHECK_FALSE(b.chat_applied);
  CHECK(b.text == "C:0 Q:Q");
  opt.chat = lb::ChatPolicy::None;
  opt.max_length = 0;
  b = lb::build_prompt(r, "C:{context} Q:{input}", lb::dataset_info(table, "qasper"), opt, tok, {});
  CHECK_FALSE(b.chat_applied);
  CHECK_FALSE(b.truncated);
  CHECK(b.text == "C:0123456789 Q:Q");
  CHECK(lb::chat_policy_from_name("none") == lb::ChatPolicy::None);
  CHECK(error_of([] { lb::chat_policy_from_name("always"); }).find("longbench or none") != std::string::npos);
}

TEST_CASE("score files: per-dataset 100 x mean, rounded as eval.py", "[longbench]") {
  const auto dir = scratch("score");
  // qasper: 1, 0.5, 0 -> 50.00; trec with all_classes: 1/3 -> 33.33.
  const auto a = write_file(dir / "preds.jsonl",
                            R"({"pred": "the cat", "answers": ["cat"], "all_classes": null, "dataset": "qasper"})"
                            "\n"
                            R"({"pred": "cat dog", "answers": ["dog bird", "fish"], "all_classes": null, "dataset": "qasper"})"
                            "\n"
                            R"({"pred": "", "answers": ["x"], "all_classes": null, "dataset": "qasper"})"
                            "\n"
                            R"({"pred": "City Date Sport\nOther", "answers": ["Date"], "all_classes": ["City", "Date", "Sport"], "dataset": "trec"})"
                            "\n");
  auto rep = lb::score_prediction_files({a});
  REQUIRE(rep.datasets.size() == 2);
  CHECK(rep.datasets[0].dataset == "qasper");
  CHECK(rep.datasets[0].n == 3);
  CHECK(rep.datasets[0].score == 50.0);
  CHECK(rep.datasets[1].dataset == "trec");
  CHECK(rep.datasets[1].score == 33.33);
  // (50 + 33.33) / 2 is 41.664999... in binary: Python's round(x, 2) gives 41.66, not 41.67.
  CHECK(rep.average() == 41.66);
  const std::string table = lb::format_score_table(rep);
  CHECK(table.find("qasper         3    50.00") != std::string::npos);
  CHECK(table.find("average        4    41.66") != std::string::npos);
  const auto j = nlohmann::json::parse(lb::score_report_json(rep));
  CHECK(j["scores"]["trec"].get<double>() == 33.33);
  CHECK(j["counts"]["qasper"].get<int>() == 3);

  // Dataset from the file name (LongBench's pred/<model>/<dataset>.jsonl), or forced.
  const auto b = write_file(dir / "passage_count.jsonl", R"({"pred": "3 and 3", "answers": ["3"], "all_classes": null})"
                                                         "\n");
  rep = lb::score_prediction_files({b});
  REQUIRE(rep.datasets.size() == 1);
  CHECK(rep.datasets[0].dataset == "passage_count");
  CHECK(rep.datasets[0].score == 100.0);
  lb::ScoreOptions opt;
  opt.dataset = "passage_retrieval_en";  // the gold "3" has no "Paragraph N": the record cannot be scored
  CHECK(error_of([&] { lb::score_prediction_files({b}, opt); }).find("a \"Paragraph N\" reference") !=
        std::string::npos);
  const auto e = write_file(dir / "other.jsonl", R"({"pred": "3 4", "answers": ["3"], "dataset": "qasper"})"
                                                 "\n");
  opt.dataset = "passage_count";  // --dataset wins over the record's field
  rep = lb::score_prediction_files({e}, opt);
  CHECK(rep.datasets.at(0).dataset == "passage_count");
  CHECK(rep.datasets.at(0).score == 50.0);

  // Errors name the line; skip mode counts.
  const auto c = write_file(dir / "mixed.jsonl", R"({"pred": "x", "answers": ["x"], "dataset": "qasper"})"
                                                 "\n"
                                                 R"({"pred": 3, "answers": ["x"], "dataset": "qasper"})"
                                                 "\n"
                                                 R"({"pred": "x", "answers": ["x"], "dataset": "nope"})"
                                                 "\n");
  CHECK(error_of([&] { lb::score_prediction_files({c}); }) == c + ":2: field 'pred': expected a string, got number 3");
  opt = {};
  opt.skip_bad = true;
  rep = lb::score_prediction_files({c}, opt);
  CHECK(rep.n_skipped == 2);
  CHECK(rep.datasets.at(0).score == 100.0);
  const auto d = write_file(dir / "unnamed.jsonl", R"({"pred": "x", "answers": ["x"]})"
                                                   "\n");
  CHECK(error_of([&] { lb::score_prediction_files({d}); }).find(d + ":1: field 'dataset'") == 0);
}

TEST_CASE("score files: the reference pairs pool into eval.py's per-dataset numbers", "[longbench]") {
  // The pairs file carries pred/answers/all_classes/dataset plus the reference per-record score.
  const std::string path = std::string(COKV_SOURCE_DIR) + "/tests/data/longbench/longbench_metric_pairs.jsonl";
  std::map<std::string, std::pair<double, size_t>> want;  // dataset -> (sum of expected, n), file order
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    auto& w = want[j["dataset"].get<std::string>()];
    w.first += j["expected"].get<double>();
    ++w.second;
  }
  const auto rep = lb::score_prediction_files({path});
  REQUIRE(rep.datasets.size() == 16);
  for (const auto& d : rep.datasets) {
    INFO(d.dataset);
    CHECK(d.n == 150);
    CHECK(d.score == lb::py_round2(100 * want.at(d.dataset).first / 150.0));
  }
  CHECK(rep.datasets.front().dataset == "narrativeqa");  // order of first appearance
}
