// Allocation rules (CoKV Eq. 3, proportional, uniform, Task-KV, AdaKV, PyramidKV) on one
// rounding primitive.
#include "kv/allocation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <queue>

#include "core/error.h"

namespace cokv {

namespace {

void check_scores(const std::vector<double>& s, const std::string& what) {
  if (s.empty()) fail(what, "scores", "at least one head", "none");
  for (size_t i = 0; i < s.size(); ++i)
    if (!std::isfinite(s[i]))
      fail(what, "scores[" + std::to_string(i) + "]", "a finite number", std::to_string(s[i]));
}

}  // namespace

int64_t total_budget(int n, double mean_budget, int floor, const std::string& what) {
  if (!std::isfinite(mean_budget)) fail(what, "mean_budget", "a finite number", std::to_string(mean_budget));
  const double t = double(n) * mean_budget;
  const double r = std::round(t);
  if (std::fabs(t - r) > 1e-6 * std::max(1.0, std::fabs(t)))
    fail(what, "mean_budget", "a value with n_heads x mean_budget integral (n = " + std::to_string(n) + ")",
         std::to_string(mean_budget));
  if (mean_budget < floor)
    fail(what, "mean_budget", ">= the per-head floor " + std::to_string(floor), std::to_string(mean_budget));
  return static_cast<int64_t>(r);
}

namespace {

// Largest remainder with per-head bounds lo <= out_i <= hi (quotas are already within them;
// the bounds only guard the floating-error corrections from pushing a head past them).
std::vector<int64_t> round_bounded(const std::vector<double>& quota, int64_t total, int64_t lo, int64_t hi) {
  const size_t n = quota.size();
  std::vector<int64_t> out(n);
  std::vector<int64_t> frac_key(n);  // fractional part quantised to 1e-9 so near-ties are exact ties
  int64_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const double q = std::max(0.0, quota[i]);
    const double f = std::floor(q);
    out[i] = std::clamp(static_cast<int64_t>(f), lo, hi);
    frac_key[i] = std::llround((q - f) * 1e9);
    sum += out[i];
  }
  int64_t left = total - sum;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  // Largest fraction first, lower index first among equals.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return frac_key[a] > frac_key[b]; });
  // Normally 0 <= left < n and one pass suffices; more passes only if quotas did not sum to total.
  while (left > 0) {
    bool moved = false;
    for (size_t k = 0; k < n && left > 0; ++k)
      if (out[order[k]] < hi) ++out[order[k]], --left, moved = true;
    if (!moved)
      throw Error("allocation: cannot place " + std::to_string(total) + " tokens within the per-head cap");
  }
  // Floating error can overshoot by a unit: take it back from the smallest fractions.
  while (left < 0) {
    bool moved = false;
    for (size_t k = n; k-- > 0 && left < 0;)
      if (out[order[k]] > lo) --out[order[k]], ++left, moved = true;
    if (!moved)
      throw Error("allocation: cannot fit " + std::to_string(total) + " tokens above the per-head floor");
  }
  return out;
}

}  // namespace

std::vector<int64_t> round_largest_remainder(const std::vector<double>& quota, int64_t total) {
  if (quota.empty() && total != 0)
    throw Error("round_largest_remainder: no heads to hold " + std::to_string(total));
  if (total < 0) throw Error("round_largest_remainder: negative total " + std::to_string(total));
  return round_bounded(quota, total, 0, std::numeric_limits<int64_t>::max());
}

Budgets distribute(const std::vector<double>& weights, int64_t total, int floor,
                            std::optional<int> cap) {
  const size_t n = weights.size();
  if (n == 0) throw Error("allocation: no heads");
  if (floor < 0) throw Error("allocation: negative floor " + std::to_string(floor));
  for (size_t i = 0; i < n; ++i)
    if (!(weights[i] >= 0) || !std::isfinite(weights[i]))
      fail("allocation", "weights[" + std::to_string(i) + "]", "a finite number >= 0",
           std::to_string(weights[i]));
  if (total < int64_t(n) * floor)
    fail("allocation", "total budget", ">= n x floor = " + std::to_string(int64_t(n) * floor),
         std::to_string(total));
  if (cap && *cap < floor)
    fail("allocation", "cap", ">= floor " + std::to_string(floor), std::to_string(*cap));
  if (cap && total > int64_t(n) * *cap)
    fail("allocation", "total budget", "<= n x cap = " + std::to_string(int64_t(n) * *cap),
         std::to_string(total));

  // Water-filling in reals: share (total - fixed) over the free heads; fix any head above cap.
  std::vector<double> quota(n);
  std::vector<uint8_t> fixed(n, 0);
  int64_t free_total = total;
  for (;;) {
    double w_sum = 0;
    size_t n_free = 0;
    for (size_t i = 0; i < n; ++i)
      if (!fixed[i]) w_sum += weights[i], ++n_free;
    if (n_free == 0) break;
    const double extra = double(free_total - int64_t(n_free) * floor);
    bool any_new = false;
    for (size_t i = 0; i < n; ++i) {
      if (fixed[i]) continue;
      quota[i] = floor + (w_sum > 0 ? extra * weights[i] / w_sum : extra / double(n_free));
      if (cap && quota[i] > *cap) {
        fixed[i] = 1, quota[i] = *cap, free_total -= *cap, any_new = true;
      }
    }
    if (!any_new) break;
  }
  const auto r = round_bounded(quota, total, floor, cap ? *cap : std::numeric_limits<int>::max());
  Budgets out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<int>(r[i]);
  return out;
}

// ---- CoKV --------------------------------------------------------------------------------------

std::vector<double> cokv_nsv(const std::vector<double>& scores, int alpha) {
  check_scores(scores, "cokv allocation");
  const int n = static_cast<int>(scores.size());
  if (alpha < 1 || alpha > n)
    fail("cokv allocation", "alpha", "1.." + std::to_string(n), std::to_string(alpha));
  std::vector<double> sorted = scores;
  std::nth_element(sorted.begin(), sorted.begin() + (alpha - 1), sorted.end());
  const double min_a = sorted[alpha - 1];
  const double max_s = *std::max_element(scores.begin(), scores.end());
  std::vector<double> nsv(n, 0.0);
  if (max_s > min_a)
    for (int i = 0; i < n; ++i) nsv[i] = std::max(scores[i] - min_a, 0.0) / (max_s - min_a);
  return nsv;
}

Budgets allocate_cokv(const std::vector<double>& scores, double mean_budget, int window, int alpha) {
  const int n = static_cast<int>(scores.size());
  const int64_t total = total_budget(n, mean_budget, window, "cokv allocation");
  return distribute(cokv_nsv(scores, alpha), total, window);
}

const std::vector<int>& cokv_alphas() {
  static const std::vector<int> a{1, 5, 10, 15, 20, 30, 40};
  return a;
}

std::vector<AlphaCandidate> cokv_candidates(const std::vector<double>& scores, double mean_budget, int window,
                                            const std::vector<int>& alphas) {
  std::vector<AlphaCandidate> out;
  for (int a : alphas)
    if (a >= 1 && a <= static_cast<int>(scores.size()))
      out.push_back({a, allocate_cokv(scores, mean_budget, window, a)});
  return out;
}

// ---- proportional, uniform ----------------------------------------------------------------------

Budgets allocate_proportional(const std::vector<double>& scores, double mean_budget, int floor,
                                       double exponent) {
  check_scores(scores, "proportional allocation");
  if (!(exponent > 0) || !std::isfinite(exponent))
    fail("proportional allocation", "exponent", "a finite number > 0", std::to_string(exponent));
  std::vector<double> w(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    if (scores[i] < 0)
      fail("proportional allocation", "scores[" + std::to_string(i) + "]",
           ">= 0 (shift or use the CoKV rule for signed scores)", std::to_string(scores[i]));
    w[i] = std::pow(scores[i], exponent);
  }
  const int64_t total =
      total_budget(static_cast<int>(scores.size()), mean_budget, floor, "proportional allocation");
  return distribute(w, total, floor);
}

Budgets allocate_uniform(int n, double mean_budget, int window) {
  if (n <= 0) fail("uniform allocation", "n", "> 0", std::to_string(n));
  const int64_t total = total_budget(n, mean_budget, window, "uniform allocation");
  return distribute(std::vector<double>(n, 0.0), total, window);
}

// ---- Task-KV ------------------------------------------------------------------------------------

Budgets allocate_task_kv(const std::vector<uint8_t>& het, int n_layers, int n_kv_heads, double mean_budget,
                         const TaskKvAllocOptions& opt) {
  const std::string what = "task-kv allocation";
  const int n = n_layers * n_kv_heads;
  const bool exact = opt.fit == TaskKvFit::Exact;
  if (n_layers <= 0 || n_kv_heads <= 0) fail(what, "shape", "n_layers > 0 and n_kv_heads > 0");
  if (static_cast<int>(het.size()) != n)
    fail(what, "heterogeneous mask", std::to_string(n) + " entries (n_layers x n_kv_heads)",
         std::to_string(het.size()));
  if (opt.full_budget <= 0)
    fail(what, "full_budget", "> 0 (the longest prompt the table is for)", std::to_string(opt.full_budget));
  const int floor = opt.window + opt.sink;
  if (exact && opt.full_budget < floor)
    fail(what, "full_budget", ">= window + sink = " + std::to_string(floor), std::to_string(opt.full_budget));
  if (!exact && !opt.per_layer_totals) fail(what, "per_layer_totals", "true when full heads shrink to fit");
  // Shrinking full heads only need the window each; exact ones leave every head window + sink.
  const int64_t total = total_budget(n, mean_budget, exact ? floor : opt.window, what);

  // Per-layer targets (or one global pool).
  std::vector<int64_t> targets;
  if (opt.per_layer_totals) {
    const auto t = distribute(std::vector<double>(n_layers, 0.0), total, 0);
    targets.assign(t.begin(), t.end());
  } else {
    targets = {total};
  }
  Budgets out(n, 0);
  const int group = opt.per_layer_totals ? n_kv_heads : n;
  for (size_t gi = 0; gi < targets.size(); ++gi) {
    const int64_t target = targets[gi];
    const std::string where = opt.per_layer_totals ? what + " (layer " + std::to_string(gi) + ")" : what;
    std::vector<int> full, ordinary;
    for (int k = 0; k < group; ++k) {
      const int p = static_cast<int>(gi) * group + k;
      (het[p] ? full : ordinary).push_back(p);
    }
    const int64_t n_full = int64_t(full.size()), n_ord = int64_t(ordinary.size());
    if (n_ord == 0) {  // every head is heterogeneous
      if (exact && target != n_full * opt.full_budget)
        fail(where, "budget", "a total that full heads use exactly, or at least one ordinary head",
             std::to_string(target) + " for full heads needing " + std::to_string(n_full * opt.full_budget));
      const auto share = exact ? Budgets(full.size(), opt.full_budget)
                               : distribute(std::vector<double>(full.size(), 0.0), target, 0);
      for (size_t k = 0; k < full.size(); ++k) out[full[k]] = share[k];
      continue;
    }
    int64_t full_b = opt.full_budget;
    if (!exact && n_full > 0) {
      const int64_t room = target - n_ord * floor;
      if (room < n_full * opt.window)
        fail(where, "mean_budget",
             "room for window + sink tokens per ordinary head and the window per full head",
             std::to_string(mean_budget));
      full_b = std::max<int64_t>(opt.window, std::min<int64_t>(opt.full_budget, room / n_full));
    }
    const int64_t rest = target - n_full * full_b;
    if (rest < n_ord * floor)
      fail(where, "budget",
           ">= " + std::to_string(n_full * full_b + n_ord * floor) +
               " (full heads x full_budget + others x (window + sink))",
           std::to_string(target));
    for (int p : full) out[p] = static_cast<int32_t>(full_b);
    const auto part = distribute(std::vector<double>(ordinary.size(), 0.0), rest, floor);
    for (size_t k = 0; k < ordinary.size(); ++k) out[ordinary[k]] = part[k];
  }
  return out;
}

// ---- AdaKV, PyramidKV ------------------------------------------------------------------------------

Budgets adakv_budgets(const Rankings& r, int n_layers, int n_kv_heads, int budget, int window,
                      double floor_share) {
  const int G = n_kv_heads;
  require(int(r.heads.size()) == n_layers * G, "adakv: rankings do not match the model's heads");
  require(budget >= window,
          "adakv: budget " + std::to_string(budget) + " is below the window " + std::to_string(window));
  const int64_t per_head = budget - window;  // selectable slots per head on average
  const int64_t floor = int64_t(std::floor(floor_share * double(per_head)));
  Budgets out(size_t(n_layers) * G);
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

Budgets pyramidkv_budgets(int n_layers, int n_kv_heads, int budget, int window, double beta) {
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
  Budgets out(size_t(L) * G);
  for (int l = 0; l < L; ++l)
    for (int g = 0; g < G; ++g)
      out[size_t(l) * G + g] = int32_t(window + layer[l] / G + (g < layer[l] % G ? 1 : 0));
  return out;
}

// ---- cap ------------------------------------------------------------------------------------------

Budgets cap_budgets(const Budgets& budgets, int prompt_len, int window, bool redistribute) {
  if (prompt_len < 0) fail("cap_budgets", "prompt_len", ">= 0", std::to_string(prompt_len));
  Budgets out(budgets.size());
  if (!redistribute) {
    for (size_t i = 0; i < budgets.size(); ++i) out[i] = std::min(budgets[i], prompt_len);
    return out;
  }
  const int floor = std::min(window, prompt_len);
  int64_t total = 0;
  std::vector<double> w(budgets.size());
  for (size_t i = 0; i < budgets.size(); ++i) {
    total += budgets[i];
    w[i] = std::max(0, budgets[i] - window);
  }
  total = std::min<int64_t>(total, int64_t(budgets.size()) * prompt_len);
  total = std::max<int64_t>(total, int64_t(budgets.size()) * floor);
  return distribute(w, total, floor, prompt_len);
}

// ---- rule -----------------------------------------------------------------------------------------

std::string AllocRule::describe() const {
  switch (kind) {
    case Kind::cokv:
      return "cokv alpha=" + std::to_string(alpha);
    case Kind::proportional:
      return "proportional exponent=" + std::to_string(exponent) + " floor=" + std::to_string(floor);
    case Kind::uniform:
      return "uniform";
    case Kind::from_budgets:
      return "scaled from a reference table";
  }
  return "?";
}

Budgets allocate_rule(const AllocRule& rule, const std::vector<double>& scores, int64_t total,
                               int window, std::optional<int> cap) {
  const int n = static_cast<int>(scores.size());
  if (n == 0) throw Error("allocate_rule: no heads");
  int floor = window;
  std::vector<double> w(n, 0.0);
  switch (rule.kind) {
    case AllocRule::Kind::cokv:
      w = cokv_nsv(scores, rule.alpha);
      break;
    case AllocRule::Kind::proportional:
      check_scores(scores, "proportional allocation");
      floor = std::max(window, rule.floor);
      for (int i = 0; i < n; ++i) {
        if (scores[i] < 0)
          fail("proportional allocation", "scores[" + std::to_string(i) + "]", ">= 0",
               std::to_string(scores[i]));
        w[i] = std::pow(scores[i], rule.exponent);
      }
      break;
    case AllocRule::Kind::uniform:
      break;
    case AllocRule::Kind::from_budgets:
      if (static_cast<int>(rule.reference.size()) != n)
        fail("allocate_rule", "reference budgets", std::to_string(n) + " entries",
             std::to_string(rule.reference.size()));
      for (int i = 0; i < n; ++i) w[i] = std::max(0, rule.reference[i] - window);
      break;
  }
  floor = static_cast<int>(std::min<int64_t>(floor, total / n));
  if (cap) floor = std::min(floor, *cap);
  return distribute(w, total, floor, cap);
}

// ---- per-layer ------------------------------------------------------------------------------------

std::vector<int64_t> layer_totals(const Budgets& budgets, int n_layers, int n_kv_heads) {
  if (static_cast<int64_t>(budgets.size()) != int64_t(n_layers) * n_kv_heads)
    fail("layer_totals", "budgets", std::to_string(n_layers * n_kv_heads) + " entries",
         std::to_string(budgets.size()));
  std::vector<int64_t> t(n_layers, 0);
  for (int il = 0; il < n_layers; ++il)
    for (int ih = 0; ih < n_kv_heads; ++ih) t[il] += budgets[il * n_kv_heads + ih];
  return t;
}

std::vector<double> layer_means(const std::vector<double>& values, int n_layers, int n_kv_heads) {
  if (static_cast<int64_t>(values.size()) != int64_t(n_layers) * n_kv_heads)
    fail("layer_means", "values", std::to_string(n_layers * n_kv_heads) + " entries",
         std::to_string(values.size()));
  std::vector<double> m(n_layers, 0.0);
  for (int il = 0; il < n_layers; ++il) {
    for (int ih = 0; ih < n_kv_heads; ++ih) m[il] += values[il * n_kv_heads + ih];
    m[il] /= n_kv_heads;
  }
  return m;
}

Budgets layer_mean_budgets(const Budgets& budgets, int n_layers, int n_kv_heads) {
  const auto t = layer_totals(budgets, n_layers, n_kv_heads);
  std::vector<double> q(n_layers);
  double sum = 0;
  for (int il = 0; il < n_layers; ++il) q[il] = double(t[il]) / n_kv_heads, sum += q[il];
  const auto r = round_largest_remainder(q, std::llround(sum));
  return Budgets(r.begin(), r.end());
}

}  // namespace cokv
