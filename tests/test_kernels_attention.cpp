// Kernel parity, part 2: prefill attention (causal, GQA, with the row log-sum-exp) and
// decode attention (per-head variable-length key sets shared between policies, generated
// keys per policy, zeroed heads). The CPU's attention is not a standalone function in lib/
// (causal_attention is internal to prefill.cpp, decode attention is inside the Decoder
// class), so the references are plain _ref loops in double here, written from those: prefill
// row t of head h is softmax_j(scale q_t.k_j, j <= t) v; a decode row attends its policy's
// kept prompt keys of the head followed by its own generated keys up to itself.
#include <limits>
#include <numeric>

#include "decode_attention.cuh"
#include "kernel_parity.h"
#include "prefill_attention.cuh"

using namespace kp;

namespace {

// Softmax attention of one query over keys kv[j] (j in keys), in double, with what the
// tolerances need: sum_j p_j |v_j| per dimension and the largest sum_d |scale q_d k_jd|.
struct AttnRow {
  std::vector<double> o, pv;
  double lse = 0, max_mag = 0;
};
AttnRow attend_ref(const float* q, const std::vector<const float*>& k, const std::vector<const float*>& v,
                   int d, double scale) {
  AttnRow a;
  a.o.assign(d, 0.0), a.pv.assign(d, 0.0);
  std::vector<double> s(k.size());
  double m = -INFINITY;
  for (size_t j = 0; j < k.size(); ++j) {
    double dot = 0, mag = 0;
    for (int x = 0; x < d; ++x) dot += double(q[x]) * k[j][x], mag += std::fabs(double(q[x]) * k[j][x]);
    s[j] = scale * dot;
    a.max_mag = std::max(a.max_mag, scale * mag);
    m = std::max(m, s[j]);
  }
  double z = 0;
  for (double& x : s) z += (x = std::exp(x - m));
  for (size_t j = 0; j < k.size(); ++j)
    for (int x = 0; x < d; ++x) a.o[x] += s[j] / z * v[j][x], a.pv[x] += s[j] / z * std::fabs(v[j][x]);
  a.lse = m + std::log(z);
  return a;
}

// ---- prefill ----------------------------------------------------------------------------------
template <class T>
Case prefill_case(int n_tokens, int n_heads, int n_kv, int d, uint32_t seed) {
  return {
      std::string(type_name<T>()) + " T " + std::to_string(n_tokens) + " H " + std::to_string(n_heads) +
          " G " + std::to_string(n_kv) + " D " + std::to_string(d),
      [=] {
        // Token-major as the QKV projections leave them; q's rows padded (stride != H*D).
        const int64_t qs = int64_t(n_heads) * d + 8, kvs = int64_t(n_kv) * d;
        const std::vector<float> q = rounded<T>(normal(size_t(n_tokens) * qs, seed, 1.5f));
        const std::vector<float> k = rounded<T>(normal(size_t(n_tokens) * kvs, seed + 1));
        const std::vector<float> v = rounded<T>(normal(size_t(n_tokens) * kvs, seed + 2));
        const float scale = 1.f / std::sqrt(float(d));
        const Outputs out = run_device([&] {
          Dev<T> dq(convert<T>(q)), dk(convert<T>(k)), dv(convert<T>(v));
          Dev<T> dout(size_t(n_tokens) * n_heads * d);
          Dev<float> dlse(size_t(n_heads) * n_tokens);
          prefill_attention<T>(dq.get(), qs, dk.get(), kvs, dv.get(), kvs, dout.get(), int64_t(n_heads) * d,
                               dlse.get(), n_tokens, n_heads, n_kv, d, scale, nullptr);
          return Outputs{widen(dout.download()), dlse.download()};
        });
        const int gs = n_heads / n_kv;
        const double uT = unit_roundoff<T>();
        std::vector<double> ref(out[0].size()), tol(ref.size()), lse(out[1].size()), lse_tol(lse.size());
        for (int h = 0; h < n_heads; ++h)
          for (int t = 0; t < n_tokens; ++t) {
            std::vector<const float*> ks, vs;
            for (int j = 0; j <= t; ++j)
              ks.push_back(&k[size_t(j) * kvs + (h / gs) * d]),
                  vs.push_back(&v[size_t(j) * kvs + (h / gs) * d]);
            const AttnRow a = attend_ref(&q[size_t(t) * qs + h * d], ks, vs, d, scale);
            // Scores: exact products summed in fp32 on tensor cores, which may truncate
            // (2u per add): ds = 2 gamma(D) max sum|scale q k| plus a few u for the
            // log2(e) scaling. Each weight p_j: exp2 (2u) of an argument off by 2 ds (its
            // score and the max), rounded to T (u_T) for P V only: eps. Output: the
            // weights' errors move it by at most 2 eps sum p|v|, the fp32 sums of P V and
            // of the weights add 2 gamma(t+1) sum p|v|, and the result is rounded to T.
            // The lse sums the fp32 weights: no u_T in it.
            const double ds = 2 * gamma_n(d) * a.max_mag + 4 * kU32 * (1 + a.max_mag);
            const double eps = uT + 2 * ds + 4 * kU32;
            for (int x = 0; x < d; ++x) {
              const size_t i = (size_t(t) * n_heads + h) * d + x;
              ref[i] = a.o[x];
              tol[i] = (2 * eps + 2 * gamma_n(t + 1)) * a.pv[x] + uT * std::fabs(a.o[x]);
            }
            lse[size_t(h) * n_tokens + t] = a.lse;
            lse_tol[size_t(h) * n_tokens + t] = 3 * ds + gamma_n(t + 1) + 8 * kU32 * (1 + std::fabs(a.lse));
          }
        compare("out", out[0], ref, tol,
                "(2 eps + 2 gamma(t+1)) sum_j p_j|v_j| + u_T |o|, eps = u_T + 2 ds + 4u");
        compare("lse", out[1], lse, lse_tol, "3 ds + gamma(t+1) + 8u (1 + |lse|)");
      }};
}

// ---- decode -----------------------------------------------------------------------------------
// A batch of policies against one prompt of one layer: per KV head the policies keep the
// whole prompt, the window, a ranked subset (two policies share it) or nothing (zeroed), and
// each has generated n_done tokens before the c query tokens fed now (causal among them).
template <class T>
struct DecodeScenario {
  int G = 0, H = 0, D = 0, S = 0, c = 0, cap = 0, window = 0;
  std::vector<float> pk, pv;               // prompt [G][T][D]
  std::vector<float> gk, gv;               // generated [S][G][cap][D], the first n_done + c of each valid
  std::vector<float> q;                    // [S*c, H*D]
  std::vector<int> n_done;                 // [S]
  std::vector<std::vector<int32_t>> kept;  // [S*G]: prompt positions, ascending; empty + zeroed
  std::vector<uint8_t> zeroed;             // [S*G]

  DecodeScenario(int n_tokens, int G_, int H_, int D_, int S_, int c_, uint32_t seed)
      : G(G_), H(H_), D(D_), S(S_), c(c_), cap(c_ + 3), window(std::min(4, n_tokens)) {
    const int T_ = n_tokens;
    pk = rounded<T>(normal(size_t(G) * T_ * D, seed)), pv = rounded<T>(normal(size_t(G) * T_ * D, seed + 1));
    gk = rounded<T>(normal(size_t(S) * G * cap * D, seed + 2)),
    gv = rounded<T>(normal(size_t(S) * G * cap * D, seed + 3));
    q = rounded<T>(normal(size_t(S) * c * H * D, seed + 4, 2.f));
    std::mt19937 rng(seed);
    std::vector<int32_t> ranked;  // a ranked subset of head positions, shared by policies 1 and 2
    for (int p = 0; p < T_ - window; ++p)
      if (rng() % 3 == 0) ranked.push_back(p);
    for (int p = T_ - window; p < T_; ++p) ranked.push_back(p);
    for (int s = 0; s < S; ++s) n_done.push_back(s % 3);
    for (int s = 0; s < S; ++s)
      for (int g = 0; g < G; ++g) {
        std::vector<int32_t> ks;
        const int kind = (s + g) % 4;  // all, window, ranked, zeroed
        if (kind == 0)
          for (int p = 0; p < T_; ++p) ks.push_back(p);
        if (kind == 1)
          for (int p = T_ - window; p < T_; ++p) ks.push_back(p);
        if (kind == 2) ks = ranked;
        kept.push_back(ks);
        zeroed.push_back(kind == 3);
      }
  }
  const float* gen(const std::vector<float>& x, int s, int g, int t) const {
    return &x[((size_t(s) * G + g) * cap + t) * D];
  }
};

template <class T>
Case decode_case(int n_tokens, int n_kv, int n_heads, int d, int n_policies, int c, int chunk,
                 uint32_t seed) {
  return {
      std::string(type_name<T>()) + " T " + std::to_string(n_tokens) + " G " + std::to_string(n_kv) + " H " +
          std::to_string(n_heads) + " D " + std::to_string(d) + " policies " + std::to_string(n_policies) +
          " tokens " + std::to_string(c) + " chunk " + std::to_string(chunk),
      [=] {
        const DecodeScenario<T> sc(n_tokens, n_kv, n_heads, d, n_policies, c, seed);
        const int gs = n_heads / n_kv;
        const float scale = 1.f / std::sqrt(float(d));
        // Device layout: one compacted buffer of the distinct kept sets (built on the host
        // here; compact_kv has its own cases) and the generated K/V.
        // Runs the batch of `policies` and returns their output rows.
        auto run = [&](const std::vector<int>& policies) {
          // Generated rows not written yet (t >= n_done + c) hold NaN, and each generated set is
          // as long as its capacity, as a policy's buffer is: a kernel that loads a key no row
          // sees (weight 0 times NaN) turns its outputs to NaN.
          std::vector<float> gk = sc.gk, gv = sc.gv;
          for (int s = 0; s < n_policies; ++s)
            for (int g = 0; g < n_kv; ++g)
              for (int t = sc.n_done[s] + c; t < sc.cap; ++t)
                for (int x = 0; x < d; ++x) {
                  const size_t at = ((size_t(s) * n_kv + g) * sc.cap + t) * d + x;
                  gk[at] = gv[at] = std::numeric_limits<float>::quiet_NaN();
                }
          Dev<T> dgk(convert<T>(gk)), dgv(convert<T>(gv));
          Dev<T> dq(convert<T>(sc.q));
          // One compacted copy per distinct kept set of a head (shared sets stored once).
          std::vector<float> hk, hv;
          std::vector<DecodeSet> sets;
          std::vector<std::pair<int, int64_t>> set_rows;  // (head, row offset) per non-"all" set
          std::vector<int> set_of(size_t(n_policies) * n_kv, -1);
          std::vector<std::pair<std::vector<int32_t>, int>> seen;  // (positions + head) -> set
          for (int s : policies)
            for (int g = 0; g < n_kv; ++g) {
              const size_t h = size_t(s) * n_kv + g;
              if (sc.zeroed[h]) continue;
              std::vector<int32_t> key = sc.kept[h];
              key.push_back(-1 - g);
              auto it = std::find_if(seen.begin(), seen.end(), [&](auto& e) { return e.first == key; });
              if (it != seen.end()) {
                set_of[h] = it->second;
                continue;
              }
              set_of[h] = int(sets.size());
              seen.push_back({key, int(sets.size())});
              set_rows.push_back({g, int64_t(hk.size() / d)});
              for (int32_t p : sc.kept[h]) {
                hk.insert(hk.end(), &sc.pk[(size_t(g) * n_tokens + p) * d],
                          &sc.pk[(size_t(g) * n_tokens + p) * d] + d);
                hv.insert(hv.end(), &sc.pv[(size_t(g) * n_tokens + p) * d],
                          &sc.pv[(size_t(g) * n_tokens + p) * d] + d);
              }
              sets.push_back({nullptr, nullptr, d, int(sc.kept[h].size())});
            }
          Dev<T> dck(convert<T>(hk)), dcv(convert<T>(hv));
          for (size_t i = 0; i < sets.size(); ++i) {
            sets[i].k = dck.get() + set_rows[i].second * d;
            sets[i].v = dcv.get() + set_rows[i].second * d;
          }
          // Generated keys: one set per (policy, head), causal limits per row.
          std::vector<DecodeRead> reads;
          std::vector<int64_t> out_off;
          for (int a = 0; a < int(policies.size()); ++a) {
            const int s = policies[a];
            for (int g = 0; g < n_kv; ++g) {
              const int gen_set = int(sets.size());
              sets.push_back({dgk.get() + ((size_t(s) * n_kv + g) * sc.cap) * d,
                              dgv.get() + ((size_t(s) * n_kv + g) * sc.cap) * d, d, sc.cap});
              for (int i = 0; i < c; ++i)
                for (int e = 0; e < gs; ++e) {
                  const int h = g * gs + e, o = int(out_off.size());
                  out_off.push_back((int64_t(a) * c + i) * n_heads * d + int64_t(h) * d);
                  const int64_t qoff = (int64_t(s) * c + i) * n_heads * d + int64_t(h) * d;
                  const int ps = set_of[size_t(s) * n_kv + g];
                  if (ps >= 0) reads.push_back({ps, qoff, sets[ps].n_keys, o});
                  if (ps >= 0) reads.push_back({gen_set, qoff, sc.n_done[s] + i + 1, o});
                }
            }
          }
          DecodePlan plan(sets, reads, out_off, chunk);
          std::vector<unsigned char> blob(plan.bytes());
          plan.pack(blob.data());
          Dev<unsigned char> dplan(blob);
          Dev<float> dparts(std::max<size_t>(plan.workspace_floats(d), 1));
          Dev<T> dout(policies.size() * c * n_heads * d);
          decode_attention<T>(plan.view(dplan.get()), dq.get(), dout.get(), dparts.get(), d, scale, nullptr);
          return widen(dout.download());
        };
        std::vector<int> all(n_policies);
        std::iota(all.begin(), all.end(), 0);
        const Outputs out = run_device([&] { return Outputs{run(all), run({n_policies - 1})}; });

        const double uT = unit_roundoff<T>();
        std::vector<double> ref(out[0].size()), tol(ref.size());
        for (int s = 0; s < n_policies; ++s)
          for (int i = 0; i < c; ++i)
            for (int h = 0; h < n_heads; ++h) {
              const int g = h / gs;
              const size_t hs = size_t(s) * n_kv + g, base = ((size_t(s) * c + i) * n_heads + h) * d;
              if (sc.zeroed[hs]) continue;  // ref and tol stay 0: the output must be exactly 0
              std::vector<const float*> ks, vs;
              for (int32_t p : sc.kept[hs])
                ks.push_back(&sc.pk[(size_t(g) * n_tokens + p) * d]),
                    vs.push_back(&sc.pv[(size_t(g) * n_tokens + p) * d]);
              for (int t = 0; t <= sc.n_done[s] + i; ++t)
                ks.push_back(sc.gen(sc.gk, s, g, t)), vs.push_back(sc.gen(sc.gv, s, g, t));
              const AttnRow a = attend_ref(&sc.q[base], ks, vs, d, scale);
              // fp32 throughout: scores within ds = gamma(D) max sum|scale q k| + 4u(1 + that)
              // (the pre-scaled query); weights within eps = 2 ds + 4u (exp2 and the
              // chunk merge's rescaling); outputs as in prefill, rounded to T.
              const double ds = gamma_n(d) * a.max_mag + 4 * kU32 * (1 + a.max_mag);
              const double eps = 2 * ds + 4 * kU32;
              for (int x = 0; x < d; ++x) {
                ref[base + x] = a.o[x];
                tol[base + x] = (2 * eps + 2 * gamma_n(double(ks.size()))) * a.pv[x] + uT * std::fabs(a.o[x]);
              }
            }
        compare("attention rows", out[0], ref, tol,
                "(2 eps + 2 gamma(n)) sum_j p_j|v_j| + u_T |o|, eps = 2 ds + 4u; zeroed heads exact 0");
        // The last policy decoded alone gives the same bits as inside the batch.
        const size_t per_policy = size_t(c) * n_heads * d;
        compare_exact("last policy alone vs batched", out[1],
                      std::vector<float>(out[0].end() - per_policy, out[0].end()));
      }};
}

}  // namespace

TEST_CASE("kernels: prefill_attention against a double causal-attention _ref", "[kernels][emu]") {
  run_table("prefill_attention", {prefill_case<bf16>(1, 2, 2, 64, 1), prefill_case<bf16>(17, 4, 1, 64, 2),
                                  prefill_case<f16>(100, 6, 2, 128, 3), prefill_case<bf16>(130, 2, 1, 64, 4),
                                  prefill_case<f16>(64, 3, 3, 64, 5)});
}

TEST_CASE("kernels: decode_attention against a double _ref of the batched decoder", "[kernels][emu]") {
  run_table("decode_attention",
            {decode_case<float>(37, 2, 6, 64, 4, 1, 32, 1), decode_case<float>(150, 3, 3, 64, 5, 3, 64, 2),
             decode_case<bf16>(70, 2, 8, 128, 3, 2, 32, 3), decode_case<f16>(5, 1, 2, 64, 2, 4, 256, 4)});
}
