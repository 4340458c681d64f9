// BaKlaVa-style head importance (arXiv 2502.13176; cokv's reading, METHODS.md), profiled once
// through the prefill's LayerObserver:
//   query head h of layer l: importance = 1 - mean over profiled tokens t of cos(x_t, x_t + o_{h,t})
//     x = the residual entering the layer, o_h = head h's attention output times its slice of Wo
//     (its contribution to the residual)
//   KV head g: the mean over the query heads of its GQA group
//   layer proxy: 1 - mean over tokens of cos(layer input, layer output)
// The per-head score handed to allocation is importance x layer proxy (layer_weight = true) or
// the importance alone. Budgets: proportional with a floor and an exponent (allocation.h), with
// (floor, exponent) picked by a small search scored by validation answer log-likelihood.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "runtime/prefill.h"

namespace cokv::profile {

// Accumulates the cosine statistics over any number of prompts.
class BaklavaObserver : public LayerObserver {
 public:
  // max_tokens > 0: profile at most that many tokens per prompt, evenly spaced (always incl.
  // the last); 0 = all tokens.
  BaklavaObserver(const ModelConfig& cfg, int max_tokens = 256);
  void on_layer(int il, const Mat& x_in, const Mat& attn_heads, const Mat& x_mid, const Mat& x_out,
                const HeadProjection& wo) override;

  std::vector<double> query_head_importance() const;  // [L*H]
  std::vector<double> kv_head_importance() const;     // [L*G], group means
  std::vector<double> layer_proxy() const;            // [L]
  int64_t n_tokens() const { return n_tok_; }         // profiled tokens (summed over prompts)

 private:
  ModelConfig cfg_;
  int max_tokens_;
  std::vector<double> cos_sum_;        // [L*H] sum of cos(x, x + o_h)
  std::vector<double> layer_cos_sum_;  // [L]
  std::vector<int64_t> count_;         // [L] tokens seen per layer
  int64_t n_tok_ = 0;
  Mat xs_, hs_, o_;  // [t, E], [t, D], [t, E] scratch
};

// Rows of a T-token prompt that are profiled (evenly spaced, last included).
std::vector<int> profiled_rows(int n_tokens, int max_tokens);

// importance x layer proxy (broadcast over the layer's KV heads), or the importance alone.
std::vector<double> baklava_scores(const std::vector<double>& kv_importance,
                                   const std::vector<double>& layer_proxy, int n_kv_heads, bool layer_weight);

struct BaklavaCandidate {
  int floor = 8;
  double exponent = 1.0;
};
// The search grid: floors {window, 2 window, 4 window} (those <= mean_budget) x exponents
// {0.5, 1, 2}.
std::vector<BaklavaCandidate> baklava_grid(int window, double mean_budget);

}  // namespace cokv::profile
