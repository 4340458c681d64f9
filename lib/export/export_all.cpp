// export_all, its manifest (exports.json) and the small shared helpers of the exporters.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_bytes.h"
#include "export/exports.h"

namespace cokv {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

std::vector<double> minmax_normalized(const std::vector<double>& s) {
  if (s.empty()) return {};
  const auto [lo, hi] = std::minmax_element(s.begin(), s.end());
  std::vector<double> out(s.size(), 1.0);
  if (*hi > *lo)
    for (size_t i = 0; i < s.size(); ++i) out[i] = (s[i] - *lo) / (*hi - *lo);
  return out;
}

AllocRule default_export_rule(const BudgetTable& t) {
  AllocRule r;
  if (!t.tables.empty() && t.tables[0].alpha) {
    r.kind = AllocRule::Kind::cokv;
    r.alpha = *t.tables[0].alpha;
  } else if (t.method_name() == "uniform") {
    r.kind = AllocRule::Kind::uniform;
  } else if (!t.tables.empty()) {
    r.kind = AllocRule::Kind::from_budgets;
    r.reference = t.tables[0].budgets;
  } else if (*std::min_element(t.scores.begin(), t.scores.end()) >= 0) {
    r.kind = AllocRule::Kind::proportional;
  } else {
    r.kind = AllocRule::Kind::cokv;
    r.alpha = 1;
  }
  return r;
}

std::string table_file_tag(const BudgetTable& t, size_t k) {
  return twin_budget_suffix(t, k).substr(std::string("budgets.").size());
}

namespace {

ojson mean_json(double mean) {
  return mean == std::floor(mean) ? ojson(static_cast<int64_t>(mean)) : ojson(mean);
}
std::string num(double x) { return mean_json(x).dump(); }

// Collects what export_all writes: paths, manifest entries and notes.
struct Writer {
  Writer(const BudgetTable& table, const ExportOptions& options, const std::string& out_dir)
      : t(table), opt(options), dir(out_dir) {}
  const BudgetTable& t;
  const ExportOptions& opt;
  fs::path dir;
  std::vector<std::string> written;
  ojson files = ojson::array();
  std::vector<std::string> notes;

  void entry(const std::string& file, const std::string& consumer, ojson extra) {
    ojson e;
    e["file"] = file;
    e["consumer"] = consumer;
    for (auto it = extra.begin(); it != extra.end(); ++it) e[it.key()] = it.value();
    files.push_back(e);
  }

  void headkv() {
    written.push_back((dir / "headkv_scores.json").string());
    write_headkv_json(t, written.back(), opt.headkv_normalize);
    entry("headkv_scores.json", "HeadKV / KVCache-Factory",
          {{"kind", "scores"},
           {"reproduces", "no: HeadKV applies its own budget rule (beta, temp) to the scores"}});
    if (t.window != 8)
      notes.push_back(
          "HeadKV and KVCache-Factory set window_size 8 in run_longbench.py; this table's window is " +
          std::to_string(t.window) + ": edit it there for the budget files to match");
    for (size_t k = 0; k < t.tables.size(); ++k) {
      const auto& lv = t.tables[k];
      const std::string name = "headkv_budgets." + table_file_tag(t, k) + ".json";
      try {
        write_headkv_budgets(t, k, (dir / name).string(), opt.headkv_beta);
      } catch (const Error& e) {
        notes.push_back(name + " not written: " + e.what());
        continue;
      }
      written.push_back((dir / name).string());
      const auto capacity = static_cast<int64_t>(lv.mean_budget) - t.window;
      entry(name, "HeadKV / KVCache-Factory",
            {{"kind", "table"},
             {"mean_budget", mean_json(lv.mean_budget)},
             {"min_num", headkv_min_num(lv.mean_budget, t.window, opt.headkv_beta)},
             {"reproduces", "exactly, per head (with temp 1 and this beta)"},
             {"settings",
              {{"HeadKV",
                {{"max_capacity_prompts", static_cast<int64_t>(lv.mean_budget)},
                 {"beta", opt.headkv_beta},
                 {"temp", 1},
                 {"window_size", t.window}}},
               {"KVCache-Factory",
                {{"method", "HeadKV"},
                 {"max_capacity_prompts", capacity},
                 {"head_beta", opt.headkv_beta},
                 {"window_size", t.window}}}}}});
    }
  }

  void duo() {
    const int sink = opt.duo_sink_size >= 0 ? opt.duo_sink_size : t.sink;
    const int recent = opt.duo_recent_size >= 0 ? opt.duo_recent_size : t.window;
    if (recent == 0) {
      notes.push_back(
          "DuoAttention folders not written: recent_size would be 0 (the table's window), and kvpress's "
          "DuoAttentionPress masks keys[sink:-recent], an empty slice, so it would evict nothing; pass a Duo "
          "recent size");
      return;
    }
    write_duo_attention(t, (dir / "duo_attention").string(), sink, recent);
    for (const char* f : {"full_attention_heads.tsv", "config.json"})
      written.push_back((dir / "duo_attention" / f).string());
    entry("duo_attention/", "DuoAttention / kvpress DuoAttentionPress",
          {{"kind", "scores"},
           {"reproduces",
            "the ranking only: the consumer's head_compression_ratio or sparsity picks the split"},
           {"settings", {{"sink_size", sink}, {"recent_size", recent}}}});
    for (size_t k = 0; k < t.tables.size(); ++k) {
      const std::string name = "duo_attention." + table_file_tag(t, k);
      write_duo_table(t, k, (dir / name).string(), sink, recent, opt.reference_length);
      for (const char* f : {"full_attention_heads.tsv", "config.json"})
        written.push_back((dir / name / f).string());
      const DuoSplit s = duo_split(t, k, opt.reference_length, sink, recent);
      entry(name + "/", "DuoAttention / kvpress DuoAttentionPress",
            {{"kind", "table"},
             {"mean_budget", mean_json(t.tables[k].mean_budget)},
             {"reproduces",
              "Duo's two kinds of head: the " + std::to_string(s.n_full) +
                  " heads with the largest budgets whole, the rest sink + recent; the table's KV memory at "
                  "reference_length to the nearest head"},
             {"settings",
              {{"kvpress", {{"head_compression_ratio", s.head_compression_ratio}}},
               {"DuoAttention", {{"sparsity", s.head_compression_ratio}}},
               {"sink_size", sink},
               {"recent_size", recent}}}});
    }
  }

  void lukv() {
    const AllocRule rule = opt.rule ? *opt.rule : default_export_rule(t);
    written.push_back((dir / "lukv_curve.npy").string());
    npy::save(written.back(), lukv_curve(t, rule, opt.reference_length, opt.lukv_min_length));
    ojson tables = ojson::array();
    std::vector<int> owner(100, -1);
    for (size_t k = 0; k < t.tables.size(); ++k) {
      const double mean = t.tables[k].mean_budget;
      const int r = lukv_slice(mean, opt.reference_length);
      const double exact = 100.0 * (1.0 - mean / opt.reference_length);
      if (owner[r] >= 0) {
        notes.push_back("lukv_curve.npy: the table at mean " + num(mean) + " falls on slice " +
                        std::to_string(r) + ", taken by the table at mean " +
                        num(t.tables[owner[r]].mean_budget) + "; use a longer reference length");
        continue;
      }
      owner[r] = static_cast<int>(k);
      if (exact < 0.5 || exact >= 99.5)
        notes.push_back("lukv_curve.npy: mean " + num(mean) + " is " + num(std::round(exact * 100) / 100) +
                        "% compression at the reference length, outside kvpress's 1..99: slice " +
                        std::to_string(r) + " holds it");
      tables.push_back({{"mean_budget", mean_json(mean)}, {"slice", r}, {"compression_ratio", r / 100.0}});
    }
    entry(
        "lukv_curve.npy", "kvpress LUKVPress",
        {{"kind", "curve"},
         {"rule", rule.describe()},
         {"reference_length", opt.reference_length},
         {"min_length", opt.lukv_min_length},
         {"tables", tables},
         {"reproduces",
          "each table exactly at prompt length reference_length with its compression_ratio (when min_length "
          "is 0); kvpress scales every count by prompt / reference_length, the window too"},
         {"settings", {{"sink", t.sink}, {"window", t.window}}}});
  }

  void kv_compress() {
    written.push_back((dir / "kv_compress_bias.npz").string());
    write_kv_compress(t, written.back());
    const std::string why =
        "no: KV-Compress picks per-head counts by a global sort of per-token metrics + weight x bias at run "
        "time; ";
    entry("kv_compress_bias.npz", "KV-Compress (vLLM fork)",
          {{"kind", "scores"}, {"reproduces", why + "the bias is a prior in score order"}});
    for (size_t k = 0; k < t.tables.size(); ++k) {
      const std::string name = "kv_compress_bias." + table_file_tag(t, k) + ".npz";
      written.push_back((dir / name).string());
      write_kv_compress_table(t, k, written.back());
      entry(
          name, "KV-Compress (vLLM fork)",
          {{"kind", "table"},
           {"mean_budget", mean_json(t.tables[k].mean_budget)},
           {"reproduces", why + "the bias orders heads by the table's budgets; with a bias weight far above "
                                "the metric range whole heads are evicted in that order"}});
    }
  }

  void layer_lists() {
    written.push_back((dir / "layer_budgets.json").string());
    write_layer_lists(t, written.back(), opt.reference_length);
    entry("layer_budgets.json", "SnapKV / PyramidKV, kvpress PerLayerCompressionPress, TensorRT-LLM",
          {{"kind", "layer lists"},
           {"reproduces",
            "per-layer totals to within one token per KV head; per-head shape lost; kvpress ratios exact at "
            "prompt length reference_length; max_attention_window keeps the most recent tokens only"}});
    for (const auto& lv : t.tables)
      for (int m : layer_mean_budgets(lv.budgets, t.model.n_layers, t.model.n_kv_heads))
        if (m <= t.window) {
          notes.push_back("layer_budgets.json: a layer mean of " + std::to_string(m) + " at mean " +
                          num(lv.mean_budget) +
                          " is not above the window: KVCache-Factory's SnapKVCluster asserts "
                          "max_capacity_prompt > window_size");
          break;
        }
  }

  void manifest() {
    ojson j;
    j["format"] = "cokv.exports.v1";
    j["model"] = t.model.name;
    j["method"] = t.method_name();
    j["window"] = t.window;
    j["sink"] = t.sink;
    j["reference_length"] = opt.reference_length;
    j["files"] = files;
    j["notes"] = notes;
    written.push_back((dir / "exports.json").string());
    write_file_bytes(written.back(), j.dump(2) + "\n");
  }
};

}  // namespace

std::vector<std::string> export_all(const BudgetTable& t, const std::string& out_dir,
                                    const ExportOptions& opt, std::vector<std::string>* notes) {
  validate(t, "export_all: table");
  if (opt.reference_length <= 0)
    fail("export_all", "reference_length", "> 0", std::to_string(opt.reference_length));
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw Error(out_dir + ": cannot create the export folder (" + ec.message() + ")");
  Writer w(t, opt, out_dir);
  w.headkv();
  w.duo();
  w.lukv();
  w.kv_compress();
  w.layer_lists();
  w.manifest();
  if (notes) notes->insert(notes->end(), w.notes.begin(), w.notes.end());
  return w.written;
}

}  // namespace cokv
