// Evaluation tables and plots; see eval_report.h.
#include "report/eval_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

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

ordered_json interval_json(const Interval& i) {
  if (std::isnan(i.lo) || std::isnan(i.hi)) return nullptr;
  return ordered_json::array({i.lo, i.hi});
}

// "52.30 [41.0, 63.1]" (metric) or "-3.1234 [-3.30, -2.95]" (loglik).
std::string with_interval(double v, const Interval& i, bool loglik) {
  std::string s = fmt(loglik ? "%.4f" : "%.2f", v);
  if (!std::isnan(i.lo)) s += " [" + fmt(loglik ? "%.3f" : "%.1f", i.lo) + ", " + fmt(loglik ? "%.3f" : "%.1f", i.hi) + "]";
  return s;
}

// The paired-difference table and the sentence that says which differences are not noise.
std::string paired_markdown(const EvalTable& t, bool loglik) {
  std::vector<std::string> against;
  for (const auto& r : t.rows)
    for (const auto& p : r.paired) {
      const std::string col = p.against.rfind("uniform@", 0) == 0 ? "uniform" : p.against;
      if (std::find(against.begin(), against.end(), col) == against.end()) against.push_back(col);
    }
  if (against.empty()) return {};
  std::string md = "\n## Paired differences\n\nAverage of this method minus the other, on the same records";
  md += " (uniform: at the same mean budget); * marks a 95% interval that excludes zero.\n\n| Method |";
  for (const auto& a : against) md += " vs " + a + " |";
  md += "\n|---|";
  for (size_t i = 0; i < against.size(); ++i) md += "---:|";
  md += "\n";
  std::vector<std::string> clear;
  size_t n_pairs = 0;
  for (const auto& r : t.rows) {
    if (r.paired.empty()) continue;
    md += "| " + r.name() + " |";
    for (const auto& a : against) {
      const EvalRow::Paired* hit = nullptr;
      for (const auto& p : r.paired)
        if ((p.against.rfind("uniform@", 0) == 0 ? "uniform" : p.against) == a) hit = &p;
      if (!hit) {
        md += " - |";
        continue;
      }
      ++n_pairs;
      const bool ex = hit->ci.excludes_zero();
      md += " " + with_interval(hit->diff, hit->ci, loglik) + (ex ? " *" : "") + " |";
      if (ex) clear.push_back(r.name() + " vs " + hit->against + " (" + fmt(loglik ? "%+.4f" : "%+.2f", hit->diff) + ")");
    }
    md += "\n";
  }
  md += "\n";
  bool any_interval = false;
  for (const auto& r : t.rows)
    for (const auto& p : r.paired) any_interval = any_interval || !std::isnan(p.ci.lo);
  if (!any_interval) {
    md += "Too few records for intervals (fewer than " + std::to_string(t.min_records_for_interval) +
          " in a dataset): none of these differences can be told from noise.\n";
  } else if (clear.empty()) {
    md += "No difference's interval excludes zero: with these records every gap above is within noise.\n";
  } else {
    md += "Intervals that exclude zero (" + std::to_string(clear.size()) + " of " + std::to_string(n_pairs) + "): ";
    for (size_t i = 0; i < clear.size(); ++i) md += (i ? "; " : "") + clear[i];
    md += ". The others are within noise.\n";
  }
  return md;
}

}  // namespace

std::string EvalRow::name() const { return budget > 0 ? label + "@" + std::to_string(budget) : label; }

void EvalTable::add(const std::string& label, int budget, const std::string& dataset, const std::string& record_id,
                    double value, int64_t kept_tokens, int64_t kv_bytes) {
  EvalRow* r = find_row(rows, label, budget);
  if (!r) {
    rows.push_back(make_row(label, budget));
    r = &rows.back();
  }
  auto& c = r->cells[dataset];
  c.n += 1;
  c.total += value;
  c.values[record_id] = value;
  r->n += 1;
  r->kept_tokens += double(kept_tokens);
  r->kv_bytes += double(kv_bytes);
}

namespace {

// Every row's per-record values on one record list per dataset (the union over rows; NaN where a
// row lacks a record), so one resample of record indices serves every row and every pair.
struct RecordGrid {
  std::vector<std::string> datasets;                 // strata
  std::vector<int> sizes;                            // records per dataset
  std::vector<std::vector<std::vector<double>>> v;   // [row][dataset][record]
};

RecordGrid record_grid(const EvalTable& t) {
  RecordGrid g;
  std::vector<std::vector<std::string>> ids;
  for (const auto& ds : t.datasets) {
    std::vector<std::string> u;
    for (const auto& r : t.rows)
      if (auto it = r.cells.find(ds); it != r.cells.end())
        for (const auto& [id, _] : it->second.values) u.push_back(id);
    std::sort(u.begin(), u.end());
    u.erase(std::unique(u.begin(), u.end()), u.end());
    if (u.empty()) continue;
    g.datasets.push_back(ds);
    g.sizes.push_back(int(u.size()));
    ids.push_back(std::move(u));
  }
  g.v.resize(t.rows.size());
  for (size_t r = 0; r < t.rows.size(); ++r) {
    g.v[r].resize(g.datasets.size());
    for (size_t d = 0; d < g.datasets.size(); ++d) {
      auto& col = g.v[r][d];
      col.assign(ids[d].size(), NAN);
      auto it = t.rows[r].cells.find(g.datasets[d]);
      if (it == t.rows[r].cells.end()) continue;
      for (size_t i = 0; i < ids[d].size(); ++i)
        if (auto f = it->second.values.find(ids[d][i]); f != it->second.values.end()) col[i] = f->second;
    }
  }
  return g;
}

// Mean of a (minus b, when given) over the drawn records where both are present; NaN if none.
double drawn_mean(const std::vector<double>& a, const std::vector<double>* b, const std::vector<int>& idx) {
  double sum = 0;
  int n = 0;
  for (int i : idx) {
    const double x = b ? a[i] - (*b)[i] : a[i];
    if (std::isnan(x)) continue;
    sum += x;
    ++n;
  }
  return n ? sum / n : NAN;
}

// Mean over datasets of the per-dataset means (a row's average), scaled; NaN datasets skipped.
double drawn_average(const RecordGrid& g, size_t a, const size_t* b, const Resample& idx, double scale) {
  double sum = 0;
  int n = 0;
  for (size_t d = 0; d < g.datasets.size(); ++d) {
    const double m = drawn_mean(g.v[a][d], b ? &g.v[*b][d] : nullptr, idx[d]);
    if (std::isnan(m)) continue;
    sum += m;
    ++n;
  }
  return n ? scale * sum / n : NAN;
}

Resample identity_resample(const std::vector<int>& sizes) {
  Resample r(sizes.size());
  for (size_t d = 0; d < sizes.size(); ++d)
    for (int i = 0; i < sizes[d]; ++i) r[d].push_back(i);
  return r;
}

}  // namespace

void EvalTable::finish() {
  const double scale = value == EvalValue::Metric ? 100.0 : 1.0;
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
  // Statistics per row: one per dataset cell, the average, then the pairs (vs full, vs uniform).
  const RecordGrid g = record_grid(*this);
  struct Pair {
    size_t row, ref;
  };
  std::vector<Pair> pairs;
  auto row_index = [&](const std::string& label, int budget) -> std::optional<size_t> {
    for (size_t i = 0; i < rows.size(); ++i)
      if (rows[i].label == label && rows[i].budget == budget) return i;
    return std::nullopt;
  };
  const auto full = row_index("full", 0);
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].paired.clear();
    if (full && *full != i) pairs.push_back({i, *full});
    if (rows[i].budget > 0 && rows[i].label != "uniform")
      if (auto u = row_index("uniform", rows[i].budget)) pairs.push_back({i, *u});
  }
  const size_t D = g.datasets.size(), per_row = D + 1;
  const int n_stats = int(rows.size() * per_row + pairs.size());
  auto stats = [&](const Resample& idx, std::span<double> out) {
    for (size_t r = 0; r < rows.size(); ++r) {
      for (size_t d = 0; d < D; ++d) out[r * per_row + d] = scale * drawn_mean(g.v[r][d], nullptr, idx[d]);
      out[r * per_row + D] = drawn_average(g, r, nullptr, idx, scale);
    }
    for (size_t k = 0; k < pairs.size(); ++k)
      out[rows.size() * per_row + k] = drawn_average(g, pairs[k].row, &pairs[k].ref, idx, scale);
  };
  if (D == 0 || rows.empty()) return;
  const auto ci = bootstrap_intervals(g.sizes, n_stats, bootstrap, stats);
  std::vector<double> point(static_cast<size_t>(n_stats));
  stats(identity_resample(g.sizes), point);
  // Intervals only where every dataset involved has enough records.
  const Interval none{NAN, NAN};
  auto enough = [&](size_t r) {
    for (const auto& [ds, c] : rows[r].cells)
      if (c.n < min_records_for_interval) return false;
    return true;
  };
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t d = 0; d < D; ++d)
      if (auto it = rows[r].cells.find(g.datasets[d]); it != rows[r].cells.end())
        it->second.ci = it->second.n >= min_records_for_interval ? ci[r * per_row + d] : none;
    rows[r].average_ci = enough(r) ? ci[r * per_row + D] : none;
  }
  for (size_t k = 0; k < pairs.size(); ++k) {
    const size_t s = rows.size() * per_row + k;
    const bool ok = enough(pairs[k].row) && enough(pairs[k].ref);
    rows[pairs[k].row].paired.push_back({rows[pairs[k].ref].name(), point[s], ok ? ci[s] : none});
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
    if (!r.source.empty()) e["source"] = r.source;
    e["scores"] = ordered_json::object();
    e["counts"] = ordered_json::object();
    for (const auto& ds : t.datasets) {
      auto it = r.cells.find(ds);
      if (it == r.cells.end()) continue;
      e["scores"][ds] = it->second.score;
      e["counts"][ds] = it->second.n;
    }
    e["average"] = r.average;
    e["ci95"] = ordered_json::object();
    for (const auto& ds : t.datasets)
      if (auto it = r.cells.find(ds); it != r.cells.end()) e["ci95"][ds] = interval_json(it->second.ci);
    e["average_ci95"] = interval_json(r.average_ci);
    e["paired"] = ordered_json::array();
    for (const auto& p : r.paired)
      e["paired"].push_back({{"against", p.against},
                             {"diff", p.diff},
                             {"ci95", interval_json(p.ci)},
                             {"excludes_zero", p.ci.excludes_zero()}});
    e["records"] = r.n;
    e["mean_kept_tokens"] = r.n ? r.kept_tokens / double(r.n) : 0.0;  // per record, summed over KV heads
    e["kv_bytes_per_record"] = r.n ? r.kv_bytes / double(r.n) : 0.0;
    e["kv_mib_per_record"] = r.n ? r.kv_bytes / double(r.n) / kMiB : 0.0;
    j["results"].push_back(e);
  }
  j["bootstrap"] = {{"method", "percentile bootstrap over records, stratified by dataset; pairs on the same records"},
                    {"replicates", t.bootstrap.replicates},
                    {"seed", t.bootstrap.seed},
                    {"level", t.bootstrap.level}};
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
      md += " " + (it == r.cells.end() ? std::string("-") : with_interval(it->second.score, it->second.ci, ll)) + " |";
    }
    md += " " + with_interval(r.average, r.average_ci, ll) + " |\n";
  }
  md += "\nBrackets: 95% intervals, percentile bootstrap over the records of each dataset (" +
        std::to_string(t.bootstrap.replicates) + " replicates, seed " + std::to_string(t.bootstrap.seed) +
        "; none with fewer than " + std::to_string(t.min_records_for_interval) +
        " records in a dataset); a gap between two methods matters only where its paired interval below "
        "excludes zero.\n";
  md += paired_markdown(t, ll);

  // Memory
  double full_bytes = 0;
  for (const auto& r : t.rows)
    if (r.budget == 0 && r.label == "full" && r.n) full_bytes = r.kv_bytes / double(r.n);
  md += "\n## KV memory\n\nPrompt K/V kept after compression, in the backend's cache type (fp32 on the CPU backend, bf16 or fp16 on CUDA), per record (mean over records).\n\n";
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
  // A row's value (and interval) for one dataset, or its average (dataset empty).
  auto value_of = [&](const EvalRow& r, const std::string& dataset, double& y, Interval& ci) {
    if (dataset.empty()) {
      y = r.average, ci = r.average_ci;
      return true;
    }
    auto it = r.cells.find(dataset);
    if (it == r.cells.end()) return false;
    y = it->second.score, ci = it->second.ci;
    return true;
  };
  auto draw = [&](const std::string& dataset, const std::string& stem) {
    std::vector<LineSeries> series;
    for (const auto& l : labels) {
      std::vector<const EvalRow*> pts;
      for (const auto& r : t.rows)
        if (r.label == l && r.budget > 0) pts.push_back(&r);
      std::sort(pts.begin(), pts.end(), [](const EvalRow* a, const EvalRow* b) { return a->budget < b->budget; });
      LineSeries s{l, {}, {}};
      bool bars = true;
      for (const EvalRow* r : pts) {
        double y;
        Interval ci;
        if (!value_of(*r, dataset, y, ci)) continue;
        s.x.push_back(r->budget);
        s.y.push_back(y);
        s.y_lo.push_back(ci.lo), s.y_hi.push_back(ci.hi);
        bars = bars && std::isfinite(ci.lo) && std::isfinite(ci.hi);
      }
      if (!bars) s.y_lo.clear(), s.y_hi.clear();
      if (!s.x.empty()) series.push_back(s);
    }
    for (const auto& r : t.rows)
      if (r.budget == 0) {
        double y;
        Interval ci;
        if (!value_of(r, dataset, y, ci)) continue;
        LineSeries s{r.label + " cache", {x_min, x_max}, {y, y}, {}, {}, true, false};
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
