// Evaluation tables and plots; see eval_report.h.
#include "report/eval_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "data/metrics.h"
#include "report/lineplot.h"

namespace cokv {
using nlohmann::ordered_json;

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

EvalRow* find_row(std::vector<EvalRow>& rows, const std::string& label, int budget) {
  for (auto& r : rows)
    if (r.label == label && r.budget == budget) return &r;
  return nullptr;
}

}  // namespace

std::string EvalRow::name() const { return budget > 0 ? label + "@" + std::to_string(budget) : label; }

void EvalTable::add(const std::string& label, int budget, const std::string& dataset, double score,
                    int64_t kept_tokens, int64_t kv_bytes) {
  EvalRow* r = find_row(rows, label, budget);
  if (!r) {
    rows.push_back(make_row(label, budget));
    r = &rows.back();
  }
  auto& c = r->cells[dataset];
  c.n += 1;
  c.total += score;
  r->n += 1;
  r->kept_tokens += double(kept_tokens);
  r->kv_bytes += double(kv_bytes);
}

void EvalTable::finish() {
  for (auto& r : rows) {
    double sum = 0;
    int nd = 0;
    for (auto& [ds, c] : r.cells) {
      const double mean = c.n ? c.total / double(c.n) : 0.0;
      c.score = value == EvalValue::Metric ? longbench::py_round2(100 * mean) : mean;
      sum += c.score;
      ++nd;
    }
    r.average = nd ? (value == EvalValue::Metric ? longbench::py_round2(sum / nd) : sum / nd) : 0.0;
  }
}

ordered_json latency_json(const std::vector<LatencyRow>& rows) {
  ordered_json j = ordered_json::array();
  for (const auto& r : rows) {
    ordered_json e;
    e["method"] = r.label;
    e["budget"] = r.budget;
    e["records"] = r.n_records;
    e["prefill_ms"] = r.n_records ? r.prefill_ms / double(r.n_records) : 0.0;
    e["decode_ms_per_token"] = r.n_tokens ? r.decode_ms / double(r.n_tokens) : 0.0;
    e["tokens"] = r.n_tokens;
    e["decode_ms_total"] = r.decode_ms;
    e["prefill_ms_total"] = r.prefill_ms;
    e["peak_kv_bytes"] = r.peak_kv_bytes;
    e["peak_kv_mib"] = double(r.peak_kv_bytes) / kMiB;
    j.push_back(e);
  }
  return j;
}

std::vector<LatencyRow> latency_from_json(const ordered_json& j, const std::string& where) {
  std::vector<LatencyRow> out;
  if (!j.is_array()) fail(where, "latency", "a list of rows");
  try {
    for (const auto& e : j) {
      LatencyRow r;
      r.label = e.at("method").get<std::string>();
      r.budget = e.at("budget").get<int>();
      r.n_records = e.at("records").get<int64_t>();
      r.prefill_ms = e.at("prefill_ms_total").get<double>();
      r.decode_ms = e.at("decode_ms_total").get<double>();
      r.n_tokens = e.at("tokens").get<int64_t>();
      r.peak_kv_bytes = e.at("peak_kv_bytes").get<size_t>();
      out.push_back(r);
    }
  } catch (const nlohmann::json::exception& e) {
    fail(where, "latency row",
         "method, budget, records, prefill_ms_total, decode_ms_total, tokens, peak_kv_bytes", e.what());
  }
  return out;
}

ordered_json eval_scores_json(const EvalTable& t, const std::vector<LatencyRow>& latency) {
  ordered_json j;
  j["format"] = "cokv.eval_scores.v1";
  j["datasets"] = t.datasets;
  j["records"] = ordered_json::object();
  for (const auto& ds : t.datasets) j["records"][ds] = t.records.count(ds) ? t.records.at(ds) : 0;
  j["scores"] = ordered_json::object();
  for (const auto& ds : t.datasets) {
    ordered_json d = ordered_json::object();
    for (const auto& r : t.rows) {
      auto it = r.cells.find(ds);
      if (it == r.cells.end()) continue;
      d[r.label][std::to_string(r.budget)] = it->second.score;
    }
    j["scores"][ds] = d;
  }
  j["results"] = ordered_json::array();
  for (const auto& r : t.rows) {
    ordered_json e;
    e["method"] = r.label;
    e["budget"] = r.budget;
    e["scores"] = ordered_json::object();
    e["counts"] = ordered_json::object();
    for (const auto& ds : t.datasets) {
      auto it = r.cells.find(ds);
      if (it == r.cells.end()) continue;
      e["scores"][ds] = it->second.score;
      e["counts"][ds] = it->second.n;
    }
    e["average"] = r.average;
    e["records"] = r.n;
    e["mean_kept_tokens"] = r.n ? r.kept_tokens / double(r.n) : 0.0;  // per record, summed over KV heads
    e["kv_bytes_per_record"] = r.n ? r.kv_bytes / double(r.n) : 0.0;
    e["kv_mib_per_record"] = r.n ? r.kv_bytes / double(r.n) / kMiB : 0.0;
    j["results"].push_back(e);
  }
  j["latency"] = latency_json(latency);
  return j;
}

std::string eval_results_markdown(const EvalTable& t, const std::vector<LatencyRow>& latency,
                                  const std::string& model_name, const ordered_json& settings,
                                  const std::vector<std::string>& plot_files, int n_kv_heads_total) {
  std::string md = "# cokv-eval results\n\n";
  md += "Model: " + model_name + ". Settings: ";
  bool first = true;
  for (const auto& [k, v] : settings.items()) {
    md += std::string(first ? "" : ", ") + k + " " + (v.is_string() ? v.get<std::string>() : v.dump());
    first = false;
  }
  md += ".\n\nRecords per dataset:";
  for (const auto& ds : t.datasets)
    md += " " + ds + " " + std::to_string(t.records.count(ds) ? t.records.at(ds) : 0);
  const bool ll = t.value == EvalValue::Loglik;
  const char* cell = ll ? "%.4f" : "%.2f";
  md += ". Budgets are mean KV tokens per KV head (recent window included); ";
  md += ll ? "values are the mean log-likelihood per gold answer token (nats, teacher forced; higher is better).\n\n"
           : "scores are LongBench's (100 x mean metric, 2 decimals).\n\n";

  // Table 1
  md += ll ? "## Answer log-likelihood\n\n| Method |" : "## Scores\n\n| Method |";
  for (const auto& ds : t.datasets) md += " " + ds + " |";
  md += " Avg. |\n|---|";
  for (size_t i = 0; i <= t.datasets.size(); ++i) md += "---:|";
  md += "\n";
  for (const auto& r : t.rows) {
    md += "| " + r.name() + " |";
    for (const auto& ds : t.datasets) {
      auto it = r.cells.find(ds);
      md += " " + (it == r.cells.end() ? std::string("-") : fmt(cell, it->second.score)) + " |";
    }
    md += " " + fmt(cell, r.average) + " |\n";
  }

  // Memory
  double full_bytes = 0;
  for (const auto& r : t.rows)
    if (r.budget == 0 && r.label == "full" && r.n) full_bytes = r.kv_bytes / double(r.n);
  md += "\n## KV memory\n\nPrompt K/V kept after compression, fp32, per record (mean over records).\n\n";
  md += "| Method | kept tokens per KV head | KV MiB per record |";
  if (full_bytes > 0) md += " share of full |";
  md += "\n|---|---:|---:|";
  if (full_bytes > 0) md += "---:|";
  md += "\n";
  for (const auto& r : t.rows) {
    if (!r.n) continue;
    const double kept = r.kept_tokens / double(r.n) / std::max(1, n_kv_heads_total);
    const double bytes = r.kv_bytes / double(r.n);
    md += "| " + r.name() + " | " + fmt("%.1f", kept) + " | " + fmt("%.3f", bytes / kMiB) + " |";
    if (full_bytes > 0) md += " " + fmt("%.1f%%", 100 * bytes / full_bytes) + " |";
    md += "\n";
  }

  // Latency
  if (!latency.empty()) {
    md +=
        "\n## Latency\n\nEach method alone on the first records of the run, with the compacted cache "
        "(prefill: full-cache forward pass of the prompt; decode: compaction + greedy decoding, per "
        "generated token; peak KV: kept prompt K/V plus the generated tokens' K/V).\n\n";
    md += "| Method | records | prefill ms | decode ms/token | peak KV MiB |\n|---|---:|---:|---:|---:|\n";
    for (const auto& r : latency) {
      const std::string name = r.budget > 0 ? r.label + "@" + std::to_string(r.budget) : r.label;
      md += "| " + name + " | " + std::to_string(r.n_records) + " | " +
            fmt("%.1f", r.n_records ? r.prefill_ms / double(r.n_records) : 0.0) + " | " +
            fmt("%.2f", r.n_tokens ? r.decode_ms / double(r.n_tokens) : 0.0) + " | " +
            fmt("%.3f", double(r.peak_kv_bytes) / kMiB) + " |\n";
    }
  }
  if (!plot_files.empty()) {
    md += ll ? "\n## Answer log-likelihood vs budget\n\n" : "\n## Score vs budget\n\n";
    for (const auto& f : plot_files)
      if (f.size() > 4 && f.substr(f.size() - 4) == ".svg") md += "![" + f + "](" + f + ")\n";
  }
  return md;
}

std::vector<std::string> write_eval_plots(const EvalTable& t, const std::string& dir, bool per_dataset) {
  std::vector<std::string> files;
  std::vector<std::string> labels;  // budgeted methods in row order
  double x_min = 0, x_max = 0;
  for (const auto& r : t.rows) {
    if (r.budget <= 0) continue;
    if (std::find(labels.begin(), labels.end(), r.label) == labels.end()) labels.push_back(r.label);
    x_min = x_min == 0 ? r.budget : std::min(x_min, double(r.budget));
    x_max = std::max(x_max, double(r.budget));
  }
  if (labels.empty()) return files;
  auto draw = [&](const std::string& dataset, const std::string& stem) {
    std::vector<LineSeries> series;
    for (const auto& l : labels) {
      LineSeries s{l, {}, {}};
      for (const auto& r : t.rows) {
        if (r.label != l || r.budget <= 0) continue;
        double y;
        if (dataset.empty())
          y = r.average;
        else if (auto it = r.cells.find(dataset); it != r.cells.end())
          y = it->second.score;
        else
          continue;
        s.x.push_back(r.budget);
        s.y.push_back(y);
      }
      // budgets ascending
      std::vector<size_t> idx(s.x.size());
      for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
      std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return s.x[a] < s.x[b]; });
      LineSeries sorted{l, {}, {}};
      for (size_t i : idx) sorted.x.push_back(s.x[i]), sorted.y.push_back(s.y[i]);
      if (!sorted.x.empty()) series.push_back(sorted);
    }
    for (const auto& r : t.rows)
      if (r.budget == 0) {
        double y;
        if (dataset.empty())
          y = r.average;
        else if (auto it = r.cells.find(dataset); it != r.cells.end())
          y = it->second.score;
        else
          continue;
        LineSeries s{r.label + " cache", {x_min, x_max}, {y, y}, true, false};
        series.push_back(s);
      }
    if (series.empty()) return;
    LinePlotOptions po;
    const std::string what = t.value == EvalValue::Loglik ? "answer log-likelihood" : "score";
    po.title = dataset.empty() ? "Average " + what + " vs KV budget" : dataset + ": " + what + " vs KV budget";
    po.x_label = "mean KV budget per head (tokens)";
    po.y_label = dataset.empty() ? "average " + what : what;
    po.log2_x = true;
    const std::string png = stem + ".png", svg = stem + ".svg";
    write_line_plot(series, (std::filesystem::path(dir) / png).string(),
                    (std::filesystem::path(dir) / svg).string(), po);
    files.push_back(png);
    files.push_back(svg);
  };
  draw("", "score_vs_budget");
  if (per_dataset)
    for (const auto& ds : t.datasets) draw(ds, "score_vs_budget." + ds);
  return files;
}

}  // namespace cokv
