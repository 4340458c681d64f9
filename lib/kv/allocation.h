// Allocation: turning per-head scores (or a prompt's rankings) into integer per-head budgets.
// Every allocator cokv has lives here: CoKV Eq. 3, proportional with floor (BaKlaVa), uniform
// (SnapKV), Task-KV layer totals, AdaKV, PyramidKV.
//
// Players are KV heads, flat index p = il * n_kv_heads + ih (layer-major). Every allocator
// returns integer budgets (prompt tokens a head keeps, window included) that
//   - sum exactly to the requested total (n x mean_budget), and
//   - are >= the floor (the window; window + sink for Task-KV's ordinary heads).
// Rounding is largest-remainder: every head gets floor(quota), the leftover units go to the
// largest fractional parts; ties (fractional parts equal to within 1e-9) go to the lower index, so
// the result is deterministic and independent of thread count or platform.
//
// Budgets in a table are independent of the prompt length (no cap): a head whose budget
// exceeds the prompt simply keeps the whole prompt. cap_budgets() applies a prompt length
// for evaluation; by default it does NOT redistribute (CoKV's rule: the saved memory stays
// saved); with redistribute=true the excess goes to uncapped heads in proportion to their
// budget above the window (water-filling), which re-applies Eq. 3 with the capped heads fixed.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kv/budget.h"
#include "kv/scorers.h"

namespace cokv {

// n x mean_budget as an exact integer; throws when it is not one (e.g. 3 heads x 12.5) or
// when mean_budget < floor.
int64_t total_budget(int n, double mean_budget, int floor, const std::string& what);

// Largest-remainder rounding of nonnegative real quotas to integers summing to `total`.
// Each result is floor(q_i) or floor(q_i)+1 (when sum q == total); see the header comment.
std::vector<int64_t> round_largest_remainder(const std::vector<double>& quota, int64_t total);

// The general primitive: budgets >= floor summing to total, the part above the floor shared in
// proportion to weights (all weights zero: equal shares), each budget <= cap when given
// (water-filling: capped heads are fixed at cap and the rest re-shared). weights >= 0.
// Throws when total < n*floor or total > n*cap.
Budgets distribute(const std::vector<double>& weights, int64_t total, int floor,
                            std::optional<int> cap = std::nullopt);

// ---- CoKV (paper Eq. 3) ----------------------------------------------------------------------
// NSV_i = max(s_i - min_a, 0) / (max s - min_a), min_a = the alpha-th smallest score (alpha in
// 1..n). When max == min_a every NSV is 0 and the allocation is uniform.
std::vector<double> cokv_nsv(const std::vector<double>& scores, int alpha);
// c_i = B * NSV_i / sum NSV + window, B = n * (mean_budget - window), rounded as above.
Budgets allocate_cokv(const std::vector<double>& scores, double mean_budget, int window, int alpha);
// The alphas the paper searches; choosing one by validation utility is the caller's job.
const std::vector<int>& cokv_alphas();  // {1, 5, 10, 15, 20, 30, 40}
struct AlphaCandidate {
  int alpha;
  Budgets budgets;  // [n]
};
// One candidate per alpha <= n (larger alphas are skipped).
std::vector<AlphaCandidate> cokv_candidates(const std::vector<double>& scores, double mean_budget, int window,
                                            const std::vector<int>& alphas = cokv_alphas());

// ---- proportional with floor and exponent (cokv's BaKlaVa mapping) -------------------------------
// c_i = floor + B' * s_i^p / sum s^p, B' = n * (mean_budget - floor). Scores must be >= 0 and
// finite; floor must be >= window (the caller passes max(window, floor)).
Budgets allocate_proportional(const std::vector<double>& scores, double mean_budget, int floor,
                                       double exponent = 1.0);

// ---- uniform (SnapKV) ----------------------------------------------------------------------------
Budgets allocate_uniform(int n, double mean_budget, int window);

// ---- Task-KV: heterogeneous heads keep everything ----------------------------------------------
// "Keep everything" is expressed as budget = full_budget, the longest prompt the table is meant
// for (e.g. the evaluation's truncation length: 8000 for Llama-3 LongBench runs), which by the
// file-format rule keeps the whole prompt. Those budgets count toward the total, as in the paper
// where a 40% budget includes the full heads. The other heads share the rest equally, each at
// least window + sink (their tokens are sinks + recent + middle activations; which tokens is the
// eviction scorer's business, the table holds only counts). With per_layer_totals (the paper's
// rule: "k chosen so the layer total meets the budget") every layer totals n_kv_heads x mean
// (largest-remainder over layers when that is fractional); otherwise only the global total is
// kept.
//   TaskKvFit::Exact   full heads get exactly full_budget; throws naming the layer when the
//                      others cannot get window + sink each (the paper's online rule, where the
//                      prompt is known).
//   TaskKvFit::Shrink  full heads get min(full_budget, what the layer leaves after window + sink
//                      per ordinary head), at least the window; a layer of only full heads shares
//                      its total. A static table cannot hold a full head at small budgets, so its
//                      heterogeneous heads get the largest share that fits (cokv-profile's rule).
//                      Requires per_layer_totals.
enum class TaskKvFit { Exact, Shrink };
struct TaskKvAllocOptions {
  int window = 8;
  int sink = 0;
  int full_budget = 0;  // > 0 required
  bool per_layer_totals = true;
  TaskKvFit fit = TaskKvFit::Exact;
};
Budgets allocate_task_kv(const std::vector<uint8_t>& heterogeneous /*[n]*/, int n_layers, int n_kv_heads,
                         double mean_budget, const TaskKvAllocOptions& opt);

// ---- AdaKV and PyramidKV: per-prompt and per-layer baselines ------------------------------------
// AdaKV for one prompt: rankings of the prompt (heads [L*G] with sorted scores), mean budget c
// (window included). Per layer the budgets sum to G x c exactly when every head has at least
// c - window rankable positions; each head gets >= window + floor(floor_share x (c - window)),
// the rest of the layer's selectable slots go to the best tokens across its heads (cross-head
// top-k of the scorer's scores).
Budgets adakv_budgets(const Rankings& r, int n_layers, int n_kv_heads, int budget, int window,
                      double floor_share = 0.2);
// PyramidKV: per-layer head budgets [L*G], layer l's per-head quota
//   window + max - l (max - min) / (L - 1),  min = (c - window) / beta,  max = 2 (c - window) - min,
// with layer totals rounded (largest remainder) to sum exactly to L x G x c, and each layer
// total spread over its heads as evenly as integers allow.
Budgets pyramidkv_budgets(int n_layers, int n_kv_heads, int budget, int window, double beta = 20.0);

// ---- prompt-length cap (evaluation time) -------------------------------------------------------
// Caps every budget at prompt_len. redistribute=false: just min(b, prompt_len) (the total
// shrinks). redistribute=true: keeps the total (up to n x prompt_len) by giving the excess to
// uncapped heads in proportion to (b_i - window).
Budgets cap_budgets(const Budgets& budgets, int prompt_len, int window, bool redistribute);

// ---- one rule, re-runnable at any total (used by the LU-KV curve export) ----------------------
struct AllocRule {
  enum class Kind { cokv, proportional, uniform, from_budgets };
  Kind kind = Kind::cokv;
  int alpha = 10;                // cokv
  double exponent = 1.0;         // proportional
  int floor = 0;                 // proportional: its floor (max'ed with the window)
  Budgets reference;    // from_budgets: [n] budgets whose shape above the window is kept
  std::string describe() const;  // e.g. "cokv alpha=10"
};
// Budgets for `total` tokens with floor `window`, each <= cap when given. When total < n x floor
// the floor drops to total / n (a very small budget cannot honour the window).
Budgets allocate_rule(const AllocRule& rule, const std::vector<double>& scores, int64_t total,
                               int window, std::optional<int> cap = std::nullopt);

// ---- per-layer aggregation (exports, reports) ---------------------------------------------------
std::vector<int64_t> layer_totals(const Budgets& budgets, int n_layers, int n_kv_heads);
std::vector<double> layer_means(const std::vector<double>& values, int n_layers, int n_kv_heads);
// Integer per-layer mean budgets summing to round(total / n_kv_heads): what engines with one
// budget per layer (SnapKV/PyramidKV max_capacity_prompts) can express.
Budgets layer_mean_budgets(const Budgets& budgets, int n_layers, int n_kv_heads);

}  // namespace cokv
