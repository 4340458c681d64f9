// export_all and the small shared helpers of the exporters.
#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "export/exports.h"

namespace cokv {

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

std::vector<std::string> export_all(const BudgetTable& t, const std::string& out_dir,
                                    const ExportOptions& opt) {
  validate(t, "export_all: table");
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw Error(out_dir + ": cannot create the export folder (" + ec.message() + ")");
  const fs::path dir(out_dir);
  std::vector<std::string> written;

  written.push_back((dir / "headkv_scores.json").string());
  write_headkv_json(t, written.back(), opt.headkv_normalize);

  const fs::path duo = dir / "duo_attention";
  write_duo_attention(t, duo.string(), opt.duo_sink_size >= 0 ? opt.duo_sink_size : t.sink,
                      opt.duo_recent_size >= 0 ? opt.duo_recent_size : t.window);
  written.push_back((duo / "full_attention_heads.tsv").string());
  written.push_back((duo / "config.json").string());

  written.push_back((dir / "lukv_curve.npy").string());
  npy::save(written.back(),
            lukv_curve(t, opt.rule ? *opt.rule : default_export_rule(t), opt.reference_length));

  written.push_back((dir / "kv_compress_bias.npz").string());
  write_kv_compress(t, written.back());

  written.push_back((dir / "layer_budgets.json").string());
  write_layer_lists(t, written.back(), opt.reference_length);
  return written;
}

}  // namespace cokv
