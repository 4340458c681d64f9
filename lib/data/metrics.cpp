// LongBench metrics (metrics.py + eval.py scorer rules) on Python str semantics.
#include "data/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "data/difflib.h"
#include "data/py_unicode.h"

namespace cokv::longbench {
namespace {

bool is_ascii_punct(char32_t c) {  // string.punctuation
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
         (c >= 0x7B && c <= 0x7E);
}

// normalize_answer up to (not including) the final whitespace squeeze.
std::u32string lower_strip_articles(std::string_view s) {
  const std::u32string low = py::lower(py::decode_utf8(s));
  std::u32string t;
  t.reserve(low.size());
  for (char32_t c : low)
    if (!is_ascii_punct(c)) t.push_back(c);
  // re.sub(r"\b(a|an|the)\b", " ", t): every match is a maximal run of \w characters that
  // equals one of the words (a \b on both sides of word characters), so replace such runs.
  std::u32string out;
  out.reserve(t.size());
  size_t i = 0;
  while (i < t.size()) {
    if (!py::is_word(t[i])) {
      out.push_back(t[i++]);
      continue;
    }
    size_t j = i;
    while (j < t.size() && py::is_word(t[j])) ++j;
    const std::u32string_view run(t.data() + i, j - i);
    if (run == U"a" || run == U"an" || run == U"the") out.push_back(U' ');
    else out.append(run);
    i = j;
  }
  return out;
}

std::vector<std::u32string> normalized_tokens(std::string_view s) { return py::split_ws(lower_strip_articles(s)); }

// `rouge` package sentence handling: [" ".join(p.split()) for p in text.split(".") if len(p) > 0],
// then each sentence split on " " (a whitespace-only piece becomes the one word "").
std::vector<std::vector<std::u32string>> rouge_sentences(std::string_view text) {
  std::vector<std::vector<std::u32string>> out;
  for (const auto& piece : py::split_char(py::decode_utf8(text), U'.')) {
    if (piece.empty()) continue;
    auto words = py::split_ws(piece);
    if (words.empty()) words.emplace_back();
    out.push_back(std::move(words));
  }
  return out;
}

// How the traceback of an n x m LCS keeps its bits (see RougeOptions::lcs_direct_bits): every
// row (k = n) when the matrix is small, else every k-th row with k = ceil(sqrt(n)), the rows of
// one block being recomputed from the block's first row as the traceback reaches them.
struct LcsPlan {
  size_t words_per_row, k, n_marks;
  size_t bytes() const { return (n_marks + k) * words_per_row * sizeof(uint64_t); }
};

LcsPlan lcs_plan(size_t n, size_t m, size_t direct_bits) {
  LcsPlan p;
  p.words_per_row = (m + 63) / 64;
  const bool direct = n == 0 || p.words_per_row * 64 <= direct_bits / n;
  p.k = direct ? std::max<size_t>(n, 1) : size_t(std::ceil(std::sqrt(double(n))));
  p.n_marks = (n + p.k - 1) / p.k;  // rows 0, k, 2k, ... below n (row 0 is implicit but counted)
  return p;
}

// Union-LCS state for rouge_l_summary_level over interned word ids.
struct UnionLcs {
  // Bit j-1 of DP row i: T[i][j] > T[i][j-1]. A row's values are the prefix sums of its bits.
  std::vector<uint64_t> block;  // rows s+1 .. s+k of the current block
  std::vector<uint64_t> marks;  // rows 0, k, 2k, ...: where a block's recomputation starts
  std::vector<int32_t> row0, row1;  // two DP rows, O(m)
  std::vector<char> in_union;       // word id -> already in the union set
  size_t direct_bits = RougeOptions{}.lcs_direct_bits;

  // DP rows from+1 .. to of x against y, starting from row `from` (whose values are in row0),
  // keeping the bits of rows > keep_from in `block` and of rows that are multiples of k (and
  // below n) in `marks`.
  void rows(const std::vector<int>& x, const std::vector<int>& y, const LcsPlan& p, size_t from, size_t to,
            size_t keep_from, bool save_marks) {
    const size_t m = y.size(), w = p.words_per_row;
    for (size_t i = from + 1; i <= to; ++i) {
      const int xi = x[i - 1];
      uint64_t* bits = i > keep_from ? &block[(i - keep_from - 1) * w] : nullptr;
      if (bits) std::fill(bits, bits + w, 0);
      row1[0] = 0;
      for (size_t j = 1; j <= m; ++j) {
        const int32_t v = (xi == y[j - 1]) ? row0[j - 1] + 1 : std::max(row0[j], row1[j - 1]);
        row1[j] = v;
        if (bits && v > row1[j - 1]) bits[(j - 1) >> 6] |= uint64_t{1} << ((j - 1) & 63);
      }
      if (save_marks && i % p.k == 0 && i < x.size()) {
        uint64_t* mk = &marks[(i / p.k) * w];
        std::fill(mk, mk + w, 0);
        for (size_t j = 1; j <= m; ++j)
          if (row1[j] > row1[j - 1]) mk[(j - 1) >> 6] |= uint64_t{1} << ((j - 1) & 63);
      }
      std::swap(row0, row1);
    }
  }

  // row0 = the values of DP row r (a multiple of k) from its saved bits.
  void restore_row(const LcsPlan& p, size_t r, size_t m) {
    row0.assign(m + 1, 0);
    if (r == 0) return;
    const uint64_t* mk = &marks[(r / p.k) * p.words_per_row];
    for (size_t j = 1; j <= m; ++j) row0[j] = row0[j - 1] + int32_t((mk[(j - 1) >> 6] >> ((j - 1) & 63)) & 1);
  }

  // The rouge package's _recon_lcs(x, y) followed by a set union of the LCS words. Returns
  // false when the reconstruction would need more than max_frames Python frames.
  bool add(const std::vector<int>& x, const std::vector<int>& y, int max_frames) {
    const size_t n = x.size(), m = y.size();
    // The walk ends when i or j reaches 0 and each step lowers them by at most 1, so it takes
    // at least min(n, m) steps: skip the DP when that alone is too deep.
    if (max_frames > 0 && static_cast<long>(std::min(n, m)) + 1 > max_frames) return false;
    if (n == 0 || m == 0) return true;  // an empty walk (sentences always hold a word)
    const LcsPlan p = lcs_plan(n, m, direct_bits);
    block.assign(p.k * p.words_per_row, 0);
    marks.assign(p.n_marks * p.words_per_row, 0);
    row0.assign(m + 1, 0);
    row1.assign(m + 1, 0);
    size_t s = ((n - 1) / p.k) * p.k;  // the last block: rows s+1 .. n, kept by the forward pass
    rows(x, y, p, 0, n, s, true);
    // Traceback as _recon: match -> diagonal; else up when T[i-1][j] > T[i][j-1], which for
    // a non-match cell is exactly T[i][j] > T[i][j-1]; else left.
    size_t i = n, j = m;
    long frames = 1;
    std::vector<int> words;
    while (i > 0 && j > 0) {
      if (i <= s) {  // entering an earlier block: recompute its rows from its first one
        const size_t s_new = ((i - 1) / p.k) * p.k;
        restore_row(p, s_new, m);
        rows(x, y, p, s_new, i, s_new, false);
        s = s_new;
      }
      if (x[i - 1] == y[j - 1]) {
        words.push_back(x[i - 1]);
        --i;
        --j;
      } else {
        const uint64_t* bits = &block[(i - s - 1) * p.words_per_row];
        if ((bits[(j - 1) >> 6] >> ((j - 1) & 63)) & 1) --i;
        else --j;
      }
      ++frames;
    }
    if (max_frames > 0 && frames > max_frames) return false;
    for (int w : words) in_union[static_cast<size_t>(w)] = 1;
    return true;
  }
};

}  // namespace

size_t rouge_lcs_scratch_bytes(size_t n, size_t m, const RougeOptions& opt) {
  return lcs_plan(n, m, opt.lcs_direct_bits).bytes() + 2 * (m + 1) * sizeof(int32_t);
}

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::QaF1: return "qa_f1";
    case Metric::RougeL: return "rouge_l";
    case Metric::Classification: return "classification";
    case Metric::Retrieval: return "retrieval";
    case Metric::Count: return "count";
    case Metric::CodeSim: return "code_sim";
  }
  return "?";
}

Metric metric_from_name(const std::string& name) {
  for (Metric m : {Metric::QaF1, Metric::RougeL, Metric::Classification, Metric::Retrieval, Metric::Count,
                   Metric::CodeSim})
    if (name == metric_name(m)) return m;
  fail("metric", "name", "one of qa_f1, rouge_l, classification, retrieval, count, code_sim", "'" + name + "'");
}

std::string normalize_answer(std::string_view s) {
  const auto tokens = normalized_tokens(s);
  std::u32string joined;
  for (size_t k = 0; k < tokens.size(); ++k) {
    if (k) joined.push_back(U' ');
    joined += tokens[k];
  }
  return py::encode_utf8(joined);
}

double qa_f1(std::string_view prediction, std::string_view ground_truth) {
  const auto pred = normalized_tokens(prediction);
  const auto gold = normalized_tokens(ground_truth);
  std::unordered_map<std::u32string, long> gold_counts;
  for (const auto& t : gold) ++gold_counts[t];
  long num_same = 0;
  for (const auto& t : pred) {  // Counter & Counter: sum of min counts
    auto it = gold_counts.find(t);
    if (it != gold_counts.end() && it->second > 0) {
      --it->second;
      ++num_same;
    }
  }
  if (num_same == 0) return 0.0;
  const double precision = 1.0 * static_cast<double>(num_same) / static_cast<double>(pred.size());
  const double recall = 1.0 * static_cast<double>(num_same) / static_cast<double>(gold.size());
  return (2 * precision * recall) / (precision + recall);
}

double rouge_l(std::string_view prediction, std::string_view ground_truth, const RougeOptions& opt) {
  const auto hyp = rouge_sentences(prediction);
  const auto ref = rouge_sentences(ground_truth);
  if (hyp.empty() || ref.empty()) return 0.0;  // "Hypothesis is empty." -> caught -> 0.0

  std::unordered_map<std::u32string, int> ids;
  auto intern = [&](const std::vector<std::vector<std::u32string>>& sents, std::vector<std::vector<int>>& out,
                    std::unordered_set<int>& unique) {
    for (const auto& s : sents) {
      std::vector<int> v;
      v.reserve(s.size());
      for (const auto& w : s) {
        const int id = ids.emplace(w, static_cast<int>(ids.size())).first->second;
        v.push_back(id);
        unique.insert(id);
      }
      out.push_back(std::move(v));
    }
  };
  std::vector<std::vector<int>> hyp_ids, ref_ids;
  std::unordered_set<int> hyp_unique, ref_unique;
  intern(hyp, hyp_ids, hyp_unique);
  intern(ref, ref_ids, ref_unique);
  const double m = static_cast<double>(ref_unique.size());  // unique reference words
  const double n = static_cast<double>(hyp_unique.size());  // unique candidate words

  UnionLcs u;
  u.direct_bits = opt.lcs_direct_bits;
  u.in_union.assign(ids.size(), 0);
  for (const auto& r : ref_ids)
    for (const auto& h : hyp_ids)
      if (!u.add(r, h, opt.max_recursion)) return 0.0;  // RecursionError -> caught -> 0.0
  long llcs = 0;
  for (char c : u.in_union) llcs += c;

  const double r_lcs = static_cast<double>(llcs) / m;
  const double p_lcs = static_cast<double>(llcs) / n;
  return 2.0 * ((p_lcs * r_lcs) / (p_lcs + r_lcs + 1e-8));
}

double classification(std::string_view prediction, std::string_view ground_truth,
                      const std::vector<std::string>& all_classes) {
  std::vector<std::string_view> matches;
  for (const auto& c : all_classes)
    if (prediction.find(c) != std::string_view::npos) matches.push_back(c);
  // for match_term in em_match_list: if ...: em_match_list.remove(match_term)
  // Python's list iterator walks an index over the list being shrunk, and remove() deletes
  // the first equal element, so the element after a removed one can be skipped.
  for (size_t idx = 0; idx < matches.size(); ++idx) {
    const std::string_view term = matches[idx];
    if (ground_truth.find(term) != std::string_view::npos && term != ground_truth)
      matches.erase(std::find(matches.begin(), matches.end(), term));
  }
  // `if em_match_list != 0` is always true in the reference, so the difflib fallback never runs.
  if (std::find(matches.begin(), matches.end(), ground_truth) != matches.end())
    return 1.0 / static_cast<double>(matches.size());
  return 0.0;
}

namespace {
double fraction_equal(const std::vector<std::u32string>& numbers, const std::u32string& target) {
  if (numbers.empty()) return 0.0;
  long right = 0;
  for (const auto& x : numbers) right += (x == target);
  return static_cast<double>(right) / static_cast<double>(numbers.size());
}
}  // namespace

double retrieval(std::string_view prediction, std::string_view ground_truth) {
  const std::u32string gold = py::decode_utf8(ground_truth);
  const std::u32string_view key = U"Paragraph ";
  std::u32string id;
  for (size_t at = gold.find(key); at != std::u32string::npos; at = gold.find(key, at + 1)) {
    size_t j = at + key.size();
    while (j < gold.size() && py::is_decimal(gold[j])) ++j;
    if (j > at + key.size()) {
      id = gold.substr(at + key.size(), j - at - key.size());
      break;
    }
  }
  if (id.empty()) fail("retrieval gold answer", "'" + std::string(ground_truth) + "'", "a \"Paragraph N\" reference");
  return fraction_equal(py::find_digit_runs(py::decode_utf8(prediction)), id);
}

double count(std::string_view prediction, std::string_view ground_truth) {
  return fraction_equal(py::find_digit_runs(py::decode_utf8(prediction)), py::decode_utf8(ground_truth));
}

double code_sim(std::string_view prediction, std::string_view ground_truth) {
  std::string line;
  for (const auto& l : py::lines_after_leading_newlines(prediction)) {
    if (l.find('`') == std::string::npos && l.find('#') == std::string::npos && l.find("//") == std::string::npos) {
      line = l;
      break;
    }
  }
  return difflib::fuzz_ratio(line, ground_truth) / 100.0;
}

double score_pair(Metric m, std::string_view prediction, std::string_view ground_truth,
                  const std::vector<std::string>* all_classes, const RougeOptions& opt) {
  switch (m) {
    case Metric::QaF1: return qa_f1(prediction, ground_truth);
    case Metric::RougeL: return rouge_l(prediction, ground_truth, opt);
    case Metric::Classification:
      if (!all_classes) fail("classification metric", "all_classes", "a list of class names", "null");
      return classification(prediction, ground_truth, *all_classes);
    case Metric::Retrieval: return retrieval(prediction, ground_truth);
    case Metric::Count: return count(prediction, ground_truth);
    case Metric::CodeSim: return code_sim(prediction, ground_truth);
  }
  return 0.0;
}

namespace {
const std::map<std::string, DatasetScoring>& dataset_table() {
  static const std::map<std::string, DatasetScoring> table = {
      {"narrativeqa", {Metric::QaF1, false}},         {"qasper", {Metric::QaF1, false}},
      {"multifieldqa_en", {Metric::QaF1, false}},     {"hotpotqa", {Metric::QaF1, false}},
      {"2wikimqa", {Metric::QaF1, false}},            {"musique", {Metric::QaF1, false}},
      {"gov_report", {Metric::RougeL, false}},        {"qmsum", {Metric::RougeL, false}},
      {"multi_news", {Metric::RougeL, false}},        {"trec", {Metric::Classification, true}},
      {"triviaqa", {Metric::QaF1, true}},             {"samsum", {Metric::RougeL, true}},
      {"passage_count", {Metric::Count, false}},      {"passage_retrieval_en", {Metric::Retrieval, false}},
      {"lcc", {Metric::CodeSim, false}},              {"repobench-p", {Metric::CodeSim, false}},
  };
  return table;
}

std::string strip_e(const std::string& d) {
  if (d.size() > 2 && d.compare(d.size() - 2, 2, "_e") == 0) return d.substr(0, d.size() - 2);
  return d;
}
}  // namespace

const std::vector<std::string>& english_datasets() {
  static const std::vector<std::string> names = {
      "narrativeqa", "qasper",   "multifieldqa_en", "hotpotqa", "2wikimqa",      "musique",
      "gov_report",  "qmsum",    "multi_news",      "trec",     "triviaqa",      "samsum",
      "passage_count", "passage_retrieval_en", "lcc", "repobench-p"};
  return names;
}

bool is_known_dataset(const std::string& dataset) { return dataset_table().count(strip_e(dataset)) > 0; }

DatasetScoring dataset_scoring(const std::string& dataset) {
  auto it = dataset_table().find(strip_e(dataset));
  if (it == dataset_table().end())
    fail("dataset", "'" + dataset + "'", "one of the 16 English LongBench datasets (optionally with _e)");
  return it->second;
}

double score_record(const DatasetScoring& ds, std::string_view prediction, const std::vector<std::string>& answers,
                    const std::vector<std::string>* all_classes, const RougeOptions& opt) {
  std::string cut;
  if (ds.first_line) {
    cut = py::first_line(prediction);
    prediction = cut;
  }
  double score = 0.0;
  for (const auto& gold : answers) score = std::max(score, score_pair(ds.metric, prediction, gold, all_classes, opt));
  return score;
}

double py_round2(double x) {
  if (!std::isfinite(x)) return x;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", x);  // glibc rounds the exact binary value, ties to even
  return std::strtod(buf, nullptr);
}

}  // namespace cokv::longbench
