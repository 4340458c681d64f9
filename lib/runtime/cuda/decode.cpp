// Decoding K budget policies against one prompt state on the device (see engine.h). CPU twin:
// the Decoder of runtime/batch_decode.cpp, whose results this matches within the parity
// tolerances: the same kept sets (a set several policies share is held once), the same feeding
// of tokens, the same stop rules.
//
// Kept sets: the whole prompt and window-only sets are slices of the prompt's K/V (row stride
// G*D); ranked sets are compacted (compact_kv) into AdaKV's flat per-head layout [rows, D];
// DecodeOptions::compacted compacts every set (the real compressed cache). Each step: the
// step's rows through the layers, every GEMM in tiles of kDecodeRowTile rows; per layer one
// DecodePlan (all plans of a step packed and copied to the device at once), generated K/V
// appended per (policy, layer) by compact_kv's row copy, decode_attention over the sets.
#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "core/error.h"
#include "kernels/compact.cuh"
#include "kernels/decode_attention.cuh"
#include "kernels/embed.cuh"
#include "kernels/logits.cuh"
#include "kernels/rms_norm.cuh"
#include "kernels/rope.cuh"
#include "kernels/swiglu.cuh"
#include "runtime/cuda/engine.h"

COKV_CUDA_BACKEND_BEGIN

namespace {

using kernels::CompactSet;
using kernels::DecodePlan;
using kernels::DecodeRead;
using kernels::DecodeSet;

// The distinct prompt key sets of every head and which one each policy reads.
struct KeptSets {
  std::vector<std::vector<DecodeSet>> sets;  // [L*G] distinct sets of the head, first use first
  std::vector<int> set_of;                   // [S*L*G]: index into sets[h], -1: zeroed head
  DeviceBlock ck, cv, ranks, descr;          // compacted rows [n, D], ranks, CompactSets
};

// One set to be made: a slice of the prompt or a compaction.
struct SetSpec {
  size_t head;
  int index;                  // in sets[head]
  const HeadRanking* ranked;  // the ranking whose top n_ranked it keeps (null: none needed)
  int n_ranked, window;
  bool all;
};

template <class Act>
KeptSets keep_sets(const DeviceModel& m, const CudaState& s, std::span<const Policy> pols, bool compacted) {
  const Dims& d = m.d;
  const int T = s.T, S = int(pols.size());
  const size_t LG = size_t(d.L) * d.G;
  require(s.has_kv, "decode: prompt state has no K/V (prefill with keep_kv)");
  KeptSets ks;
  ks.sets.assign(LG, {});
  ks.set_of.assign(size_t(S) * LG, -1);
  // As the CPU decoder: a set is (ranking of the head, ranked count, window), or "all".
  using Key = std::tuple<const int32_t*, int, int>;
  std::vector<std::map<Key, int>> seen(LG);
  std::vector<SetSpec> specs;
  for (int p = 0; p < S; ++p) {
    const Policy& pol = pols[p];
    require(pol.budget.keep.size() == LG, "decode: policy " + std::to_string(p) + " has " +
                                              std::to_string(pol.budget.keep.size()) + " budgets, model has " +
                                              std::to_string(LG) + " KV heads");
    if (pol.ranking)
      require(pol.ranking->n_tokens == T && pol.ranking->heads.size() == LG,
              "decode: policy " + std::to_string(p) + " ranking was made for another prompt");
    const int window = std::min(pol.ranking ? pol.ranking->window : pol.window, T);
    for (size_t h = 0; h < LG; ++h) {
      const int32_t b = pol.budget.keep[h];
      if (b == kZeroHead) continue;
      const bool all = b == kKeepAll || b >= T;
      require(all || b >= 0, "decode: policy " + std::to_string(p) + " has a negative budget");
      const int n_ranked = all ? 0 : std::max(b - window, 0);
      require(n_ranked == 0 || pol.ranking,
              "decode: policy " + std::to_string(p) + " keeps ranked tokens but has no ranking");
      const HeadRanking* hr = n_ranked ? &pol.ranking->heads[h] : nullptr;
      const Key key = all ? Key{nullptr, -1, 0} : Key{hr ? hr->order.data() : nullptr, n_ranked, window};
      auto [it, fresh] = seen[h].try_emplace(key, int(ks.sets[h].size()));
      if (fresh) {
        specs.push_back({h, it->second, hr, n_ranked, window, all});
        ks.sets[h].emplace_back();
      }
      ks.set_of[size_t(p) * LG + h] = it->second;
    }
  }

  // Ranks (inverse orders) of the rankings compaction reads, one upload for all heads.
  std::map<const HeadRanking*, size_t> rank_at;
  std::vector<int32_t> ranks;
  for (const SetSpec& sp : specs)
    if (sp.ranked && !rank_at.count(sp.ranked)) {
      rank_at[sp.ranked] = ranks.size();
      const auto& order = sp.ranked->order;
      require(int(order.size()) == T - sp.window, "decode: a ranking does not cover the prompt outside its window");
      ranks.resize(ranks.size() + order.size());
      int32_t* r = ranks.data() + rank_at[sp.ranked];
      for (size_t i = 0; i < order.size(); ++i) r[order[i]] = int32_t(i);
    }
  // Sets: prompt slices, or rows of the compacted cache (row_of: its first row there).
  const Act* k = s.k.as<Act>();
  const Act* v = s.v.as<Act>();
  std::vector<CompactSet> cs;
  std::vector<int64_t> row_of(specs.size(), -1);
  int64_t rows = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const SetSpec& sp = specs[i];
    const int il = int(sp.head) / d.G, g = int(sp.head) % d.G;
    const int64_t head0 = int64_t(il) * T * d.GD + int64_t(g) * d.D;  // position 0 of the head
    DecodeSet& set = ks.sets[sp.head][sp.index];
    if (!compacted && (sp.all || sp.n_ranked == 0)) {
      const int64_t first = sp.all ? 0 : T - sp.window;
      set = {k + head0 + first * d.GD, v + head0 + first * d.GD, d.GD, sp.all ? T : sp.window};
      continue;
    }
    CompactSet c;
    c.src = head0, c.src_stride = d.GD, c.n_tokens = T;
    c.window = sp.all ? T : sp.window;  // "all": every position counts as the window
    c.n_ranked = sp.all ? 0 : sp.n_ranked;
    c.dst = rows;
    cs.push_back(c);
    row_of[i] = rows;
    set.n_keys = sp.all ? T : sp.n_ranked + sp.window;
    set.stride = d.D;
    rows += set.n_keys;
  }
  const DeviceContext& dc = m.dc;
  if (!ranks.empty()) {
    ks.ranks = dc.block(ranks.size() * sizeof(int32_t), "kept-set ranks");
    dc.upload(ks.ranks.as<int32_t>(), std::span<const int32_t>(ranks));
  }
  if (cs.empty()) return ks;
  ks.ck = dc.block(size_t(rows) * d.D * sizeof(Act), "the compacted keys");
  ks.cv = dc.block(size_t(rows) * d.D * sizeof(Act), "the compacted values");
  for (size_t i = 0, ci = 0; i < specs.size(); ++i) {
    if (row_of[i] < 0) continue;
    const SetSpec& sp = specs[i];
    if (sp.ranked) cs[ci].rank = ks.ranks.as<int32_t>() + rank_at[sp.ranked];
    ++ci;
    DecodeSet& set = ks.sets[sp.head][sp.index];
    set.k = ks.ck.as<Act>() + size_t(row_of[i]) * d.D;
    set.v = ks.cv.as<Act>() + size_t(row_of[i]) * d.D;
  }
  ks.descr = dc.block(cs.size() * sizeof(CompactSet), "compaction sets");
  dc.upload(ks.descr.as<CompactSet>(), std::span<const CompactSet>(cs));
  kernels::compact_kv<Act>(ks.descr.as<CompactSet>(), int(cs.size()), k, v, d.D, ks.ck.as<Act>(), ks.cv.as<Act>(),
                           nullptr, dc.stream);
  return ks;
}

// The decode state of one call: kept sets, the policies' generated K/V, the step buffers.
template <class Act>
class Decoder {
 public:
  // capacity: tokens each policy may feed; max_rows: the most rows of one extend().
  Decoder(const DeviceModel& m, const CudaState& s, std::span<const Policy> pols, int capacity, int max_rows,
          bool compacted)
      : m_(m), d_(m.d), dc_(m.dc), s_(s), S_(int(pols.size())), cap_(std::max(capacity, 1)),
        chunk_(decode_chunk(s.T)), n_done_(S_, 0) {
    sets_ = keep_sets<Act>(m, s, pols, compacted);
    const size_t rp = rows_pad_ = size_t(round_up_rows(max_rows)), eb = sizeof(Act);
    const size_t gen = size_t(d_.L) * S_ * cap_ * d_.GD * eb;
    gk_ = dc_.block(gen, "the generated keys"), gv_ = dc_.block(gen, "the generated values");
    x_ = dc_.block(rp * d_.E * sizeof(float), "decode residual");
    xn_ = dc_.block(rp * d_.E * eb, "decode normed rows");
    qkv_ = dc_.block(rp * d_.QKVD * eb, "decode Q|K|V");
    attn_ = dc_.block(rp * d_.HD * eb, "decode attention output");
    gu_ = dc_.block(rp * 2 * d_.F * eb, "decode gate|up");
    h_ = dc_.block(rp * d_.F * eb, "decode SwiGLU output");
    logits_ = dc_.block(size_t(kDecodeRowTile) * d_.V * sizeof(float), "decode logits");
    ints_ = dc_.block(rp * 5 * sizeof(int32_t), "decode tokens, positions, targets, argmax");
    rope_ = dc_.block(rp * 2 * d_.P * sizeof(float), "decode RoPE tables");
    scatter_ = dc_.block(size_t(S_) * sizeof(CompactSet), "generated-row copies");
    // Rows past a step's own are multiplied too (GEMMs in whole tiles): keep them finite.
    for (const DeviceBlock* b : {&x_, &xn_, &attn_, &h_})
      check(cudaMemsetAsync(b->as<void>(), 0, b->bytes(), dc_.stream), "decode buffers");
  }

  // Feeds c tokens to each policy in `active` (tokens laid out [active][c]).
  void extend(const std::vector<int>& active, std::span<const int32_t> tokens, int c);
  // Per row of the last extend(): argmax (greedy) or, with targets, log p(target).
  std::vector<int32_t> argmax(int rows) { return logit_rows(rows, {}).first; }
  std::vector<float> logp(std::span<const int32_t> targets) {
    return logit_rows(int(targets.size()), targets).second;
  }

 private:
  std::vector<DecodePlan> plans(const std::vector<int>& active, int c) const;
  std::pair<std::vector<int32_t>, std::vector<float>> logit_rows(int rows, std::span<const int32_t> targets);
  int32_t* ints(int which) const { return ints_.as<int32_t>() + size_t(which) * rows_pad_; }

  const DeviceModel& m_;
  const Dims& d_;
  const DeviceContext& dc_;
  const CudaState& s_;
  const int S_, cap_, chunk_;
  size_t rows_pad_ = 0;      // rows of the step buffers: max_rows rounded up to whole tiles
  std::vector<int> n_done_;  // [S] tokens fed per policy
  KeptSets sets_;
  DeviceBlock gk_, gv_;  // [L][S][cap][GD]: each policy's generated K/V, per layer
  DeviceBlock x_, xn_, qkv_, attn_, gu_, h_, logits_, ints_, rope_, scatter_;
};

// One plan per layer: sets (the layer's prompt sets, then each active policy's generated keys
// per KV head) and the reads of every (row, query head): its prompt set, then its own keys.
template <class Act>
std::vector<DecodePlan> Decoder<Act>::plans(const std::vector<int>& active, int c) const {
  const Dims& d = d_;
  const int Ka = int(active.size()), R = Ka * c;
  const size_t LG = size_t(d.L) * d.G;
  std::vector<int64_t> out_offsets(size_t(R) * d.H);
  for (int r = 0; r < R; ++r)
    for (int h = 0; h < d.H; ++h) out_offsets[size_t(r) * d.H + h] = int64_t(r) * d.HD + int64_t(h) * d.D;
  std::vector<DecodePlan> out;
  out.reserve(d.L);
  std::vector<DecodeSet> sets;
  std::vector<DecodeRead> reads;
  std::vector<int> base(d.G);
  for (int il = 0; il < d.L; ++il) {
    sets.clear(), reads.clear();
    for (int g = 0; g < d.G; ++g) {
      base[g] = int(sets.size());
      const auto& hs = sets_.sets[size_t(il) * d.G + g];
      sets.insert(sets.end(), hs.begin(), hs.end());
    }
    const int n_prompt = int(sets.size());
    const Act* gk = gk_.as<Act>() + size_t(il) * S_ * cap_ * d.GD;
    const Act* gv = gv_.as<Act>() + size_t(il) * S_ * cap_ * d.GD;
    for (int a = 0; a < Ka; ++a)
      for (int g = 0; g < d.G; ++g) {
        const size_t at = size_t(active[a]) * cap_ * d.GD + size_t(g) * d.D;
        sets.push_back({gk + at, gv + at, d.GD, cap_});
      }
    for (int r = 0; r < R; ++r) {
      const int a = r / c, i = r % c, p = active[a];
      for (int h = 0; h < d.H; ++h) {
        const int g = h / d.gs, set = sets_.set_of[size_t(p) * LG + size_t(il) * d.G + g];
        if (set < 0) continue;  // zeroed head: no reads, output zero
        const int64_t q = int64_t(r) * d.QKVD + int64_t(h) * d.D;
        const int o = r * d.H + h;
        reads.push_back({base[g] + set, q, sets[base[g] + set].n_keys, o});
        reads.push_back({n_prompt + a * d.G + g, q, n_done_[p] + i + 1, o});
      }
    }
    out.emplace_back(sets, reads, out_offsets, chunk_);
  }
  return out;
}

template <class Act>
void Decoder<Act>::extend(const std::vector<int>& active, std::span<const int32_t> tokens, int c) {
  const Dims& d = d_;
  const cudaStream_t st = dc_.stream;
  const int Ka = int(active.size()), R = Ka * c;
  const int window = m_.cfg.sliding_window;
  for (int p : active) {
    require(n_done_[p] + c <= cap_, "decode: sequence capacity exceeded");
    require(window == 0 || s_.T + n_done_[p] + c <= window,
            "decode: sequence longer than the model's sliding window (" + std::to_string(window) +
                "), which cokv does not implement");
  }
  std::vector<int32_t> host(size_t(2) * R);  // token ids, positions
  std::vector<CompactSet> scatter(Ka);
  for (int r = 0; r < R; ++r) {
    const int32_t t = tokens[r];
    require(t >= 0 && t < d.V, "decode: token id " + std::to_string(t) + " outside the vocabulary");
    host[r] = t;
    host[R + r] = s_.T + n_done_[active[r / c]] + r % c;
  }
  // The step's K/V rows of policy a go to its generated rows n_done .. n_done + c - 1: a
  // "compaction" of c rows of width G*D that keeps all of them.
  for (int a = 0; a < Ka; ++a) {
    CompactSet& cs = scatter[a];
    cs.src = int64_t(a) * c * d.QKVD, cs.src_stride = d.QKVD;
    cs.n_tokens = c, cs.window = c, cs.n_ranked = 0;
    cs.dst = int64_t(active[a]) * cap_ + n_done_[active[a]];
  }
  const std::vector<DecodePlan> pl = plans(active, c);
  size_t plan_bytes = 0, parts = 0;
  for (const DecodePlan& p : pl) plan_bytes += p.bytes(), parts = std::max(parts, p.workspace_floats(d.D));
  std::vector<unsigned char> packed(plan_bytes);
  for (size_t i = 0, at = 0; i < pl.size(); at += pl[i].bytes(), ++i) pl[i].pack(packed.data() + at);
  DeviceBlock plan_dev = dc_.block(std::max<size_t>(plan_bytes, 1), "decode plans");
  DeviceBlock partials = dc_.block(std::max<size_t>(parts, 1) * sizeof(float), "decode attention partials");
  int32_t *tok = ints(0), *pos = ints(1);
  dc_.upload(tok, host.data(), size_t(R) * sizeof(int32_t));
  dc_.upload(pos, host.data() + R, size_t(R) * sizeof(int32_t));
  dc_.upload(scatter_.as<CompactSet>(), std::span<const CompactSet>(scatter));
  dc_.upload(plan_dev.as<void>(), packed.data(), plan_bytes);

  const ModelConfig& cfg = m_.cfg;
  const DType type = m_.w.type;
  float* x = x_.as<float>();
  Act *xn = xn_.as<Act>(), *qkv = qkv_.as<Act>(), *attn = attn_.as<Act>(), *gu = gu_.as<Act>(), *hh = h_.as<Act>();
  float* cosv = rope_.as<float>();
  float* sinv = cosv + size_t(R) * d.P;
  const auto pairs = cfg.rope_style == RopeStyle::Norm ? kernels::RopePairs::Adjacent : kernels::RopePairs::HalfSplit;
  const float scale = 1.f / std::sqrt(float(d.D));
  kernels::embed<Act>(static_cast<const Act*>(m_.w.tok_embd.p), d.E, d.V, tok, R, d.E, x, d.E, st);
  kernels::rope_cache(pos, R, m_.w.inv_freq, d.P, cosv, sinv, st);
  size_t at = 0;
  for (int il = 0; il < d.L; ++il) {
    const DeviceLayer& lw = m_.w.layers[il];
    kernels::rms_norm<Act>(x, d.E, lw.attn_norm, xn, d.E, R, d.E, cfg.norm_eps, st);
    gemm_tiled(m_, xn, d.E, lw.wqkv, qkv, type, d.QKVD, R, false, lw.bqkv);
    kernels::rope<Act>(qkv, d.QKVD, R, d.H + d.G, d.D, cfg.rope_dim, pairs, cosv, sinv, st);
    const size_t layer = size_t(il) * S_ * cap_ * d.GD;
    kernels::compact_kv<Act>(scatter_.as<CompactSet>(), Ka, qkv + d.HD, qkv + d.HD + d.GD, d.GD,
                             gk_.as<Act>() + layer, gv_.as<Act>() + layer, nullptr, st);
    const kernels::DecodePlanView view = pl[il].view(plan_dev.as<unsigned char>() + at);
    at += pl[il].bytes();
    kernels::decode_attention<Act>(view, qkv, attn, partials.as<float>(), d.D, scale, st);
    gemm_tiled(m_, attn, d.HD, lw.wo, x, DType::F32, d.E, R, true);
    kernels::rms_norm<Act>(x, d.E, lw.ffn_norm, xn, d.E, R, d.E, cfg.norm_eps, st);
    gemm_tiled(m_, xn, d.E, lw.wgu, gu, type, 2 * d.F, R, false);
    kernels::swiglu<Act>(gu, 2 * d.F, gu + d.F, 2 * d.F, hh, d.F, R, d.F, st);
    gemm_tiled(m_, hh, d.F, lw.wdown, x, DType::F32, d.E, R, true);
  }
  for (int p : active) n_done_[p] += c;
  kernels::rms_norm<Act>(x, d.E, m_.w.out_norm, xn, d.E, R, d.E, cfg.norm_eps, st);
  dc_.sync();  // the plans and partials go back to the arena when this returns
}

// The LM head a tile of rows at a time, then argmax and log p per row.
template <class Act>
std::pair<std::vector<int32_t>, std::vector<float>> Decoder<Act>::logit_rows(int rows,
                                                                              std::span<const int32_t> targets) {
  const Dims& d = d_;
  const bool ll = !targets.empty();
  int32_t *am = ints(2), *tg = ints(3);
  float* lp = reinterpret_cast<float*>(ints(4));
  if (ll) dc_.upload(tg, targets.data(), targets.size_bytes());
  for (int r0 = 0; r0 < rows; r0 += kDecodeRowTile) {
    const int n = std::min(kDecodeRowTile, rows - r0);
    gemm(m_, xn_.as<Act>() + size_t(r0) * d.E, d.E, m_.w.lm_head, logits_.as<float>(), DType::F32, d.V,
         kDecodeRowTile, false);
    kernels::logits_rows(logits_.as<float>(), d.V, n, d.V, ll ? nullptr : am + r0, ll ? tg + r0 : nullptr,
                         ll ? lp + r0 : nullptr, dc_.stream);
  }
  std::pair<std::vector<int32_t>, std::vector<float>> out;
  if (ll) {
    out.second.resize(rows);
    dc_.download(out.second.data(), lp, size_t(rows) * sizeof(float));
  } else {
    out.first.resize(rows);
    dc_.download(out.first.data(), am, size_t(rows) * sizeof(int32_t));
  }
  return out;
}

double log_softmax_at(std::span<const float> row, int target) {
  const float mx = *std::max_element(row.begin(), row.end());
  double sum = 0.0;
  for (float v : row) sum += std::exp(double(v - mx));
  return double(row[target] - mx) - std::log(sum);
}

}  // namespace

template <class Act>
std::vector<GenResult> generate(const DeviceModel& m, const CudaState& s, std::span<const Policy> policies,
                                const GenOptions& opt) {
  const int S = int(policies.size());
  std::vector<GenResult> res(S);
  if (S == 0 || opt.max_new <= 0) return res;
  auto is_stop = [&](int32_t t) { return std::find(opt.stop.begin(), opt.stop.end(), t) != opt.stop.end(); };
  for (int p = 0; p < S; ++p) {
    res[p].kept_tokens = policy_kept_tokens(policies[p], s.T);
    res[p].kv_bytes = kv_bytes_for(res[p].kept_tokens, m.d.D, sizeof(Act));
  }
  const int32_t first = int32_t(std::max_element(s.logits.begin(), s.logits.end()) - s.logits.begin());
  std::vector<int> active;
  for (int p = 0; p < S; ++p) {
    if (is_stop(first)) {
      res[p].stopped = true;
      continue;
    }
    res[p].tokens.push_back(first);
    if (opt.max_new > 1) active.push_back(p);
  }
  if (active.empty()) return res;
  Decoder<Act> dec(m, s, policies, opt.max_new - 1, S, opt.compacted);
  std::vector<int32_t> feed;
  while (!active.empty()) {
    feed.clear();
    for (int p : active) feed.push_back(res[p].tokens.back());
    dec.extend(active, feed, 1);
    const std::vector<int32_t> next = dec.argmax(int(active.size()));
    std::vector<int> next_active;
    for (size_t r = 0; r < active.size(); ++r) {
      const int p = active[r];
      if (is_stop(next[r])) {
        res[p].stopped = true;
        continue;
      }
      res[p].tokens.push_back(next[r]);
      if (int(res[p].tokens.size()) < opt.max_new) next_active.push_back(p);
    }
    active.swap(next_active);
  }
  return res;
}

template <class Act>
std::vector<LoglikResult> loglik(const DeviceModel& m, const CudaState& s, std::span<const Policy> policies,
                                 std::span<const int32_t> answer, const DecodeOptions& opt) {
  const int S = int(policies.size()), A = int(answer.size());
  std::vector<LoglikResult> res(S);
  if (S == 0 || A == 0) return res;
  require(answer[0] >= 0 && answer[0] < m.d.V,
          "decode: token id " + std::to_string(answer[0]) + " outside the vocabulary");
  const double lp0 = log_softmax_at(s.logits, answer[0]);
  for (int p = 0; p < S; ++p) {
    res[p].kept_tokens = policy_kept_tokens(policies[p], s.T);
    res[p].kv_bytes = kv_bytes_for(res[p].kept_tokens, m.d.D, sizeof(Act));
    res[p].token_logp.assign(A, 0.f);
    res[p].token_logp[0] = float(lp0);
    res[p].loglik = lp0;
  }
  if (A == 1) return res;
  const int c = A - 1;
  Decoder<Act> dec(m, s, policies, c, S * c, opt.compacted);
  std::vector<int> active(S);
  std::vector<int32_t> feed(size_t(S) * c), targets(size_t(S) * c);
  for (int p = 0; p < S; ++p) {
    active[p] = p;
    std::copy_n(answer.begin(), c, feed.begin() + size_t(p) * c);
    std::copy_n(answer.begin() + 1, c, targets.begin() + size_t(p) * c);
  }
  dec.extend(active, feed, c);
  const std::vector<float> lp = dec.logp(targets);
  for (int p = 0; p < S; ++p) {
    double sum = 0.0;
    for (int i = 0; i < c; ++i) res[p].token_logp[i + 1] = lp[size_t(p) * c + i];
    for (float v : res[p].token_logp) sum += v;
    res[p].loglik = sum;
  }
  return res;
}

#define COKV_DECODE(Act)                                                                                 \
  template std::vector<GenResult> generate<Act>(const DeviceModel&, const CudaState&, std::span<const Policy>, \
                                                const GenOptions&);                                      \
  template std::vector<LoglikResult> loglik<Act>(const DeviceModel&, const CudaState&,                    \
                                                 std::span<const Policy>, std::span<const int32_t>,       \
                                                 const DecodeOptions&);
COKV_DECODE(bf16)
COKV_DECODE(f16)
#undef COKV_DECODE

COKV_CUDA_BACKEND_END
