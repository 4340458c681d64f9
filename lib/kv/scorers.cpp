#include "kv/scorers.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/softmax.h"

namespace cokv {

std::string ScorerConfig::key() const {
  std::string s = scorer_name(kind);
  s += ":w" + std::to_string(window);
  switch (kind) {
    case ScorerKind::SnapKV:
      s += ":p" + std::to_string(int(pool)) + ":k" + std::to_string(kernel);
      break;
    case ScorerKind::AhaKV:
      s += ":r" + std::to_string(aha_rows) + ":b" + std::to_string(aha_budget) + ":k" + std::to_string(kernel);
      break;
    case ScorerKind::Streaming:
      s += ":s" + std::to_string(sinks);
      break;
    case ScorerKind::TaskKV:
      s += ":s" + std::to_string(sinks) + ":r" + std::to_string(recent) + ":k" + std::to_string(kernel);
      break;
  }
  return s;
}

ScorerKind parse_scorer(const std::string& name) {
  if (name == "snapkv") return ScorerKind::SnapKV;
  if (name == "ahakv") return ScorerKind::AhaKV;
  if (name == "streaming") return ScorerKind::Streaming;
  if (name == "taskkv") return ScorerKind::TaskKV;
  throw Error("scorer: expected one of snapkv, ahakv, streaming, taskkv, got '" + name + "'");
}

const char* scorer_name(ScorerKind k) {
  switch (k) {
    case ScorerKind::SnapKV: return "snapkv";
    case ScorerKind::AhaKV: return "ahakv";
    case ScorerKind::Streaming: return "streaming";
    case ScorerKind::TaskKV: return "taskkv";
  }
  return "?";
}

std::vector<float> window_attention(const float* q, int n_group, int q_stride_head, int n_rows,
                                    const float* k, int n_tokens, int head_dim, int n_scored,
                                    float (*scale)(int, int, int), int budget) {
  std::vector<float> acc(n_scored, 0.f), row(n_tokens);
  for (int h = 0; h < n_group; ++h)
    for (int r = 0; r < n_rows; ++r) {
      const int visible = n_tokens - n_rows + r + 1;
      const float* qr = q + size_t(h) * q_stride_head + size_t(r) * head_dim;
      const float sc = scale(visible, budget, head_dim);
      for (int j = 0; j < visible; ++j) {
        const float* kj = k + size_t(j) * head_dim;
        float d = 0.f;
        for (int e = 0; e < head_dim; ++e) d += qr[e] * kj[e];
        row[j] = d * sc;
      }
      softmax_inplace(row.data(), visible);
      for (int j = 0; j < std::min(n_scored, visible); ++j) acc[j] += row[j];
    }
  const float inv = 1.f / float(n_group * n_rows);
  for (float& a : acc) a *= inv;
  return acc;
}

std::vector<float> pool1d(const std::vector<float>& x, PoolKind kind, int kernel) {
  if (kind == PoolKind::None || kernel <= 1) return x;
  const int n = int(x.size()), pad = kernel / 2;
  std::vector<float> y(n);
  for (int i = 0; i < n; ++i) {
    const int lo = std::max(0, i - pad), hi = std::min(n - 1, i + pad);
    if (kind == PoolKind::Max) {
      float m = x[lo];
      for (int j = lo + 1; j <= hi; ++j) m = std::max(m, x[j]);
      y[i] = m;
    } else {
      float s = 0.f;
      for (int j = lo; j <= hi; ++j) s += x[j];
      y[i] = s / float(kernel);
    }
  }
  return y;
}

namespace {

float plain_scale(int, int, int d) { return 1.f / std::sqrt(float(d)); }

// AhaKV: lambda_i = sqrt(2 ln(i/k) / d) for rows that see more than k tokens, else 1/sqrt(d).
float aha_scale(int visible, int budget, int d) {
  if (budget <= 0 || visible <= budget) return 1.f / std::sqrt(float(d));
  return std::sqrt(2.f * std::log(float(visible) / float(budget)) / float(d));
}

// Scores with a tier: positions of a higher tier (sinks, recent) always rank first; inside a
// tier by score, then by position.
struct TieredScores {
  std::vector<float> score;
  std::vector<int8_t> tier;  // empty: all tier 0
};

HeadRanking sort_scores(const TieredScores& ts) {
  const std::vector<float>& s = ts.score;
  auto tier = [&](int32_t i) { return ts.tier.empty() ? 0 : ts.tier[i]; };
  HeadRanking r;
  r.order.resize(s.size());
  std::iota(r.order.begin(), r.order.end(), 0);
  std::stable_sort(r.order.begin(), r.order.end(), [&](int32_t a, int32_t b) {
    return tier(a) != tier(b) ? tier(a) > tier(b) : s[a] > s[b];
  });
  r.score.resize(s.size());
  for (size_t i = 0; i < s.size(); ++i) r.score[i] = s[r.order[i]];
  return r;
}

TieredScores head_scores(const PromptKV& p, const ScorerConfig& c, int il, int g, int w) {
  const int T = p.n_tokens, D = p.head_dim, gs = p.n_heads / p.n_kv_heads, n_scored = T - w;
  const float* k = p.k_head(il, g);
  // The group's query heads are consecutive: h = g*gs .. g*gs+gs-1.
  auto attention = [&](int n_rows, float (*scale)(int, int, int), int budget) {
    require(n_rows <= p.n_win, "scorer: needs " + std::to_string(n_rows) + " window queries, prefill kept " +
                                   std::to_string(p.n_win));
    const float* q = p.q_head(il, g * gs) + size_t(p.n_win - n_rows) * D;
    return window_attention(q, gs, p.n_win * D, n_rows, k, T, D, n_scored, scale, budget);
  };
  switch (c.kind) {
    case ScorerKind::SnapKV:
      return {pool1d(attention(w, plain_scale, 0), c.pool, c.kernel), {}};
    case ScorerKind::AhaKV: {
      const int rows = std::min(c.aha_rows, T);
      std::vector<float> s = attention(rows, aha_scale, c.aha_budget);
      std::vector<float> prior(n_scored);
      const float* v = p.v_head(il, g);
      for (int j = 0; j < n_scored; ++j) {
        float n2 = 0.f;
        for (int e = 0; e < D; ++e) n2 += v[size_t(j) * D + e] * v[size_t(j) * D + e];
        prior[j] = n2;
      }
      prior = pool1d(prior, PoolKind::Avg, c.kernel);
      const float mx = prior.empty() ? 1.f : *std::max_element(prior.begin(), prior.end());
      for (int j = 0; j < n_scored; ++j) s[j] *= mx > 0.f ? prior[j] / mx : 1.f;
      return {s, {}};
    }
    case ScorerKind::Streaming: {
      TieredScores ts{std::vector<float>(n_scored), std::vector<int8_t>(n_scored)};
      for (int j = 0; j < n_scored; ++j) {
        ts.tier[j] = j < c.sinks;
        ts.score[j] = j < c.sinks ? -float(j) : float(j);  // sinks in order, then most recent
      }
      return ts;
    }
    case ScorerKind::TaskKV: {
      TieredScores ts{pool1d(attention(w, plain_scale, 0), PoolKind::Avg, c.kernel),
                      std::vector<int8_t>(n_scored)};
      for (int j = 0; j < n_scored; ++j) {
        if (j < c.sinks) ts.tier[j] = 2, ts.score[j] = -float(j);
        else if (j >= n_scored - c.recent) ts.tier[j] = 1, ts.score[j] = float(j);
      }
      return ts;
    }
  }
  return {};
}

}  // namespace

Rankings rank_prompt(const PromptKV& p, const ScorerConfig& cfg) {
  require(cfg.window >= 1 || cfg.kind == ScorerKind::Streaming,
          std::string("scorer ") + scorer_name(cfg.kind) + ": window: expected >= 1 observation rows, got " +
              std::to_string(cfg.window));
  require(cfg.kernel >= 1 && cfg.kernel % 2 == 1, "scorer: pooling kernel must be odd and >= 1, got " +
                                                      std::to_string(cfg.kernel));
  Rankings r;
  r.cfg = cfg;
  r.n_tokens = p.n_tokens;
  r.window = std::min(cfg.window, p.n_tokens);
  const int L = int(p.k.size()), G = p.n_kv_heads;
  r.heads.resize(size_t(L) * G);
#pragma omp parallel for schedule(dynamic) collapse(2)
  for (int il = 0; il < L; ++il)
    for (int g = 0; g < G; ++g) r.heads[size_t(il) * G + g] = sort_scores(head_scores(p, cfg, il, g, r.window));
  return r;
}

}  // namespace cokv
