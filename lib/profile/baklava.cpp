// BaKlaVa-style head importance through the LayerObserver (see baklava.h).
#include "profile/baklava.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace cokv::profile {

std::vector<int> profiled_rows(int n_tokens, int max_tokens) {
  std::vector<int> rows;
  if (n_tokens <= 0) return rows;
  if (max_tokens <= 0 || max_tokens >= n_tokens) {
    rows.resize(n_tokens);
    for (int i = 0; i < n_tokens; ++i) rows[i] = i;
    return rows;
  }
  // Evenly spaced, ending at the last token: i * (T-1) / (k-1) for i < k.
  rows.resize(max_tokens);
  if (max_tokens == 1) {
    rows[0] = n_tokens - 1;
    return rows;
  }
  for (int i = 0; i < max_tokens; ++i) rows[i] = int(int64_t(i) * (n_tokens - 1) / (max_tokens - 1));
  return rows;
}

BaklavaObserver::BaklavaObserver(const ModelConfig& cfg, int max_tokens)
    : cfg_(cfg),
      max_tokens_(max_tokens),
      cos_sum_(size_t(cfg.n_layers) * cfg.n_heads, 0.0),
      layer_cos_sum_(cfg.n_layers, 0.0),
      count_(cfg.n_layers, 0) {}

namespace {
double cosine(const float* a, const float* b, int n) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < n; ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  if (aa <= 0 || bb <= 0) return 1.0;  // a zero vector: no measurable change
  return ab / std::sqrt(aa * bb);
}
}  // namespace

void BaklavaObserver::on_layer(int il, const Mat& x_in, const Mat& attn_heads, const Mat& /*x_mid*/,
                               const Mat& x_out, const HeadProjection& wo) {
  const int T = int(x_in.rows()), E = int(x_in.cols());
  const int H = cfg_.n_heads, D = cfg_.head_dim;
  const auto rows = profiled_rows(T, max_tokens_);
  const int t = int(rows.size());
  xs_.resize(t, E);
  hs_.resize(t, D);
  std::vector<float> sum(E);
  for (int r = 0; r < t; ++r) {
    xs_.row(r) = x_in.row(rows[r]);
    layer_cos_sum_[il] += cosine(x_in.row(rows[r]).data(), x_out.row(rows[r]).data(), E);
  }
  for (int h = 0; h < H; ++h) {
    for (int r = 0; r < t; ++r) hs_.row(r) = attn_heads.row(rows[r]).segment(size_t(h) * D, D);
    // o_h = attn_h Wo[:, hD:(h+1)D]^T: the head's contribution to the residual.
    wo.project(il, h, hs_, o_);
    double acc = 0;
    for (int r = 0; r < t; ++r) {
      for (int e = 0; e < E; ++e) sum[e] = xs_(r, e) + o_(r, e);
      acc += cosine(xs_.row(r).data(), sum.data(), E);
    }
    cos_sum_[size_t(il) * H + h] += acc;
  }
  count_[il] += t;
  if (il == 0) n_tok_ += t;
}

std::vector<double> BaklavaObserver::query_head_importance() const {
  const int L = cfg_.n_layers, H = cfg_.n_heads;
  std::vector<double> out(size_t(L) * H, 0.0);
  for (int il = 0; il < L; ++il) {
    require(count_[il] > 0, "baklava: no tokens profiled");
    for (int h = 0; h < H; ++h)
      out[size_t(il) * H + h] = 1.0 - cos_sum_[size_t(il) * H + h] / double(count_[il]);
  }
  return out;
}

std::vector<double> BaklavaObserver::kv_head_importance() const {
  const int L = cfg_.n_layers, H = cfg_.n_heads, G = cfg_.n_kv_heads, grp = H / G;
  const auto q = query_head_importance();
  std::vector<double> out(size_t(L) * G, 0.0);
  for (int il = 0; il < L; ++il)
    for (int g = 0; g < G; ++g) {
      double s = 0;
      for (int j = 0; j < grp; ++j) s += q[size_t(il) * H + size_t(g) * grp + j];
      out[size_t(il) * G + g] = s / grp;
    }
  return out;
}

std::vector<double> BaklavaObserver::layer_proxy() const {
  std::vector<double> out(layer_cos_sum_.size());
  for (size_t il = 0; il < out.size(); ++il) {
    require(count_[il] > 0, "baklava: no tokens profiled");
    out[il] = 1.0 - layer_cos_sum_[il] / double(count_[il]);
  }
  return out;
}

std::vector<double> baklava_scores(const std::vector<double>& kv_importance,
                                   const std::vector<double>& layer_proxy, int n_kv_heads,
                                   bool layer_weight) {
  require(kv_importance.size() == layer_proxy.size() * size_t(n_kv_heads), "baklava: shape mismatch");
  std::vector<double> s(kv_importance.size());
  for (size_t p = 0; p < s.size(); ++p) {
    // Cosines can exceed 1 by rounding: clamp so the proportional allocation sees s >= 0.
    const double imp = std::max(0.0, kv_importance[p]);
    s[p] = layer_weight ? imp * std::max(0.0, layer_proxy[p / n_kv_heads]) : imp;
  }
  return s;
}

std::vector<BaklavaCandidate> baklava_grid(int window, double mean_budget) {
  std::vector<BaklavaCandidate> out;
  std::vector<int> floors{window};
  for (int f : {2 * window, 4 * window})
    if (f > floors.back() && f <= mean_budget) floors.push_back(f);
  for (int f : floors)
    for (double e : {0.5, 1.0, 2.0}) out.push_back({f, e});
  return out;
}

}  // namespace cokv::profile
