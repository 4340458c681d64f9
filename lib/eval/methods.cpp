// Built-in KV methods as budget requests (see methods.h).
#include "eval/methods.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/sha256.h"
#include "model/config.h"
#include "kv/allocation.h"

namespace cokv {

MethodKind parse_method(const std::string& name) {
  if (name == "full") return MethodKind::Full;
  if (name == "uniform" || name == "snapkv") return MethodKind::Uniform;
  if (name == "adakv") return MethodKind::AdaKV;
  if (name == "pyramidkv") return MethodKind::PyramidKV;
  if (name == "streaming" || name == "streamingllm") return MethodKind::Streaming;
  fail("--methods", "'" + name + "'", "full, uniform, adakv, pyramidkv or streaming");
}

const char* method_name(MethodKind k) {
  switch (k) {
    case MethodKind::Full:
      return "full";
    case MethodKind::Uniform:
      return "uniform";
    case MethodKind::AdaKV:
      return "adakv";
    case MethodKind::PyramidKV:
      return "pyramidkv";
    case MethodKind::Streaming:
      return "streaming";
    case MethodKind::Table:
      return "table";
  }
  return "?";
}

namespace {

void check_table(const BudgetTable& t, const std::string& file, const ModelConfig& cfg, const TableCheck& check,
                 std::vector<std::string>* warnings) {
  auto warn = [&](const std::string& w) {
    if (warnings) warnings->push_back(w);
  };
  check_against_model(t, cfg, "", file);  // the shape
  if (!check.model_sha256.empty()) {
    if (t.model.file_sha256.empty()) {
      warn(file + ": records no model hash; only its shape was checked against " + check.model_path);
    } else if (t.model.file_sha256 != check.model_sha256) {
      const std::string what = file + " was made for the model with sha256 " + t.model.file_sha256 + ", but " +
                               check.model_path + " has sha256 " + check.model_sha256;
      if (!check.allow_model_mismatch)
        throw Error(what + " (a table of another model of the same shape; pass --allow-model-mismatch to evaluate it "
                           "anyway)");
      warn(what + " (evaluated anyway: --allow-model-mismatch)");
    }
  }
  const nlohmann::json& mc = t.method;
  if (mc.contains("convergence") && mc["convergence"].is_object() && mc["convergence"].contains("met") &&
      mc["convergence"]["met"].is_boolean() && !mc["convergence"]["met"].get<bool>())
    warn(file + ": the profile behind this table did not converge (" +
         (mc.contains("convergence_statement") && mc["convergence_statement"].is_string()
              ? mc["convergence_statement"].get<std::string>()
              : std::string("chain MAE above its target")) +
         "); its scores are noisy");
  const nlohmann::json& task = t.task;
  if (check.chat && task.contains("chat") && task["chat"].is_string() &&
      task["chat"].get<std::string>() != longbench::chat_policy_name(*check.chat))
    warn(file + ": profiled with chat template policy '" + task["chat"].get<std::string>() +
         "', evaluated with '" + longbench::chat_policy_name(*check.chat) + "' (another prompt format)");
  if (check.max_length && task.contains("max_length") && task["max_length"].is_number_integer() &&
      task["max_length"].get<int>() != *check.max_length)
    warn(file + ": profiled with prompts truncated to " + std::to_string(task["max_length"].get<int>()) +
         " tokens, evaluated with " + std::to_string(*check.max_length));
}

}  // namespace

std::vector<MethodSpec> build_method_list(const std::vector<std::string>& methods,
                                          const std::vector<int>& budgets,
                                          const std::vector<std::string>& table_files, const ModelConfig& cfg,
                                          const TableCheck& check, std::vector<std::string>* warnings) {
  std::vector<MethodSpec> out;
  auto has = [&](const std::string& label, int budget) {
    for (const auto& m : out)
      if (m.label == label && m.budget == budget) return true;
    return false;
  };
  bool need_budgets = false;
  for (const std::string& name : methods) {
    const MethodKind k = parse_method(name);
    if (k == MethodKind::Full) {
      if (!has("full", 0)) out.insert(out.begin(), MethodSpec{k, "full", 0, {}, 0, {}});
      continue;
    }
    need_budgets = true;
    for (int b : budgets) {
      if (b <= 0) fail("--budgets", std::to_string(b), "positive mean budgets");
      if (!has(method_name(k), b)) out.push_back(MethodSpec{k, method_name(k), b, {}, 0, {}});
    }
  }
  if (need_budgets && budgets.empty())
    fail("--budgets", "list", "at least one mean budget for the built-in methods");
  for (const std::string& file : table_files) {
    const BudgetTable t = read_budget_table(file);
    check_table(t, file, cfg, check, warnings);
    const std::string stem = std::filesystem::path(file).stem().string();
    for (size_t k = 0; k < t.tables.size(); ++k) {
      const BudgetLevel& lv = t.tables[k];
      MethodSpec m;
      m.kind = MethodKind::Table;
      m.label = t.method_name();
      if (lv.mean_budget != std::floor(lv.mean_budget))
        fail(file, "tables[" + std::to_string(k) + "].mean_budget", "an integer mean budget for evaluation",
             std::to_string(lv.mean_budget));
      m.budget = int(lv.mean_budget);
      m.table = lv.budgets;
      m.table_window = t.window;
      m.source = file;
      std::string content = "window " + std::to_string(t.window) + " budgets";
      for (int32_t b : lv.budgets) content += " " + std::to_string(b);
      m.content_sha256 = sha256_hex(content);
      // Several levels at one budget (alphas) or several files with one method name.
      if (has(m.label, m.budget) && lv.alpha) m.label += "-a" + std::to_string(*lv.alpha);
      if (has(m.label, m.budget)) m.label += "-" + stem;
      for (int i = 2; has(m.label, m.budget); ++i) m.label += "-" + std::to_string(i);
      out.push_back(std::move(m));
    }
  }
  if (out.empty()) fail("methods", "list", "at least one method (--methods or --tables)", "none");
  return out;
}

std::string method_fingerprint(const MethodSpec& m, const MethodOptions& opt) {
  std::string f = std::string(method_name(m.kind)) + ":" + std::to_string(m.budget);
  switch (m.kind) {
    case MethodKind::AdaKV: f += ":floor=" + std::to_string(opt.adakv_floor); break;
    case MethodKind::PyramidKV: f += ":beta=" + std::to_string(opt.pyramid_beta); break;
    case MethodKind::Streaming: f += ":sinks=" + std::to_string(opt.streaming_sinks); break;
    case MethodKind::Table: f += ":" + m.content_sha256; break;
    default: break;
  }
  return f;
}

BudgetRequest method_request(const MethodSpec& m, PreparedSample& ps, const ModelConfig& cfg,
                             const MethodOptions& opt) {
  const int L = cfg.n_layers, G = cfg.n_kv_heads, n = L * G;
  BudgetRequest r;
  r.scorer = opt.scorer;
  if (r.scorer.kind == ScorerKind::AhaKV && m.budget > 0) r.scorer.aha_budget = m.budget;
  switch (m.kind) {
    case MethodKind::Full:
      r.budget = BudgetVector::all(n);
      break;
    case MethodKind::Uniform:
      r.budget = BudgetVector::uniform(n, m.budget);
      break;
    case MethodKind::AdaKV: {
      const Rankings& rk = ps.ranking(r.scorer);
      r.budget.keep = adakv_budgets(rk, L, G, m.budget, rk.window, opt.adakv_floor);
      break;
    }
    case MethodKind::PyramidKV:
      r.budget.keep = pyramidkv_budgets(L, G, m.budget, opt.scorer.window, opt.pyramid_beta);
      break;
    case MethodKind::Streaming:
      r.scorer = ScorerConfig{};
      r.scorer.kind = ScorerKind::Streaming;
      r.scorer.window = opt.scorer.window;
      r.scorer.sinks = opt.streaming_sinks;
      r.budget = BudgetVector::uniform(n, m.budget);
      break;
    case MethodKind::Table:
      r.scorer.window = m.table_window;
      r.budget.keep.assign(m.table.begin(), m.table.end());
      break;
  }
  return r;
}

}  // namespace cokv
