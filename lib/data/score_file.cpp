// Predictions-file scoring (see score_file.h).
#include "data/score_file.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace cokv::longbench {

double ScoreReport::average() const {
  if (datasets.empty()) return 0.0;
  double sum = 0.0;
  for (const auto& d : datasets) sum += d.score;
  return py_round2(sum / static_cast<double>(datasets.size()));
}

bool ScoreReport::has_methods() const {
  for (const auto& d : datasets)
    if (!d.method.empty() || d.budget >= 0) return true;
  return false;
}

double ScoreReport::average(const std::string& method, int64_t budget) const {
  double sum = 0.0;
  size_t n = 0;
  for (const auto& d : datasets)
    if (d.method == method && d.budget == budget) sum += d.score, ++n;
  return n ? py_round2(sum / static_cast<double>(n)) : 0.0;
}

ScoreReport score_prediction_files(const std::vector<std::string>& paths, const ScoreOptions& opt) {
  ScoreReport rep;
  std::map<std::string, size_t> index;  // (method, budget, dataset) -> position in rep.datasets
  for (const auto& path : paths) {
    const std::string stem = std::filesystem::path(path).stem().string();
    const ReadOptions ro{opt.skip_bad};
    const ReadStats st = for_each_jsonl(path, ro, [&](const nlohmann::json& j, const std::string& where) {
      std::string dataset = opt.dataset;
      if (dataset.empty() && j.contains("dataset")) dataset = get_string(j, "dataset", where);
      if (dataset.empty() && is_known_dataset(stem)) dataset = stem;
      if (dataset.empty())
        fail(where, "field 'dataset'",
             "a LongBench dataset name (or pass --dataset, or name the file <dataset>.jsonl)", "nothing");
      DatasetScoring ds{Metric::QaF1, false};
      if (j.contains("metric")) {
        try {
          ds.metric = metric_from_name(get_string(j, "metric", where));
        } catch (const Error& e) {
          fail(where, "field 'metric'", "a LongBench metric name", e.what());
        }
        if (j.contains("first_line")) {
          if (!j["first_line"].is_boolean()) fail(where, "field 'first_line'", "true or false");
          ds.first_line = j["first_line"].get<bool>();
        }
      } else {
        if (!is_known_dataset(dataset))
          fail(where, "dataset '" + dataset + "'",
               "one of the 16 English LongBench datasets (or a 'metric' field naming its metric)");
        ds = dataset_scoring(dataset);
      }
      std::string method;
      int64_t budget = -1;
      if (j.contains("method")) method = get_string(j, "method", where);
      if (j.contains("budget")) budget = get_integer(j, "budget", where);
      const std::string pred = get_string(j, "pred", where);
      const auto answers = get_string_list(j, "answers", where);
      std::optional<std::vector<std::string>> classes;
      if (j.contains("all_classes")) classes = get_string_list_or_null(j, "all_classes", where);
      if (ds.metric == Metric::Classification && !classes)
        fail(where, "field 'all_classes'", "the list of class names (dataset " + dataset + ")",
             "null or missing");
      double s;
      try {
        s = score_record(ds, pred, answers, classes ? &*classes : nullptr, opt.rouge);
      } catch (const Error& e) {
        fail(where, "record", "a scorable record", e.what());
      }
      auto [it, fresh] =
          index.emplace(method + '\x1f' + std::to_string(budget) + '\x1f' + dataset, rep.datasets.size());
      if (fresh) rep.datasets.push_back({dataset, 0, 0.0, 0.0, method, budget});
      DatasetScore& d = rep.datasets[it->second];
      ++d.n;
      d.total += s;
    });
    if (st.n_read == 0 && st.n_skipped == 0)
      fail(path, "predictions", "at least one prediction line", "none: the file is empty or has only blank lines");
    if (st.n_skipped > 0 && rep.n_skipped == 0) rep.first_error = st.first_error;
    rep.n_skipped += st.n_skipped;
  }
  if (rep.datasets.empty())  // every record skipped (--skip-bad): an average of nothing is no score
    fail(paths.empty() ? std::string("predictions") : paths.front(), "predictions",
         "at least one scorable record", "none (" + std::to_string(rep.n_skipped) + " skipped; first: " +
                                             rep.first_error + ")");
  for (auto& d : rep.datasets) d.score = py_round2(100 * d.total / static_cast<double>(d.n));
  return rep;
}

namespace {

// A cell left-aligned in `width` columns (never cut: a long name widens its column).
std::string left(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

// " records    score" columns: counts and two-decimal scores, right-aligned in 8.
std::string numbers(size_t n, double score) {
  char buf[64];
  std::snprintf(buf, sizeof buf, " %8zu %8.2f\n", n, score);
  return buf;
}

std::string group_name(const std::string& method, int64_t budget) {
  std::string s = method.empty() ? std::string("-") : method;
  if (budget > 0) s += "@" + std::to_string(budget);
  return s;
}

// One block per (method, budget) group, in order of first appearance.
std::string format_grouped(const ScoreReport& r) {
  std::vector<std::pair<std::string, int64_t>> groups;
  for (const auto& d : r.datasets)
    if (std::find(groups.begin(), groups.end(), std::make_pair(d.method, d.budget)) == groups.end())
      groups.emplace_back(d.method, d.budget);
  size_t w = 7, wm = 6;  // "dataset", "method"
  for (const auto& d : r.datasets) {
    w = std::max(w, d.dataset.size());
    wm = std::max(wm, group_name(d.method, d.budget).size());
  }
  std::string out = left("method", wm) + " " + left("dataset", w) + "  records    score\n";
  for (const auto& [m, b] : groups) {
    const std::string g = group_name(m, b);
    size_t n = 0, nd = 0;
    for (const auto& d : r.datasets) {
      if (d.method != m || d.budget != b) continue;
      out += left(g, wm) + " " + left(d.dataset, w) + numbers(d.n, d.score);
      n += d.n;
      ++nd;
    }
    if (nd > 1) out += left(g, wm) + " " + left("average", w) + numbers(n, r.average(m, b));
  }
  return out;
}

}  // namespace

std::string format_score_table(const ScoreReport& r) {
  if (r.has_methods()) return format_grouped(r);
  size_t w = 7;  // "dataset"
  for (const auto& d : r.datasets) w = std::max(w, d.dataset.size());
  std::string out = left("dataset", w) + "  records    score\n";
  for (const auto& d : r.datasets) out += left(d.dataset, w) + numbers(d.n, d.score);
  if (r.datasets.size() > 1) {
    size_t n = 0;
    for (const auto& d : r.datasets) n += d.n;
    out += left("average", w) + numbers(n, r.average());
  }
  return out;
}

std::string score_report_json(const ScoreReport& r) {
  nlohmann::ordered_json j;
  j["format"] = "cokv.longbench_scores.v1";
  if (r.has_methods()) {
    j["groups"] = nlohmann::ordered_json::array();
    std::map<std::pair<std::string, int64_t>, size_t> at;
    for (const auto& d : r.datasets) {
      auto [it, fresh] = at.emplace(std::make_pair(d.method, d.budget), j["groups"].size());
      if (fresh) {
        nlohmann::ordered_json g;
        g["method"] = d.method;
        g["budget"] = d.budget;
        g["scores"] = nlohmann::ordered_json::object();
        g["counts"] = nlohmann::ordered_json::object();
        g["average"] = r.average(d.method, d.budget);
        j["groups"].push_back(g);
      }
      j["groups"][it->second]["scores"][d.dataset] = d.score;
      j["groups"][it->second]["counts"][d.dataset] = d.n;
    }
    j["skipped"] = r.n_skipped;
    return j.dump(2) + "\n";
  }
  j["scores"] = nlohmann::ordered_json::object();
  j["counts"] = nlohmann::ordered_json::object();
  for (const auto& d : r.datasets) {
    j["scores"][d.dataset] = d.score;
    j["counts"][d.dataset] = d.n;
  }
  j["average"] = r.average();
  j["skipped"] = r.n_skipped;
  return j.dump(2) + "\n";
}

}  // namespace cokv::longbench
