// Task-KV separation (see taskkv.h).
#include "profile/taskkv.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "kv/scorers.h"

namespace cokv::profile {

int taskkv_count(int r, int R, int n, double beta, double m) {
  const double nb = n * beta;
  const double f = R <= 1 ? nb : nb - (nb - m) / double(R - 1) * r;
  return int(std::clamp<long>(std::lround(f), 0L, long(n)));
}

namespace {
float inv_sqrt_scale(int, int, int d) { return 1.f / std::sqrt(float(d)); }
}  // namespace

std::vector<std::vector<double>> semantic_vectors(const PromptKV& p, int il, int top_k) {
  const int G = p.n_kv_heads, H = p.n_heads, D = p.head_dim, T = p.n_tokens, W = p.n_win, grp = H / G;
  require(W > 0 && T > 0, "taskkv: the prompt kept no window queries");
  std::vector<std::vector<double>> out(G, std::vector<double>(D, 0.0));
  std::vector<int32_t> idx(T);
  for (int g = 0; g < G; ++g) {
    const std::vector<float> a =
        window_attention(p.q_head(il, g * grp), grp, W * D, W, p.k_head(il, g), T, D, T, inv_sqrt_scale, 0);
    std::iota(idx.begin(), idx.end(), 0);
    const int k = std::min(top_k, T);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int32_t x, int32_t y) { return a[x] > a[y] || (a[x] == a[y] && x < y); });
    const float* v = p.v_head(il, g);
    for (int i = 0; i < k; ++i) {
      const int j = idx[i];
      for (int e = 0; e < D; ++e) out[g][e] += double(a[j]) * v[size_t(j) * D + e];
    }
  }
  return out;
}

std::vector<double> center_distances(const std::vector<std::vector<double>>& v, TaskKvDistance d) {
  const size_t n = v.size();
  require(n > 0, "taskkv: no head vectors");
  const size_t D = v[0].size();
  std::vector<double> c(D, 0.0);
  for (const auto& x : v)
    for (size_t e = 0; e < D; ++e) c[e] += x[e] / double(n);
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    double dd = 0, xc = 0, xx = 0, cc = 0;
    for (size_t e = 0; e < D; ++e) {
      dd += (v[i][e] - c[e]) * (v[i][e] - c[e]);
      xc += v[i][e] * c[e];
      xx += v[i][e] * v[i][e];
      cc += c[e] * c[e];
    }
    out[i] = d == TaskKvDistance::Euclidean ? std::sqrt(dd)
                                            : (xx > 0 && cc > 0 ? 1.0 - xc / std::sqrt(xx * cc) : 0.0);
  }
  return out;
}

std::vector<uint8_t> select_top(const std::vector<double>& key, const std::vector<double>& tie_break, int f) {
  const int n = int(key.size());
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) {
    if (key[a] != key[b]) return key[a] > key[b];
    if (!tie_break.empty() && tie_break[a] != tie_break[b]) return tie_break[a] > tie_break[b];
    return a < b;
  });
  std::vector<uint8_t> sel(n, 0);
  for (int i = 0; i < std::clamp(f, 0, n); ++i) sel[idx[i]] = 1;
  return sel;
}

TaskKvProfiler::TaskKvProfiler(int n_layers, int n_kv_heads, const TaskKvOptions& opt)
    : L_(n_layers), G_(n_kv_heads), opt_(opt), sel_(size_t(n_layers) * n_kv_heads, 0.0), dist_(sel_) {}

void TaskKvProfiler::add(const PromptKV& p) {
  require(int(p.k.size()) == L_ && p.n_kv_heads == G_, "taskkv: prompt of another model shape");
  for (int il = 0; il < L_; ++il) {
    const auto d = center_distances(semantic_vectors(p, il, opt_.top_k), opt_.distance);
    const auto sel = select_top(d, {}, taskkv_count(il, L_, G_, opt_.beta, opt_.m));
    for (int g = 0; g < G_; ++g) {
      sel_[size_t(il) * G_ + g] += sel[g];
      dist_[size_t(il) * G_ + g] += d[g];
    }
  }
  ++n_;
}

std::vector<double> TaskKvProfiler::frequency() const {
  require(n_ > 0, "taskkv: no records profiled");
  std::vector<double> f(sel_.size());
  for (size_t i = 0; i < f.size(); ++i) f[i] = sel_[i] / n_;
  return f;
}

std::vector<double> TaskKvProfiler::mean_distance() const {
  require(n_ > 0, "taskkv: no records profiled");
  std::vector<double> f(dist_.size());
  for (size_t i = 0; i < f.size(); ++i) f[i] = dist_[i] / n_;
  return f;
}

std::vector<double> TaskKvProfiler::scores() const {
  return opt_.score == TaskKvScore::Frequency ? frequency() : mean_distance();
}

std::vector<uint8_t> TaskKvProfiler::heterogeneous() const {
  const auto s = scores(), d = mean_distance();
  std::vector<uint8_t> out;
  for (int il = 0; il < L_; ++il) {
    std::vector<double> ks(s.begin() + size_t(il) * G_, s.begin() + size_t(il + 1) * G_);
    std::vector<double> kd(d.begin() + size_t(il) * G_, d.begin() + size_t(il + 1) * G_);
    const auto sel = select_top(ks, kd, taskkv_count(il, L_, G_, opt_.beta, opt_.m));
    out.insert(out.end(), sel.begin(), sel.end());
  }
  return out;
}

}  // namespace cokv::profile
