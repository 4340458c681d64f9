// Kernel parity, part 3: what happens between prefill and decode. Window attention against
// lib's window_attention; the SnapKV, AhaKV, Task-KV and Streaming pipelines against lib's
// rank_prompt (scores within tolerance, and the ranking of the CPU's own scores exactly);
// rank_positions against a stable sort (exact, ties and tiers); compaction against lib's
// kept_positions (exact). The AhaKV scale and the tier rules are internal to scorers.cpp and
// are restated here from it (aha_scale_ref, tiers_ref).
#include <numeric>

#include "compact.cuh"
#include "kernel_parity.h"
#include "kv/budget.h"
#include "kv/prompt_kv.h"
#include "kv/scorers.h"
#include "prefill_attention.cuh"
#include "rank.cuh"
#include "scores.cuh"
#include "window.cuh"

using namespace kp;

namespace {

float plain_scale_ref(int, int, int d) { return 1.f / std::sqrt(float(d)); }
float aha_scale_ref(int visible, int budget, int d) {  // scorers.cpp's aha_scale
  if (budget <= 0 || visible <= budget) return 1.f / std::sqrt(float(d));
  return std::sqrt(2.f * std::log(float(visible) / float(budget)) / float(d));
}

// Relative error bound of one window-attention probability p_rj, kernel vs CPU twin, for
// query row r (a pointer to D values) against keys k [T][D] with softmax scale sc: scores
// within ds = gamma(D) max_j sum|sc q k| + 4u(1 + max|s|) on each side; the kernel's exp of
// (s - lse) with lse from an fp32 online sum over up to T terms, the twin's exp(s - max) and
// 1/sum: 3 ds + 2 gamma(T) + 8u (1 + 2 max|s| + log T) in all.
double window_eps(const float* q, const float* k, int n_keys, int d, double sc) {
  double mag = 0, smax = 0;
  for (int j = 0; j < n_keys; ++j) {
    double m = 0, s = 0;
    for (int x = 0; x < d; ++x)
      m += std::fabs(double(q[x]) * k[size_t(j) * d + x]), s += double(q[x]) * k[size_t(j) * d + x];
    mag = std::max(mag, sc * m), smax = std::max(smax, std::fabs(sc * s));
  }
  const double ds = gamma_n(d) * mag + 4 * kU32 * (1 + smax);
  return 3 * ds + 2 * gamma_n(n_keys) + 8 * kU32 * (1 + 2 * smax + std::log(double(n_keys)));
}

// A PromptKV as prefill leaves it: L layers, H query heads, G KV heads, D dims, T tokens, W
// window queries; values rounded to T_ (what a device copy holds).
template <class T>
cokv::PromptKV random_prompt(int L, int H, int G, int D, int n_tokens, int W, uint32_t seed) {
  cokv::PromptKV p;
  p.n_tokens = n_tokens, p.n_win = W, p.n_heads = H, p.n_kv_heads = G, p.head_dim = D;
  for (int il = 0; il < L; ++il) {
    p.k.push_back(rounded<T>(normal(size_t(G) * n_tokens * D, seed + 10 * il)));
    std::vector<float> v = normal(size_t(G) * n_tokens * D, seed + 10 * il + 1);
    for (size_t i = 0; i < v.size(); ++i) v[i] *= 1.f + float(i % 97) / 50.f;  // uneven value norms
    p.v.push_back(rounded<T>(v));
    p.q_win.push_back(rounded<T>(normal(size_t(H) * W * D, seed + 10 * il + 2, 2.f)));
  }
  return p;
}

// The window of p's layer il in the kernels' terms: PromptKV is head-major ([H][W][D] queries,
// [G][T][D] keys); the last n_rows of the W kept rows.
template <class T>
WindowInputs<T> window_of(const cokv::PromptKV& p, const T* q, const T* k, int n_rows, WindowScale scale,
                          int budget) {
  WindowInputs<T> w;
  w.q = q + size_t(p.n_win - n_rows) * p.head_dim, w.q_row_stride = p.head_dim,
  w.q_head_stride = int64_t(p.n_win) * p.head_dim;
  w.k = k, w.k_row_stride = p.head_dim, w.k_head_stride = int64_t(p.n_tokens) * p.head_dim;
  w.n_tokens = p.n_tokens, w.n_rows = n_rows, w.n_heads = p.n_heads, w.n_kv_heads = p.n_kv_heads;
  w.head_dim = p.head_dim, w.scale = scale, w.budget = budget;
  return w;
}

// ---- window attention -------------------------------------------------------------------------
template <class T>
Case window_case(int n_tokens, int n_rows, int H, int G, int D, WindowScale scale, int budget,
                 bool prefill_lse, uint32_t seed) {
  return {
      std::string(type_name<T>()) + " T " + std::to_string(n_tokens) + " W " + std::to_string(n_rows) +
          " H " + std::to_string(H) + " G " + std::to_string(G) +
          (scale == WindowScale::Aha ? " aha k " + std::to_string(budget) : " plain") +
          (prefill_lse ? " lse from prefill" : ""),
      [=] {
        const cokv::PromptKV p = random_prompt<T>(1, H, G, D, n_tokens, n_rows, seed);
        const int gs = H / G, window = std::min(8, n_tokens), n_scored = n_tokens - window;
        auto sc = scale == WindowScale::Aha ? aha_scale_ref : plain_scale_ref;
        const Outputs out = run_device([&] {
          Dev<T> dq(convert<T>(p.q_win[0])), dk(convert<T>(p.k[0]));
          Dev<float> dlse(size_t(H) * std::max(n_rows, n_tokens)),
              dscores(std::max(size_t(G) * n_scored, size_t(1)));
          const WindowInputs<T> w = window_of(p, dq.get(), dk.get(), n_rows, scale, budget);
          const float* lse = dlse.get();
          int64_t lse_stride = n_rows;
          if constexpr (!std::is_same_v<T, float>) {
            if (prefill_lse) {
              // The prefill kernel's lse [H, T] for the token-major copy of the prompt:
              // only the window rows' lse is used, which needs q at those rows.
              std::vector<float> qt(size_t(n_tokens) * H * D, 0.f), kt(size_t(n_tokens) * G * D),
                  vt(kt.size(), 0.f);
              for (int h = 0; h < H; ++h)
                for (int r = 0; r < n_rows; ++r)
                  std::copy_n(&p.q_win[0][(size_t(h) * n_rows + r) * D], D,
                              &qt[(size_t(n_tokens - n_rows + r) * H + h) * D]);
              for (int g = 0; g < G; ++g)
                for (int t = 0; t < n_tokens; ++t)
                  std::copy_n(&p.k[0][(size_t(g) * n_tokens + t) * D], D, &kt[(size_t(t) * G + g) * D]);
              Dev<T> pq(convert<T>(qt)), pk(convert<T>(kt)), pv(convert<T>(vt)), po(qt.size());
              prefill_attention<T>(pq.get(), H * D, pk.get(), G * D, pv.get(), G * D, po.get(), H * D,
                                   dlse.get(), n_tokens, H, G, D, 1.f / std::sqrt(float(D)), nullptr);
              lse = dlse.get() + (n_tokens - n_rows), lse_stride = n_tokens;
            }
          }
          if (!prefill_lse) window_lse(w, dlse.get(), nullptr);
          window_scores(w, lse, lse_stride, n_scored, dscores.get(), nullptr);
          std::vector<float> scores = dscores.download();
          scores.resize(size_t(G) * n_scored);
          return Outputs{scores};
        });
        std::vector<double> ref, tol;
        for (int g = 0; g < G; ++g) {
          const std::vector<float> cpu = cokv::window_attention(
              p.q_head(0, g * gs), gs, n_rows * D, n_rows, p.k_head(0, g), n_tokens, D, n_scored, sc, budget);
          // Probabilities are positive: each score's relative error is at most the worst
          // row's eps (prefill's lse adds its own 3 ds_tc + gamma(T): tensor-core sums),
          // plus two fp32 sums of the rows in different orders.
          double eps = 0;
          for (int e = 0; e < gs; ++e)
            for (int r = 0; r < n_rows; ++r) {
              const int visible = n_tokens - n_rows + r + 1;
              eps = std::max(eps, window_eps(p.q_head(0, g * gs + e) + size_t(r) * D, p.k_head(0, g), visible,
                                             D, sc(visible, budget, D)) *
                                      (prefill_lse ? 2 : 1));
            }
          for (int j = 0; j < n_scored; ++j) {
            ref.push_back(cpu[j]);
            tol.push_back((eps + 2 * gamma_n(gs * n_rows) + 2 * kU32) * cpu[j]);
          }
        }
        compare("window scores", out[0], ref, tol, "(max eps + 2 gamma(rows) + 2u) |score|, eps: window_eps");
      }};
}

// ---- scorer pipelines against rank_prompt ------------------------------------------------------
std::vector<uint8_t> tiers_ref(const cokv::ScorerConfig& c, int n) {  // head_scores' tiers
  std::vector<uint8_t> t(n, 0);
  for (int j = 0; j < n; ++j) {
    if (c.kind == cokv::ScorerKind::Streaming) t[j] = j < c.sinks;
    if (c.kind == cokv::ScorerKind::TaskKV) t[j] = j < c.sinks ? 2 : j >= n - c.recent ? 1 : 0;
  }
  return t;
}

template <class T>
Case pipeline_case(cokv::ScorerConfig cfg, int L, int H, int G, int D, int n_tokens, uint32_t seed) {
  return {std::string(cokv::scorer_name(cfg.kind)) + " " + type_name<T>() + " T " + std::to_string(n_tokens) +
              " H " + std::to_string(H) + " G " + std::to_string(G),
          [=] {
            const int W = std::min(n_tokens, std::max(cfg.window, cfg.aha_rows));
            const cokv::PromptKV p = random_prompt<T>(L, H, G, D, n_tokens, W, seed);
            const cokv::Rankings cpu = cokv::rank_prompt(p, cfg);
            const int window = cpu.window, N = n_tokens - window;
            // The CPU's final scores per position, its tiers, and its order.
            std::vector<float> cpu_scores(size_t(L) * G * N), cpu_order(cpu_scores.size());
            std::vector<uint8_t> cpu_tiers;
            for (size_t h = 0; h < cpu.heads.size(); ++h) {
              for (int i = 0; i < N; ++i) {
                cpu_scores[h * N + cpu.heads[h].order[i]] = cpu.heads[h].score[i];
                cpu_order[h * N + i] = float(cpu.heads[h].order[i]);
              }
              const std::vector<uint8_t> t = tiers_ref(cfg, N);
              cpu_tiers.insert(cpu_tiers.end(), t.begin(), t.end());
            }
            const bool tiered =
                cfg.kind == cokv::ScorerKind::Streaming || cfg.kind == cokv::ScorerKind::TaskKV;
            const int rows = cfg.kind == cokv::ScorerKind::AhaKV ? std::min(cfg.aha_rows, n_tokens) : window;
            const Outputs out = run_device([&] {
              const size_t n_all = std::max<size_t>(size_t(L) * G * N, 1);
              Dev<float> scores(n_all), ws(std::max(cokv::kernels::ahakv_workspace(H, W, G, N), size_t(1)));
              Dev<uint8_t> tiers(n_all);
              Dev<int32_t> order(n_all), order_cpu(n_all);
              Dev<float> cpu_s(cpu_scores.empty() ? std::vector<float>(1) : cpu_scores);
              Dev<uint8_t> cpu_t(cpu_tiers.empty() ? std::vector<uint8_t>(1) : cpu_tiers);
              Dev<unsigned char> rank_ws(std::max(rank_workspace_bytes(L * G, N), size_t(1)));
              for (int il = 0; il < L; ++il) {
                Dev<T> q(convert<T>(p.q_win[il])), k(convert<T>(p.k[il])), v(convert<T>(p.v[il]));
                float* s = scores.get() + size_t(il) * G * N;
                switch (cfg.kind) {
                  case cokv::ScorerKind::SnapKV:
                  case cokv::ScorerKind::TaskKV:
                    snapkv_scores(window_of(p, q.get(), k.get(), rows, WindowScale::Plain, 0), nullptr, 0, N,
                                  cfg.kind == cokv::ScorerKind::SnapKV ? Pool(int(cfg.pool)) : Pool::Avg,
                                  cfg.kernel, s, ws.get(), nullptr);
                    break;
                  case cokv::ScorerKind::AhaKV:
                    ahakv_scores(window_of(p, q.get(), k.get(), rows, WindowScale::Aha, cfg.aha_budget),
                                 v.get(), D, int64_t(n_tokens) * D, N, cfg.kernel, s, ws.get(), nullptr);
                    break;
                  case cokv::ScorerKind::Streaming:
                    check_cuda(cudaMemset(s, 0, sizeof(float) * G * N), "memset");
                    break;
                }
                if (cfg.kind == cokv::ScorerKind::TaskKV)
                  positional_tiers(s, N, tiers.get() + size_t(il) * G * N, G, N, cfg.sinks, cfg.recent, 1,
                                   nullptr);
                if (cfg.kind == cokv::ScorerKind::Streaming)
                  positional_tiers(s, N, tiers.get() + size_t(il) * G * N, G, N, cfg.sinks, N, 0, nullptr);
              }
              rank_positions(scores.get(), N, tiered ? tiers.get() : nullptr, L * G, N, order.get(), nullptr,
                             N, rank_ws.get(), nullptr);
              rank_positions(cpu_s.get(), N, tiered ? cpu_t.get() : nullptr, L * G, N, order_cpu.get(),
                             nullptr, N, rank_ws.get(), nullptr);
              auto as_float = [&](const Dev<int32_t>& d) {
                std::vector<int32_t> x = d.download();
                x.resize(size_t(L) * G * N);
                return std::vector<float>(x.begin(), x.end());
              };
              std::vector<float> sc = scores.download();
              sc.resize(size_t(L) * G * N);
              return Outputs{sc, as_float(order), as_float(order_cpu)};
            });
            // Scores: every stage keeps a relative bound on positive values (max and average
            // pooling keep it, within gamma(kernel)); the window's eps as in window_case;
            // AhaKV's prior ratio adds 4 gamma(D) + 2 gamma(kernel) + 8u. Tiered positions
            // carry exact scores (-j or j).
            const std::vector<uint8_t> tiers1 = tiers_ref(cfg, N);
            std::vector<double> ref(cpu_scores.begin(), cpu_scores.end()), tol(ref.size(), 0.0);
            for (int il = 0; il < L; ++il)
              for (int g = 0; g < G; ++g) {
                double eps = 0;
                const int gs = H / G;
                for (int e = 0; e < gs && cfg.kind != cokv::ScorerKind::Streaming; ++e)
                  for (int r = 0; r < rows; ++r) {
                    const int visible = n_tokens - rows + r + 1;
                    const float scv = cfg.kind == cokv::ScorerKind::AhaKV
                                          ? aha_scale_ref(visible, cfg.aha_budget, D)
                                          : plain_scale_ref(visible, 0, D);
                    eps = std::max(eps, window_eps(p.q_head(il, g * gs + e) + size_t(W - rows + r) * D,
                                                   p.k_head(il, g), visible, D, scv));
                  }
                eps += 2 * gamma_n(gs * rows) + 2 * gamma_n(cfg.kernel) + 4 * kU32;
                if (cfg.kind == cokv::ScorerKind::AhaKV)
                  eps += 4 * gamma_n(D) + 2 * gamma_n(cfg.kernel) + 8 * kU32;
                for (int j = 0; j < N; ++j) {
                  const size_t i = (size_t(il) * G + g) * N + j;
                  tol[i] = tiers1[j] ? 0.0 : eps * std::fabs(ref[i]);
                }
              }
            compare("scores", out[0], ref, tol,
                    "relative: window eps + 2 gamma(rows) + 2 gamma(kernel) + 4u (+ AhaKV prior)");
            compare_exact("rank_positions of the CPU's scores = rank_prompt's order", out[2], cpu_order);
            // The GPU's own order: its i-th position has the CPU score of the CPU's i-th, up
            // to twice the tolerance of the two (ties resolve differently within it).
            std::vector<double> best_ref, best_tol;
            std::vector<float> best_got;
            for (size_t h = 0; h < size_t(L) * G; ++h)
              for (int i = 0; i < N; ++i) {
                const int a = int(out[1][h * N + i]), b = int(cpu_order[h * N + i]);
                best_got.push_back(cpu_scores[h * N + a]);
                best_ref.push_back(cpu_scores[h * N + b]);
                best_tol.push_back(2 * (tol[h * N + a] + tol[h * N + b]));
              }
            compare("CPU score of the GPU's i-th best", best_got, best_ref, best_tol, "2 (tol_a + tol_b)");
          }};
}

// ---- ranking ------------------------------------------------------------------------------------
Case rank_case(int n_heads, int n, int levels, bool tiers, uint32_t seed) {
  return {"heads " + std::to_string(n_heads) + " N " + std::to_string(n) + " score levels " +
              std::to_string(levels) + (tiers ? " tiers" : ""),
          [=] {
            const int64_t stride = n + 3;
            std::mt19937 rng(seed);
            std::vector<float> s(size_t(n_heads) * stride);
            std::vector<uint8_t> t(s.size(), 0);
            for (size_t i = 0; i < s.size(); ++i) {
              s[i] = float(int(rng() % uint32_t(levels)) - levels / 2) * 0.37f;  // many ties, negatives
              if (s[i] == 0.f && rng() % 2) s[i] = -0.f;                         // -0 ties with +0
              if (tiers) t[i] = uint8_t(rng() % 3);
            }
            const Outputs out = run_device([&] {
              Dev<float> ds(s);
              Dev<uint8_t> dt(t);
              Dev<int32_t> order(size_t(n_heads) * stride), rank(size_t(n_heads) * stride);
              Dev<unsigned char> ws(rank_workspace_bytes(n_heads, n));
              rank_positions(ds.get(), stride, tiers ? dt.get() : nullptr, n_heads, n, order.get(),
                             rank.get(), stride, ws.get(), nullptr);
              std::vector<float> o, r;
              const std::vector<int32_t> oh = order.download(), rh = rank.download();
              for (int h = 0; h < n_heads; ++h)
                for (int i = 0; i < n; ++i)
                  o.push_back(float(oh[h * stride + i])), r.push_back(float(rh[h * stride + i]));
              return Outputs{o, r};
            });
            // sort_scores_ref: scorers.cpp's sort_scores (stable: tier, then score, descending).
            std::vector<float> o_ref, r_ref(size_t(n_heads) * n);
            for (int h = 0; h < n_heads; ++h) {
              std::vector<int32_t> order(n);
              std::iota(order.begin(), order.end(), 0);
              const float* sh = &s[h * stride];
              const uint8_t* th = &t[h * stride];
              std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
                return th[a] != th[b] ? th[a] > th[b] : sh[a] > sh[b];
              });
              for (int i = 0; i < n; ++i)
                o_ref.push_back(float(order[i])), r_ref[size_t(h) * n + order[i]] = float(i);
            }
            compare_exact("order", out[0], o_ref);
            compare_exact("rank", out[1], r_ref);
          }};
}

// ---- compaction ---------------------------------------------------------------------------------
template <class T>
Case compact_case(int n_tokens, int G, int D, int window, uint32_t seed) {
  return {
      std::string(type_name<T>()) + " T " + std::to_string(n_tokens) + " G " + std::to_string(G) + " D " +
          std::to_string(D) + " window " + std::to_string(window),
      [=] {
        // Token-major prompt K/V [T][G*D] as the projections leave them.
        const int w = std::min(window, n_tokens), N = n_tokens - w;
        const std::vector<float> k = rounded<T>(normal(size_t(n_tokens) * G * D, seed));
        const std::vector<float> v = rounded<T>(normal(size_t(n_tokens) * G * D, seed + 1));
        std::mt19937 rng(seed);
        std::vector<std::vector<int32_t>> orders(G);
        std::vector<int32_t> ranks(size_t(G) * std::max(N, 1));
        for (int g = 0; g < G; ++g) {
          orders[g].resize(N);
          std::iota(orders[g].begin(), orders[g].end(), 0);
          std::shuffle(orders[g].begin(), orders[g].end(), rng);
          for (int i = 0; i < N; ++i) ranks[size_t(g) * N + orders[g][i]] = i;
        }
        // Sets: per head, budgets keeping the window only, some ranked, and everything.
        std::vector<CompactSet> host_sets;
        std::vector<std::vector<int32_t>> kept;
        int64_t rows = 0;
        for (int g = 0; g < G; ++g)
          for (int n_ranked : {0, N / 3, N}) {
            CompactSet cs;
            cs.src = int64_t(g) * D, cs.src_stride = int64_t(G) * D, cs.n_tokens = n_tokens, cs.window = w;
            cs.n_ranked = n_ranked, cs.dst = rows;
            host_sets.push_back(cs);
            kept.emplace_back();
            cokv::kept_positions(n_ranked + w, n_tokens, window, orders[g], kept.back());
            rows += int64_t(kept.back().size());
          }
        const Outputs out = run_device([&] {
          Dev<T> dk(convert<T>(k)), dv(convert<T>(v)), ko(size_t(rows) * D), vo(size_t(rows) * D);
          Dev<int32_t> dr(ranks), pos(rows);
          std::vector<CompactSet> sets = host_sets;
          for (size_t i = 0; i < sets.size(); ++i)
            sets[i].rank = sets[i].n_ranked > 0 && sets[i].n_ranked < N ? dr.get() + (i / 3) * N : nullptr;
          std::vector<unsigned char> blob(sets.size() * sizeof(CompactSet));
          std::memcpy(blob.data(), sets.data(), blob.size());
          Dev<unsigned char> dsets(blob);
          compact_kv<T>(reinterpret_cast<const CompactSet*>(dsets.get()), int(sets.size()), dk.get(),
                        dv.get(), D, ko.get(), vo.get(), pos.get(), nullptr);
          const std::vector<int32_t> ph = pos.download();
          return Outputs{std::vector<float>(ph.begin(), ph.end()), widen(ko.download()),
                         widen(vo.download())};
        });
        std::vector<float> pos_ref, k_ref, v_ref;
        for (size_t i = 0; i < kept.size(); ++i) {
          const int g = int(i / 3);
          for (int32_t p : kept[i]) {
            pos_ref.push_back(float(p));
            const size_t src = (size_t(p) * G + g) * D;
            k_ref.insert(k_ref.end(), &k[src], &k[src] + D);
            v_ref.insert(v_ref.end(), &v[src], &v[src] + D);
          }
        }
        compare_exact("kept positions (kept_positions)", out[0], pos_ref);
        compare_exact("compacted K", out[1], k_ref);
        compare_exact("compacted V", out[2], v_ref);
      }};
}

cokv::ScorerConfig scorer(cokv::ScorerKind kind, cokv::PoolKind pool = cokv::PoolKind::Max) {
  cokv::ScorerConfig c;
  c.kind = kind, c.pool = pool, c.window = 8, c.kernel = 7, c.aha_rows = 16, c.aha_budget = 12, c.sinks = 4;
  c.recent = 10;
  return c;
}

}  // namespace

TEST_CASE("kernels: window_lse and window_scores against lib's window_attention", "[kernels][emu]") {
  run_table("window attention",
            {window_case<float>(40, 8, 6, 2, 64, WindowScale::Plain, 0, false, 1),
             window_case<float>(9, 9, 3, 3, 64, WindowScale::Aha, 4, false, 2),  // W = T, groups of 1
             window_case<bf16>(130, 32, 4, 1, 64, WindowScale::Aha, 100, false, 3),
             window_case<bf16>(77, 8, 4, 2, 64, WindowScale::Plain, 0, true, 4),
             window_case<f16>(70, 5, 2, 2, 128, WindowScale::Plain, 0, true, 5)});
}

TEST_CASE("kernels: SnapKV, AhaKV, Task-KV and Streaming scores and rankings against lib's rank_prompt",
          "[kernels][emu]") {
  using K = cokv::ScorerKind;
  run_table("scorer pipelines",
            {pipeline_case<float>(scorer(K::SnapKV), 2, 6, 2, 64, 77, 1),
             pipeline_case<bf16>(scorer(K::SnapKV, cokv::PoolKind::Avg), 1, 4, 4, 64, 40, 2),
             pipeline_case<float>(scorer(K::AhaKV), 2, 4, 2, 64, 50, 3),
             pipeline_case<float>(scorer(K::TaskKV), 1, 6, 3, 64, 45, 4),
             pipeline_case<float>(scorer(K::Streaming), 1, 2, 1, 64, 30, 5),
             pipeline_case<float>(scorer(K::SnapKV), 1, 2, 1, 64, 5, 6)});  // T < window
}

TEST_CASE("kernels: rank_positions against a stable sort (ties, -0, tiers)", "[kernels][emu]") {
  run_table("rank_positions", {rank_case(1, 1, 3, false, 1), rank_case(3, 100, 5, false, 2),
                               rank_case(2, 257, 1000, true, 3), rank_case(1, 1000, 7, true, 4)});
}

TEST_CASE("kernels: compact_kv against lib's kept_positions", "[kernels][emu]") {
  run_table("compact_kv", {compact_case<float>(40, 2, 64, 8, 1), compact_case<bf16>(300, 3, 128, 8, 2),
                           compact_case<f16>(6, 1, 64, 8, 3)});
}
