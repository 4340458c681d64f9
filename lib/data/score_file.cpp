// Predictions-file scoring (see score_file.h).
#include "data/score_file.h"

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

ScoreReport score_prediction_files(const std::vector<std::string>& paths, const ScoreOptions& opt) {
  ScoreReport rep;
  std::map<std::string, size_t> index;  // dataset -> position in rep.datasets
  for (const auto& path : paths) {
    const std::string stem = std::filesystem::path(path).stem().string();
    const ReadOptions ro{opt.skip_bad};
    const ReadStats st = for_each_jsonl(path, ro, [&](const nlohmann::json& j, const std::string& where) {
      std::string dataset = opt.dataset;
      if (dataset.empty() && j.contains("dataset")) dataset = get_string(j, "dataset", where);
      if (dataset.empty() && is_known_dataset(stem)) dataset = stem;
      if (dataset.empty())
        fail(where, "field 'dataset'", "a LongBench dataset name (or pass --dataset, or name the file <dataset>.jsonl)",
             "nothing");
      if (!is_known_dataset(dataset))
        fail(where, "dataset '" + dataset + "'", "one of the 16 English LongBench datasets");
      const DatasetScoring ds = dataset_scoring(dataset);
      const std::string pred = get_string(j, "pred", where);
      const auto answers = get_string_list(j, "answers", where);
      std::optional<std::vector<std::string>> classes;
      if (j.contains("all_classes")) classes = get_string_list_or_null(j, "all_classes", where);
      if (ds.metric == Metric::Classification && !classes)
        fail(where, "field 'all_classes'", "the list of class names (dataset " + dataset + ")", "null or missing");
      double s;
      try {
        s = score_record(ds, pred, answers, classes ? &*classes : nullptr, opt.rouge);
      } catch (const Error& e) {
        fail(where, "record", "a scorable record", e.what());
      }
      auto [it, fresh] = index.emplace(dataset, rep.datasets.size());
      if (fresh) rep.datasets.push_back({dataset, 0, 0.0, 0.0});
      DatasetScore& d = rep.datasets[it->second];
      ++d.n;
      d.total += s;
    });
    if (st.n_skipped > 0 && rep.n_skipped == 0) rep.first_error = st.first_error;
    rep.n_skipped += st.n_skipped;
  }
  for (auto& d : rep.datasets) d.score = py_round2(100 * d.total / static_cast<double>(d.n));
  return rep;
}

std::string format_score_table(const ScoreReport& r) {
  size_t w = 7;  // "dataset"
  for (const auto& d : r.datasets) w = std::max(w, d.dataset.size());
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-*s %8s %8s\n", static_cast<int>(w), "dataset", "records", "score");
  out += buf;
  for (const auto& d : r.datasets) {
    std::snprintf(buf, sizeof buf, "%-*s %8zu %8.2f\n", static_cast<int>(w), d.dataset.c_str(), d.n, d.score);
    out += buf;
  }
  if (r.datasets.size() > 1) {
    size_t n = 0;
    for (const auto& d : r.datasets) n += d.n;
    std::snprintf(buf, sizeof buf, "%-*s %8zu %8.2f\n", static_cast<int>(w), "average", n, r.average());
    out += buf;
  }
  return out;
}

std::string score_report_json(const ScoreReport& r) {
  nlohmann::ordered_json j;
  j["format"] = "cokv.longbench_scores.v1";
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
