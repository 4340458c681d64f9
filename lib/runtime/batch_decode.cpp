#include "runtime/batch_decode.h"


#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "core/error.h"
#include "core/parallel.h"
#include "runtime/ops.h"

namespace cokv {

int64_t policy_kept_tokens(const Policy& pol, int n_tokens) {
  int64_t n = 0;
  for (int32_t b : pol.budget.keep) n += kept_count(b, n_tokens, pol.ranking ? pol.ranking->window : pol.window);
  return n;
}

size_t kv_bytes_for(int64_t kept_tokens, int head_dim, size_t element_bytes) {
  return size_t(kept_tokens) * 2 * size_t(head_dim) * element_bytes;
}

namespace {

using ConstRows = Eigen::Map<const Mat>;
using Strided = Eigen::Map<Mat, 0, Eigen::OuterStride<>>;

// The prompt keys one (layer, KV head) keeps for some policies: one set is shared by every
// policy that keeps exactly these positions (a coalition batch has two per head: the whole
// prompt and the window), stored once and read while hot for all of them.
struct KeySet {
  int n = 0;                  // kept prompt positions
  const float* k = nullptr;   // [n, D] rows, when they lie contiguous (prompt slice or compacted)
  const float* v = nullptr;
  std::vector<int32_t> pos;   // otherwise the ascending positions, gathered at use
  std::vector<float> kt;      // the keys packed for attention_scores_packed, at first shared use
};

// A policy's query rows of one head ((token, query head) pairs) are attended in tiles of at
// most this many rows: scores and outputs are GEMMs against the kept keys.
constexpr int kRowTile = 96;
// Policies with at most this many rows per head (greedy decode: one token x the group's
// query heads) go through the row-stable attention kernels (runtime/ops.h), in tiles that take
// the rows of many policies and read the keys once for all of them; a GEMM would first pack
// all n keys for a handful of rows, as much work as the product itself.
constexpr int kSharedTileRows = 4;

class Decoder {
 public:
  Decoder(const Model& m, const PromptKV& p, std::span<const Policy> pols, int capacity, bool compacted)
      : m_(m), p_(p), c_(m.cfg), S_(int(pols.size())), cap_(std::max(capacity, 1)), compacted_(compacted) {
    const int L = c_.n_layers, G = c_.n_kv_heads, D = c_.head_dim, T = p.n_tokens;
    require(int(p.k.size()) == L, "decode: prompt state has no K/V (prefill with keep_kv)");
    const size_t LG = size_t(L) * G;
    sets_.assign(LG, {});
    set_of_.assign(size_t(S_) * LG, -1);
    // A kept set is determined by (ranking of the head, ranked count, window), or is "all".
    using Key = std::tuple<const int32_t*, int, int>;
    std::vector<std::map<Key, int>> seen(LG);
    for (int s = 0; s < S_; ++s) {
      const Policy& pol = pols[s];
      require(pol.budget.keep.size() == LG, "decode: policy " + std::to_string(s) + " has " +
                                                std::to_string(pol.budget.keep.size()) + " budgets, model has " +
                                                std::to_string(LG) + " KV heads");
      if (pol.ranking)
        require(pol.ranking->n_tokens == T && pol.ranking->heads.size() == LG,
                "decode: policy " + std::to_string(s) + " ranking was made for another prompt");
      const int window = std::min(pol.ranking ? pol.ranking->window : pol.window, T);
      for (size_t h = 0; h < LG; ++h) {
        const int32_t b = pol.budget.keep[h];
        if (b == kZeroHead) continue;  // set_of_ stays -1: output zeroed
        const bool all = b == kKeepAll || b >= T;
        require(all || b >= 0, "decode: policy " + std::to_string(s) + " has a negative budget");
        const int n_ranked = all ? 0 : std::max(b - window, 0);
        require(n_ranked == 0 || pol.ranking, "decode: policy " + std::to_string(s) +
                                                  " keeps ranked tokens but has no ranking");
        const Key key = all ? Key{nullptr, -1, 0}
                            : Key{n_ranked ? pol.ranking->heads[h].order.data() : nullptr, n_ranked, window};
        auto [it, fresh] = seen[h].try_emplace(key, int(sets_[h].size()));
        if (fresh) {
          KeySet ks;
          kept_positions(b, T, window,
                         n_ranked ? std::span<const int32_t>(pol.ranking->heads[h].order) : std::span<const int32_t>(),
                         ks.pos);
          ks.n = int(ks.pos.size());
          sets_[h].push_back(std::move(ks));
        }
        set_of_[s * LG + h] = it->second;
      }
    }
    if (compacted_) build_compacted();
    else alias_contiguous();
    gk_.assign(L, std::vector<float>(size_t(S_) * G * cap_ * D));
    gv_.assign(L, std::vector<float>(size_t(S_) * G * cap_ * D));
    n_done_.assign(S_, 0);
    rope_.build(c_, T + cap_ + 1);
    int max_kept = 0;
    for (const auto& head : sets_)
      for (const auto& ks : head) max_kept = std::max(max_kept, ks.n);
    max_kept_ = max_kept;
    ensure_scratch();
  }

  // Feeds c tokens to each sequence in `active` (tokens laid out [active][c]); afterwards
  // hidden() holds the final-normed rows [active*c, E] in the same order.
  void extend(const std::vector<int>& active, std::span<const int32_t> tokens, int c) {
    const int Ka = int(active.size()), rows = Ka * c, D = c_.head_dim, G = c_.n_kv_heads;
    for (int s : active) {
      require(n_done_[s] + c <= cap_, "decode: sequence capacity exceeded");
      require(c_.sliding_window == 0 || p_.n_tokens + n_done_[s] + c <= c_.sliding_window,
              "decode: sequence longer than the model's sliding window (" + std::to_string(c_.sliding_window) +
                  "), which cokv does not implement");
    }
    x_.resize(rows, c_.hidden);
    pos_.resize(rows);
    for (int r = 0; r < rows; ++r) {
      const int32_t t = tokens[r];
      require(t >= 0 && t < c_.n_vocab, "decode: token id " + std::to_string(t) + " outside the vocabulary");
      m_.w.tok_embd.decode_rows(t, 1, x_.row(r).data());
      pos_[r] = p_.n_tokens + n_done_[active[r / c]] + r % c;
    }
    for (int il = 0; il < c_.n_layers; ++il) {
      const LayerWeights& lw = m_.w.layers[il];
      qkv_block(lw, c_, m_.act_quant, rope_, pos_.data(), x_, xn_, q_, k_, v_, Matmul::RowStable);
      for (int r = 0; r < rows; ++r) {
        const int s = active[r / c], t = n_done_[s] + r % c;
        for (int g = 0; g < G; ++g) {
          std::copy_n(k_.row(r).data() + g * D, D, gen_row(gk_[il], s, g, t));
          std::copy_n(v_.row(r).data() + g * D, D, gen_row(gv_[il], s, g, t));
        }
      }
      attention(il, active, c);
      quantize_activations(attn_, m_.act_quant);
      linear(attn_, lw.wo, o_, Matmul::RowStable, m_.act_quant);
      x_ += o_;
      swiglu_block(lw, c_, m_.act_quant, x_, xn_, gate_, up_, o_, Matmul::RowStable);
    }
    for (int s : active) n_done_[s] += c;
    rms_norm(x_, m_.w.out_norm, c_.norm_eps, hidden_);
    quantize_activations(hidden_, m_.act_quant);  // the LM head's input
  }

  const Mat& hidden() const { return hidden_; }

 private:
  struct Scratch {
    Mat q, o, s, k, v;  // query tile, output tile, scores [tile, kept + own], gathered K/V
  };
  struct Tile {
    int g, set, r0, nr;  // rows_[r0, r0 + nr) attend sets_[il*G + g][set]
    bool shared;         // rows of many policies, row-stable kernels (else one policy, GEMMs)
  };

  // One scratch per thread a parallel_for may use (checked per step: the thread count can be
  // changed between steps).
  void ensure_scratch() {
    const int D = c_.head_dim;
    while (int(scratch_.size()) < parallel_threads()) {
      Scratch sc;
      sc.q.resize(kRowTile, D), sc.o.resize(kRowTile, D);
      sc.s.resize(kRowTile, max_kept_ + cap_);
      sc.k.resize(max_kept_, D), sc.v.resize(max_kept_, D);
      scratch_.push_back(std::move(sc));
    }
  }

  float* gen_row(std::vector<float>& buf, int s, int g, int t) {
    return buf.data() + ((size_t(s) * c_.n_kv_heads + g) * cap_ + t) * c_.head_dim;
  }

  // Index view: sets that are a slice of the prompt (everything, or the window) point into it;
  // ranked sets keep their positions and are gathered per tile. Nothing is copied up front.
  void alias_contiguous() {
    const int G = c_.n_kv_heads, D = c_.head_dim;
    for (size_t h = 0; h < sets_.size(); ++h)
      for (auto& ks : sets_[h]) {
        const bool contiguous = ks.n == 0 || ks.pos.back() - ks.pos.front() + 1 == ks.n;
        if (!contiguous) continue;
        const int il = int(h / G), g = int(h % G), first = ks.n ? ks.pos.front() : 0;
        ks.k = p_.k_head(il, g) + size_t(first) * D;
        ks.v = p_.v_head(il, g) + size_t(first) * D;
        ks.pos = {};
      }
  }

  // Compacted: the real compressed cache, per layer one flat [sum of kept lengths, D] K and V
  // (AdaKV's layout; a set shared by several policies of the batch is stored once).
  void build_compacted() {
    const int L = c_.n_layers, G = c_.n_kv_heads, D = c_.head_dim;
    ck_.assign(L, {}), cv_.assign(L, {});
    for (int il = 0; il < L; ++il) {
      size_t rows = 0;
      for (int g = 0; g < G; ++g)
        for (const auto& ks : sets_[size_t(il) * G + g]) rows += ks.n;
      ck_[il].resize(rows * D), cv_[il].resize(rows * D);
      size_t off = 0;
      for (int g = 0; g < G; ++g)
        for (auto& ks : sets_[size_t(il) * G + g]) {
          float* k = ck_[il].data() + off * D;
          float* v = cv_[il].data() + off * D;
          for (int j = 0; j < ks.n; ++j) {
            std::copy_n(p_.k_head(il, g) + size_t(ks.pos[j]) * D, D, k + size_t(j) * D);
            std::copy_n(p_.v_head(il, g) + size_t(ks.pos[j]) * D, D, v + size_t(j) * D);
          }
          ks.k = k, ks.v = v, ks.pos = {};
          off += ks.n;
        }
    }
    // The compacted cache is now the only copy of the prompt the decoder reads.
  }

  // attn_[row, (g*gs+e)*D..] = softmax(q . [kept prompt keys ; own generated keys] / sqrt(D)) V.
  // Query rows are grouped by the key set they attend; the prompt part is GEMMs.
  void attention(int il, const std::vector<int>& active, int c) {
    const int Ka = int(active.size()), G = c_.n_kv_heads, D = c_.head_dim, gs = c_.group_size();
    const size_t LG = size_t(c_.n_layers) * G;
    attn_.resize(Ka * c, c_.n_heads * D);
    // rows_ holds query rows (a*c + i)*gs + e, grouped by (g, set); tiles_ cut the groups.
    rows_.clear(), tiles_.clear();
    for (int g = 0; g < G; ++g) {
      const size_t h = size_t(il) * G + g;
      for (int set = -1; set < int(sets_[h].size()); ++set) {
        const int r0 = int(rows_.size());
        for (int a = 0; a < Ka; ++a)
          if (set_of_[active[a] * LG + h] == set)
            for (int i = 0; i < c; ++i)
              for (int e = 0; e < gs; ++e) rows_.push_back((a * c + i) * gs + e);
        const int r1 = int(rows_.size());
        if (set < 0) {  // zeroed heads
          for (int r = r0; r < r1; ++r)
            std::fill_n(attn_.row(rows_[r] / gs).data() + size_t(g * gs + rows_[r] % gs) * D, D, 0.f);
          rows_.resize(r0);
          continue;
        }
        // A row's arithmetic must not depend on which other policies share the batch, or
        // resumed and batched runs would differ in the last bits. So a GEMM tile never mixes
        // policies (its shape would change), while shared tiles (greedy steps: the row-stable
        // kernels, whose rows do not see each other) take rows of many policies, reading the
        // keys once for all of them.
        const int per_policy = c * gs;
        if (per_policy <= kSharedTileRows) {
          for (int t = r0; t < r1; t += kRowTile) tiles_.push_back({g, set, t, std::min(kRowTile, r1 - t), true});
        } else {
          for (int p0 = r0; p0 < r1; p0 += per_policy)
            for (int t = p0; t < p0 + per_policy; t += kRowTile)
              tiles_.push_back({g, set, t, std::min(kRowTile, p0 + per_policy - t), false});
        }
      }
    }
    ensure_scratch();
    pack_shared_sets(il);
    parallel_for(int64_t(tiles_.size()), 1, [&](int64_t t0, int64_t t1, int thread) {
      for (int64_t t = t0; t < t1; ++t) attend_tile(il, active, c, tiles_[t], scratch_[thread]);
    });
  }

  // Shared tiles read a set's keys at every step: packed once (a second copy of them, made at
  // the set's first shared use) instead of transposed again per tile and step, which cost
  // more than the scores themselves at batch 1.
  void pack_shared_sets(int il) {
    const int G = c_.n_kv_heads, D = c_.head_dim;
    to_pack_.clear();
    for (const Tile& t : tiles_) {
      KeySet* ks = &sets_[size_t(il) * G + t.g][t.set];
      const auto listed = [&](const std::pair<KeySet*, int>& e) { return e.first == ks; };
      if (t.shared && ks->n > 0 && ks->kt.empty() && std::none_of(to_pack_.begin(), to_pack_.end(), listed))
        to_pack_.emplace_back(ks, t.g);
    }
    parallel_for(int64_t(to_pack_.size()), 1, [&](int64_t i0, int64_t i1, int thread) {
      for (int64_t i = i0; i < i1; ++i) {
        auto [ks, g] = to_pack_[i];
        const float* K = ks->k;
        if (!K) gather(p_.k_head(il, g), *ks, scratch_[thread].k), K = scratch_[thread].k.data();
        ks->kt.resize(packed_keys_size(ks->n, D));
        pack_keys(K, ks->n, D, ks->kt.data());
      }
    });
  }

  // An index view's rows of one head's prompt K or V ([T, D] at src), in its order.
  void gather(const float* src, const KeySet& ks, Mat& dst) const {
    const int D = c_.head_dim;
    for (int j = 0; j < ks.n; ++j) dst.row(j) = ConstRows(src + size_t(ks.pos[j]) * D, 1, D);
  }

  void attend_tile(int il, const std::vector<int>& active, int c, const Tile& tile, Scratch& sc) {
    const int G = c_.n_kv_heads, D = c_.head_dim, gs = c_.group_size();
    const KeySet& ks = sets_[size_t(il) * G + tile.g][tile.set];
    const float scale = 1.f / std::sqrt(float(D));
    const bool shared = tile.shared;
    const float *K = ks.k, *V = ks.v;
    if (!V) {  // index view of a ranked set: gather its rows (shared tiles read packed keys)
      gather(p_.v_head(il, tile.g), ks, sc.v);
      V = sc.v.data();
      if (!shared) gather(p_.k_head(il, tile.g), ks, sc.k), K = sc.k.data();
    }
    const int nr = tile.nr, n = ks.n;
    const int* rows = rows_.data() + tile.r0;
    for (int r = 0; r < nr; ++r) {
      const int qr = rows[r] / gs, e = rows[r] % gs;
      sc.q.row(r) = ConstRows(q_.row(qr).data() + size_t(tile.g * gs + e) * D, 1, D) * scale;
    }
    const ConstRows Kp(K, n, D), Vp(V, n, D);
    Strided S(sc.s.data(), nr, n, Eigen::OuterStride<>(sc.s.cols()));
    if (shared)
      attention_scores_packed(sc.q.data(), D, nr, ks.kt.data(), n, D, sc.s.data(), sc.s.cols());
    else
      S.noalias() = sc.q.topRows(nr) * Kp.transpose();
    for (int r = 0; r < nr; ++r) {
      const int qr = rows[r] / gs, s = active[qr / c];
      const int n_g = n_done_[s] + qr % c + 1;  // own tokens visible to this row (causal)
      const ConstRows Kg(gen_row(gk_[il], s, tile.g, 0), n_g, D);
      float* srow = sc.s.row(r).data();
      Eigen::Map<Eigen::RowVectorXf>(srow + n, n_g).noalias() = sc.q.row(r) * Kg.transpose();
      softmax_inplace(srow, n + n_g);
    }
    if (shared)
      attention_values(sc.s.data(), sc.s.cols(), nr, V, n, D, sc.o.data(), D);
    else
      sc.o.topRows(nr).noalias() = S * Vp;
    for (int r = 0; r < nr; ++r) {
      const int qr = rows[r] / gs, e = rows[r] % gs, s = active[qr / c];
      const int n_g = n_done_[s] + qr % c + 1;
      const ConstRows Vg(gen_row(gv_[il], s, tile.g, 0), n_g, D);
      sc.o.row(r).noalias() += Eigen::Map<const Eigen::RowVectorXf>(sc.s.row(r).data() + n, n_g) * Vg;
      std::copy_n(sc.o.row(r).data(), D, attn_.row(qr).data() + size_t(tile.g * gs + e) * D);
    }
  }

  const Model& m_;
  const PromptKV& p_;
  const ModelConfig& c_;
  const int S_, cap_;
  const bool compacted_;
  std::vector<std::vector<KeySet>> sets_;    // [L*G] distinct kept sets of each head
  std::vector<int> set_of_;                  // [S*L*G] index into sets_[h], -1: zeroed head
  std::vector<std::vector<float>> ck_, cv_;  // compacted: [L][sum kept * D]
  std::vector<std::vector<float>> gk_, gv_;  // generated K/V: [L][S*G*cap*D]
  std::vector<int> n_done_;                  // [S] tokens fed per sequence
  RopeTable rope_;
  std::vector<Scratch> scratch_;             // per thread
  int max_kept_ = 0;
  std::vector<int> rows_;
  std::vector<Tile> tiles_;
  std::vector<std::pair<KeySet*, int>> to_pack_;  // (set, its KV head) to pack this step
  std::vector<int> pos_;
  Mat x_, xn_, q_, k_, v_, attn_, o_, gate_, up_, hidden_;
};

// Rows of logits for hidden states, a block at a time so memory stays bounded.
template <class F>
void for_each_logits_row(const Model& m, const Mat& hidden, F&& f) {
  constexpr int kBlock = 64;
  Mat logits, rows;
  for (Eigen::Index r0 = 0; r0 < hidden.rows(); r0 += kBlock) {
    const Eigen::Index nr = std::min<Eigen::Index>(kBlock, hidden.rows() - r0);
    rows = hidden.middleRows(r0, nr);
    linear(rows, m.w.lm_head(), logits, Matmul::RowStable, m.act_quant);  // hidden: rounded as the LM head's input
    for (Eigen::Index i = 0; i < nr; ++i) f(int(r0 + i), logits.row(i).data(), int(logits.cols()));
  }
}

double log_softmax_at(const float* row, int n, int target) {
  float mx = row[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, row[i]);
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += std::exp(double(row[i] - mx));
  return double(row[target] - mx) - std::log(sum);
}

}  // namespace

std::vector<GenResult> generate(const Model& m, const PromptKV& p, std::span<const Policy> policies,
                                const GenOptions& opt) {
  const int S = int(policies.size());
  std::vector<GenResult> res(S);
  if (S == 0 || opt.max_new <= 0) return res;
  auto is_stop = [&](int32_t t) { return std::find(opt.stop.begin(), opt.stop.end(), t) != opt.stop.end(); };
  for (int s = 0; s < S; ++s) {
    res[s].kept_tokens = policy_kept_tokens(policies[s], p.n_tokens);
    res[s].kv_bytes = kv_bytes_for(res[s].kept_tokens, p.head_dim);
  }
  const int32_t first = argmax(p.logits);
  std::vector<int> active;
  for (int s = 0; s < S; ++s) {
    if (is_stop(first)) {
      res[s].stopped = true;
      continue;
    }
    res[s].tokens.push_back(first);
    if (opt.max_new > 1) active.push_back(s);
  }
  if (active.empty()) return res;
  Decoder dec(m, p, policies, opt.max_new - 1, opt.compacted);
  std::vector<int32_t> feed;
  while (!active.empty()) {
    feed.clear();
    for (int s : active) feed.push_back(res[s].tokens.back());
    dec.extend(active, feed, 1);
    std::vector<int> next_active;
    for_each_logits_row(m, dec.hidden(), [&](int r, const float* row, int n) {
      const int s = active[r];
      const int32_t t = int32_t(std::max_element(row, row + n) - row);
      if (is_stop(t)) {
        res[s].stopped = true;
        return;
      }
      res[s].tokens.push_back(t);
      if (int(res[s].tokens.size()) < opt.max_new) next_active.push_back(s);
    });
    active.swap(next_active);
  }
  return res;
}

std::vector<LoglikResult> loglik(const Model& m, const PromptKV& p, std::span<const Policy> policies,
                                 std::span<const int32_t> answer, const DecodeOptions& opt) {
  const int S = int(policies.size()), A = int(answer.size());
  std::vector<LoglikResult> res(S);
  if (S == 0 || A == 0) return res;
  const double lp0 = log_softmax_at(p.logits.data(), int(p.logits.size()), answer[0]);
  for (int s = 0; s < S; ++s) {
    res[s].kept_tokens = policy_kept_tokens(policies[s], p.n_tokens);
    res[s].kv_bytes = kv_bytes_for(res[s].kept_tokens, p.head_dim);
    res[s].token_logp.assign(A, 0.f);
    res[s].token_logp[0] = float(lp0);
    res[s].loglik = lp0;
  }
  if (A == 1) return res;
  const int c = A - 1;
  Decoder dec(m, p, policies, c, opt.compacted);
  std::vector<int> active(S);
  std::vector<int32_t> feed(size_t(S) * c);
  for (int s = 0; s < S; ++s) {
    active[s] = s;
    std::copy_n(answer.begin(), c, feed.begin() + size_t(s) * c);
  }
  dec.extend(active, feed, c);
  for_each_logits_row(m, dec.hidden(), [&](int r, const float* row, int n) {
    const int s = r / c, i = r % c;
    const double lp = log_softmax_at(row, n, answer[i + 1]);
    res[s].token_logp[i + 1] = float(lp);
  });
  for (int s = 0; s < S; ++s) {
    double sum = 0.0;
    for (float v : res[s].token_logp) sum += v;
    res[s].loglik = sum;
  }
  return res;
}

}  // namespace cokv
