#include "report/profile_summary.h"

#include <sstream>

#include "core/progress.h"

namespace cokv {

using nlohmann::json;

namespace {

std::string fmt(double x, int prec = 4) {
  std::ostringstream o;
  o.precision(prec);
  o << x;
  return o.str();
}

double num(const json& j, const char* key) { return j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0; }

std::string mib(double bytes) { return fmt(bytes / 1048576.0, 4) + " MiB"; }

void convergence_row(std::ostream& md, const json& s) {
  if (!s.contains("chains")) return;
  const json& mae = s["chain_mae"];
  md << "| convergence | " << s["chains"].dump() << " chains x " << s["samples_per_chain"].dump() << " samples, MAE "
     << (mae.is_number() ? fmt(mae.get<double>(), 3) : std::string("n/a"));
  if (s["converged"].is_null())
    md << " (fixed sample count)";
  else
    md << (s["converged"].get<bool>() ? " (converged)" : " (not converged)");
  md << " |\n";
}

}  // namespace

std::string profile_summary_markdown(const json& s) {
  std::ostringstream md;
  const json& ev = s["evaluations"];
  const json& t = s["time_s"];
  md << "# cokv-profile: " << s["name"].get<std::string>() << "\n\n";
  md << "| | |\n|---|---|\n";
  md << "| model | " << s["model"]["name"].get<std::string>() << " (" << s["model"]["players"].dump()
     << " KV heads) |\n";
  md << "| task | " << s["task"].get<std::string>() << ": " << s["datasets"].dump() << ", " << s["records"].dump()
     << " validation records, " << s["prompt_tokens"]["min"].dump() << "-" << s["prompt_tokens"]["max"].dump()
     << " prompt tokens |\n";
  md << "| utility | " << s["utility"].get<std::string>() << "; full cache " << fmt(num(s, "utility_full")) << ", "
     << (s["absent"] == "zero" ? "all heads zeroed " : "window only ") << fmt(num(s, "utility_empty")) << " |\n";
  md << "| time | " << format_duration(num(t, "total_s")) << " total, prefill " << fmt(num(t, "prefill_s"), 3)
     << " s, scores " << fmt(num(t, "scores_s"), 3) << " s |\n";
  md << "| evaluations | " << ev["computed"].dump() << " computed, " << ev["replayed"].dump() << " replayed, "
     << fmt(num(s, "evaluations_per_s"), 3) << " /s |\n";
  md << "| memory | prepared samples " << mib(num(s["memory"], "prepared_samples_bytes")) << ", weights "
     << mib(num(s["memory"], "weight_bytes")) << ", peak RSS " << mib(num(s["memory"], "peak_rss_bytes"));
  if (num(s["memory"], "peak_device_bytes") > 0)
    md << ", peak device " << mib(num(s["memory"], "peak_device_bytes")) << " (of "
       << mib(num(s["memory"], "device_reserved_bytes")) << " reserved)";
  md << " |\n";
  if (s.contains("devices") && !s["devices"].empty() && s["devices"][0].value("index", -1) >= 0) {
    md << "| devices | " << s["backend"].get<std::string>() << ":";
    for (const auto& d : s["devices"]) md << " " << d["index"].dump() << " (" << d["name"].get<std::string>() << ")";
    md << " |\n";
  }
  convergence_row(md, s);
  if (s.contains("convergence_statement"))
    md << "| convergence rule | " << s["convergence_statement"].get<std::string>() << " |\n";
  md << "\n## Tables\n\n| mean budget | min | max | alpha |\n|---|---|---|---|\n";
  for (const auto& lv : s["tables"])
    md << "| " << lv["mean_budget"].dump() << " | " << lv["min"].dump() << " | " << lv["max"].dump() << " | "
       << (lv.contains("alpha") ? lv["alpha"].dump() : "-") << " |\n";
  if (s.contains("trace") && !s["trace"].empty()) {
    md << "\n## Convergence trace\n\n| samples | evaluations | chain MAE |\n|---|---|---|\n";
    for (const auto& tp : s["trace"])
      md << "| " << tp["samples"].dump() << " | " << tp["evaluations"].dump() << " | " << tp["chain_mae"].dump()
         << " |\n";
  }
  if (s.contains("selection") && !s["selection"]["candidates"].empty())
    md << "\n## Selection at mean budget " << s["selection"]["mean_budget"].dump() << "\n\n```\n"
       << s["selection"]["candidates"].dump() << "\n```\n";
  return md.str();
}

}  // namespace cokv
