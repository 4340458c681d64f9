// Built-in KV methods as budget requests (see methods.h).
#include "eval/methods.h"

#include <algorithm>
#include <filesystem>
#include <queue>

#include "core/error.h"
#include "model/config.h"
#include "profile/allocation.h"

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

std::vector<MethodSpec> build_method_list(const std::vector<std::string>& methods,
                                          const std::vector<int>& budgets,
                                          const std::vector<std::string>& table_files,
                                          const ModelConfig& cfg) {
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
    check_against_model(t, cfg, file);
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

std::vector<int32_t> adakv_budgets(const Rankings& r, int n_layers, int n_kv_heads, int budget, int window,
                                   double floor_share) {
  const int G = n_kv_heads;
  require(int(r.heads.size()) == n_layers * G, "adakv: rankings do not match the model's heads");
  require(budget >= window,
          "adakv: budget " + std::to_string(budget) + " is below the window " + std::to_string(window));
  const int64_t per_head = budget - window;  // selectable slots per head on average
  const int64_t floor = int64_t(std::floor(floor_share * double(per_head)));
  std::vector<int32_t> out(size_t(n_layers) * G);
  // Cross-head top-k by merging the heads' sorted score lists: a max-heap over the next
  // candidate of each head (ties: lower head first, then the head's own order).
  struct Cand {
    float score;
    int head;
    int64_t idx;
  };
  auto worse = [](const Cand& a, const Cand& b) {
    if (a.score != b.score) return a.score < b.score;
    return a.head > b.head;
  };
  std::vector<Cand> heap_buf;
  for (int il = 0; il < n_layers; ++il) {
    std::vector<int64_t> take(G);
    int64_t left = per_head * G;
    for (int g = 0; g < G; ++g) {
      const int64_t avail = int64_t(r.heads[size_t(il) * G + g].order.size());
      take[g] = std::min(floor, avail);
      left -= take[g];
    }
    heap_buf.clear();
    std::priority_queue<Cand, std::vector<Cand>, decltype(worse)> heap(worse, std::move(heap_buf));
    for (int g = 0; g < G; ++g) {
      const HeadRanking& h = r.heads[size_t(il) * G + g];
      if (take[g] < int64_t(h.order.size())) heap.push({h.score[take[g]], g, take[g]});
    }
    while (left > 0 && !heap.empty()) {
      const Cand c = heap.top();
      heap.pop();
      ++take[c.head];
      --left;
      const HeadRanking& h = r.heads[size_t(il) * G + c.head];
      if (c.idx + 1 < int64_t(h.order.size())) heap.push({h.score[c.idx + 1], c.head, c.idx + 1});
    }
    heap_buf = std::vector<Cand>();
    for (int g = 0; g < G; ++g) out[size_t(il) * G + g] = int32_t(window + take[g]);
  }
  return out;
}

std::vector<int32_t> pyramidkv_budgets(int n_layers, int n_kv_heads, int budget, int window, double beta) {
  require(budget >= window,
          "pyramidkv: budget " + std::to_string(budget) + " is below the window " + std::to_string(window));
  require(beta > 0, "pyramidkv: beta must be positive");
  const int L = n_layers, G = n_kv_heads;
  const double avail = budget - window;
  const double mn = avail / beta, mx = 2 * avail - mn;
  std::vector<double> quota(L);
  for (int l = 0; l < L; ++l) {
    const double per_head = L > 1 ? mx - l * (mx - mn) / (L - 1) : avail;
    quota[l] = G * per_head;  // selectable slots of the layer
  }
  const std::vector<int64_t> layer = round_largest_remainder(quota, int64_t(L) * G * (budget - window));
  std::vector<int32_t> out(size_t(L) * G);
  for (int l = 0; l < L; ++l)
    for (int g = 0; g < G; ++g)
      out[size_t(l) * G + g] = int32_t(window + layer[l] / G + (g < layer[l] % G ? 1 : 0));
  return out;
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
