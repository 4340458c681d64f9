// Ranking of prompt positions on the device (see engine.h), and the state's copy into host
// memory. CPU twins: rank_prompt (kv/scorers.cpp), PromptKV (kv/prompt_kv.h).
#include "core/error.h"
#include "kernels/rank.cuh"
#include "kernels/scores.cuh"
#include "runtime/cuda/engine.h"

COKV_CUDA_BACKEND_BEGIN

namespace {

// The scorer's query rows as the CPU's rank_prompt takes them (and its refusals).
int scorer_rows(const ScorerConfig& cfg, const CudaState& s, int window) {
  require(cfg.window >= 1 || cfg.kind == ScorerKind::Streaming,
          std::string("scorer ") + scorer_name(cfg.kind) + ": window: expected >= 1 observation rows, got " +
              std::to_string(cfg.window));
  require(cfg.kernel >= 1 && cfg.kernel % 2 == 1,
          "scorer: pooling kernel must be odd and >= 1, got " + std::to_string(cfg.kernel));
  const int rows = cfg.kind == ScorerKind::AhaKV ? std::min(cfg.aha_rows, s.T)
                   : cfg.kind == ScorerKind::Streaming ? 0
                                                       : window;
  require(rows <= s.W, "scorer: needs " + std::to_string(rows) + " window queries, prefill kept " + std::to_string(s.W));
  return rows;
}

kernels::Pool pool_of(PoolKind p) {
  return p == PoolKind::Max ? kernels::Pool::Max : p == PoolKind::Avg ? kernels::Pool::Avg : kernels::Pool::None;
}

}  // namespace

template <class Act>
Rankings rank(const DeviceModel& m, const CudaState& s, const ScorerConfig& cfg) {
  const Dims& d = m.d;
  const DeviceContext& dc = m.dc;
  const cudaStream_t st = dc.stream;
  require(s.has_kv, "rank: the prompt state has no K/V (prefill with keep_kv)");
  Rankings r;
  r.cfg = cfg;
  r.n_tokens = s.T;
  r.window = std::min(cfg.window, s.T);
  const int rows = scorer_rows(cfg, s, r.window);
  const int N = s.T - r.window, LG = d.L * d.G;
  r.heads.resize(LG);
  if (N <= 0) return r;

  const bool tiered = cfg.kind == ScorerKind::Streaming || cfg.kind == ScorerKind::TaskKV;
  const size_t ws = std::max(kernels::snapkv_workspace(d.H, rows, d.G, N), kernels::ahakv_workspace(d.H, rows, d.G, N));
  DeviceBlock scores = dc.block(size_t(LG) * N * sizeof(float), "ranking scores");
  DeviceBlock tier = tiered ? dc.block(size_t(LG) * N, "ranking tiers") : DeviceBlock();
  DeviceBlock work = dc.block(ws * sizeof(float), "scoring workspace");
  DeviceBlock rank_ws = dc.block(kernels::rank_workspace_bytes(LG, N), "ranking workspace");
  DeviceBlock order = dc.block(size_t(LG) * N * sizeof(int32_t), "ranking order");

  for (int il = 0; il < d.L && cfg.kind != ScorerKind::Streaming; ++il) {
    kernels::WindowInputs<Act> w;
    w.q = s.q_win.as<Act>() + size_t(il) * s.W * d.HD + size_t(s.W - rows) * d.HD;  // the last `rows` rows
    w.q_row_stride = d.HD, w.q_head_stride = d.D;
    w.k = s.k.as<Act>() + size_t(il) * s.T * d.GD;
    w.k_row_stride = d.GD, w.k_head_stride = d.D;
    w.n_tokens = s.T, w.n_rows = rows, w.n_heads = d.H, w.n_kv_heads = d.G, w.head_dim = d.D;
    float* out = scores.as<float>() + size_t(il) * d.G * N;
    if (cfg.kind == ScorerKind::AhaKV) {
      w.scale = kernels::WindowScale::Aha, w.budget = cfg.aha_budget;
      kernels::ahakv_scores<Act>(w, s.v.as<Act>() + size_t(il) * s.T * d.GD, d.GD, d.D, N, cfg.kernel, out,
                                 work.as<float>(), st);
    } else {
      // The prefill's log-sum-exp of rows T-rows .. T-1 (same scale), head stride W.
      const float* lse = s.lse_win.as<float>() + size_t(il) * d.H * s.W + (s.W - rows);
      const kernels::Pool pool = cfg.kind == ScorerKind::TaskKV ? kernels::Pool::Avg : pool_of(cfg.pool);
      kernels::snapkv_scores<Act>(w, lse, s.W, N, pool, cfg.kernel, out, work.as<float>(), st);
    }
  }
  if (cfg.kind == ScorerKind::Streaming)  // sinks in order, then the most recent: all tier 0
    kernels::positional_tiers(scores.as<float>(), N, tier.as<uint8_t>(), LG, N, cfg.sinks, N, 0, st);
  if (cfg.kind == ScorerKind::TaskKV)
    kernels::positional_tiers(scores.as<float>(), N, tier.as<uint8_t>(), LG, N, cfg.sinks, cfg.recent, 1, st);
  kernels::rank_positions(scores.as<float>(), N, tiered ? tier.as<uint8_t>() : nullptr, LG, N, order.as<int32_t>(),
                          nullptr, N, rank_ws.as<void>(), st);

  std::vector<int32_t> ord(size_t(LG) * N);
  std::vector<float> sc(ord.size());
  dc.download(ord.data(), order.as<int32_t>(), ord.size() * sizeof(int32_t));
  dc.download(sc.data(), scores.as<float>(), sc.size() * sizeof(float));
  for (int h = 0; h < LG; ++h) {
    HeadRanking& hr = r.heads[h];
    hr.order.assign(ord.begin() + size_t(h) * N, ord.begin() + size_t(h + 1) * N);
    hr.score.resize(N);
    for (int i = 0; i < N; ++i) hr.score[i] = sc[size_t(h) * N + hr.order[i]];
  }
  return r;
}

template <class Act>
void copy_to_host(const DeviceModel& m, const CudaState& s, PromptKV& out) {
  const Dims& d = m.d;
  require(s.has_kv, "host_kv: the prompt state has no K/V (prefill with keep_kv)");
  out.n_tokens = s.T, out.n_win = s.W;
  out.n_kv_heads = d.G, out.n_heads = d.H, out.head_dim = d.D;
  out.logits = s.logits;
  out.k.assign(d.L, {}), out.v.assign(d.L, {}), out.q_win.assign(d.L, {});
  const size_t kv = size_t(s.T) * d.GD, qw = size_t(s.W) * d.HD;
  std::vector<uint16_t> bits(std::max(kv, qw));
  auto f = [&](size_t i) { return from_bits16(bits[i], kernels::dtype_of<Act>()); };
  for (int il = 0; il < d.L; ++il) {
    // Device rows [T][G*D] -> host head-major [G][T][D] (the CPU layout); queries likewise.
    for (int which = 0; which < 2; ++which) {
      const Act* src = (which ? s.v : s.k).as<Act>() + size_t(il) * kv;
      m.dc.download(bits.data(), src, kv * sizeof(uint16_t));
      auto& dst = which ? out.v[il] : out.k[il];
      dst.resize(kv);
      for (int t = 0; t < s.T; ++t)
        for (int g = 0; g < d.G; ++g)
          for (int e = 0; e < d.D; ++e)
            dst[(size_t(g) * s.T + t) * d.D + e] = f(size_t(t) * d.GD + size_t(g) * d.D + e);
    }
    m.dc.download(bits.data(), s.q_win.as<Act>() + size_t(il) * qw, qw * sizeof(uint16_t));
    out.q_win[il].resize(qw);
    for (int r = 0; r < s.W; ++r)
      for (int h = 0; h < d.H; ++h)
        for (int e = 0; e < d.D; ++e)
          out.q_win[il][(size_t(h) * s.W + r) * d.D + e] = f(size_t(r) * d.HD + size_t(h) * d.D + e);
  }
}

#define COKV_RANK(Act)                                                                  \
  template Rankings rank<Act>(const DeviceModel&, const CudaState&, const ScorerConfig&); \
  template void copy_to_host<Act>(const DeviceModel&, const CudaState&, PromptKV&);
COKV_RANK(bf16)
COKV_RANK(f16)
#undef COKV_RANK

COKV_CUDA_BACKEND_END
