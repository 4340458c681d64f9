#include "runtime/batch_decode.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "runtime/ops.h"

namespace cokv {

int64_t policy_kept_tokens(const Policy& pol, int n_tokens) {
  int64_t n = 0;
  for (int32_t b : pol.budget.keep) n += kept_count(b, n_tokens, pol.ranking ? pol.ranking->window : pol.window);
  return n;
}

size_t kv_bytes_for(int64_t kept_tokens, int head_dim) {
  return size_t(kept_tokens) * 2 * size_t(head_dim) * sizeof(float);
}

namespace {

// Dot product and axpy over one head vector; fixed sizes let Eigen unroll and vectorise.
template <int D>
struct HeadOps {
  using V = Eigen::Matrix<float, D, 1>;
  static float dot(const float* a, const float* b, int) { return Eigen::Map<const V>(a).dot(Eigen::Map<const V>(b)); }
  static void axpy(float s, const float* x, float* y, int) { Eigen::Map<V>(y) += s * Eigen::Map<const V>(x); }
};
template <>
struct HeadOps<Eigen::Dynamic> {
  using V = Eigen::VectorXf;
  static float dot(const float* a, const float* b, int d) { return Eigen::Map<const V>(a, d).dot(Eigen::Map<const V>(b, d)); }
  static void axpy(float s, const float* x, float* y, int d) { Eigen::Map<V>(y, d) += s * Eigen::Map<const V>(x, d); }
};

class Decoder {
 public:
  Decoder(const Model& m, const PromptKV& p, std::span<const Policy> pols, int capacity, bool compacted)
      : m_(m), p_(p), c_(m.cfg), S_(int(pols.size())), cap_(std::max(capacity, 1)), compacted_(compacted) {
    const int L = c_.n_layers, G = c_.n_kv_heads, D = c_.head_dim, T = p.n_tokens;
    require(int(p.k.size()) == L, "decode: prompt state has no K/V (prefill with keep_kv)");
    const size_t LG = size_t(L) * G;
    // Kept positions of every (policy, layer, head), ascending, in one flat array.
    idx_off_.assign(size_t(S_) * LG + 1, 0);
    zero_.assign(size_t(S_) * LG, 0);
    std::vector<int32_t> kept;
    static const std::vector<int32_t> no_order;
    for (int s = 0; s < S_; ++s) {
      const Policy& pol = pols[s];
      require(pol.budget.keep.size() == LG, "decode: policy " + std::to_string(s) + " has " +
                                                std::to_string(pol.budget.keep.size()) + " budgets, model has " +
                                                std::to_string(LG) + " KV heads");
      if (pol.ranking)
        require(pol.ranking->n_tokens == T && pol.ranking->heads.size() == LG,
                "decode: policy " + std::to_string(s) + " ranking was made for another prompt");
      const int window = pol.ranking ? pol.ranking->window : std::min(pol.window, T);
      for (size_t h = 0; h < LG; ++h) {
        const int32_t b = pol.budget.keep[h];
        const bool needs_ranking = b != kKeepAll && b != kZeroHead && b < T && b > window;
        require(!needs_ranking || pol.ranking, "decode: policy " + std::to_string(s) +
                                                   " keeps ranked tokens but has no ranking");
        kept_positions(b, T, window, pol.ranking ? std::span<const int32_t>(pol.ranking->heads[h].order)
                                                 : std::span<const int32_t>(no_order),
                       kept);
        zero_[s * LG + h] = b == kZeroHead;
        idx_.insert(idx_.end(), kept.begin(), kept.end());
        idx_off_[s * LG + h + 1] = int64_t(idx_.size());
      }
    }
    if (compacted_) build_compacted();
    gk_.assign(L, std::vector<float>(size_t(S_) * G * cap_ * D));
    gv_.assign(L, std::vector<float>(size_t(S_) * G * cap_ * D));
    n_done_.assign(S_, 0);
    rope_.build(c_, T + cap_ + 1);
    int max_kept = 0;
    for (size_t i = 0; i + 1 < idx_off_.size(); ++i) max_kept = std::max<int>(max_kept, int(idx_off_[i + 1] - idx_off_[i]));
    scratch_.assign(omp_get_max_threads(), std::vector<float>(size_t(c_.group_size()) * (max_kept + cap_)));
  }

  // Feeds c tokens to each sequence in `active` (tokens laid out [active][c]); afterwards
  // hidden() holds the final-normed rows [active*c, E] in the same order.
  void extend(const std::vector<int>& active, std::span<const int32_t> tokens, int c) {
    const int Ka = int(active.size()), rows = Ka * c, D = c_.head_dim, G = c_.n_kv_heads;
    for (int s : active) require(n_done_[s] + c <= cap_, "decode: sequence capacity exceeded");
    x_.resize(rows, c_.hidden);
    pos_.resize(rows);
    for (int r = 0; r < rows; ++r) {
      const int32_t t = tokens[r];
      require(t >= 0 && t < c_.n_vocab, "decode: token id " + std::to_string(t) + " outside the vocabulary");
      x_.row(r) = m_.w.tok_embd.row(t);
      pos_[r] = p_.n_tokens + n_done_[active[r / c]] + r % c;
    }
    for (int il = 0; il < c_.n_layers; ++il) {
      const LayerWeights& lw = m_.w.layers[il];
      qkv_block(lw, c_, m_.act_quant, rope_, pos_.data(), x_, xn_, q_, k_, v_);
      for (int r = 0; r < rows; ++r) {
        const int s = active[r / c], t = n_done_[s] + r % c;
        for (int g = 0; g < G; ++g) {
          std::copy_n(k_.row(r).data() + g * D, D, gen_row(gk_[il], s, g, t));
          std::copy_n(v_.row(r).data() + g * D, D, gen_row(gv_[il], s, g, t));
        }
      }
      switch (D) {
        case 64: attention<64>(il, active, c); break;
        case 128: attention<128>(il, active, c); break;
        default: attention<Eigen::Dynamic>(il, active, c); break;
      }
      quantize_activations(attn_, m_.act_quant);
      linear(attn_, lw.wo, o_);
      x_ += o_;
      swiglu_block(lw, c_, m_.act_quant, x_, xn_, gate_, up_, o_);
    }
    for (int s : active) n_done_[s] += c;
    rms_norm(x_, m_.w.out_norm, c_.norm_eps, hidden_);
    quantize_activations(hidden_, m_.act_quant);  // the LM head's input
  }

  const Mat& hidden() const { return hidden_; }

 private:
  float* gen_row(std::vector<float>& buf, int s, int g, int t) {
    return buf.data() + ((size_t(s) * c_.n_kv_heads + g) * cap_ + t) * c_.head_dim;
  }

  void build_compacted() {
    const int L = c_.n_layers, G = c_.n_kv_heads, D = c_.head_dim;
    const size_t LG = size_t(L) * G;
    ck_.assign(L, {}), cv_.assign(L, {});
    comp_off_.assign(size_t(S_) * LG, 0);
    for (int il = 0; il < L; ++il) {
      int64_t rows = 0;
      for (int s = 0; s < S_; ++s)
        for (int g = 0; g < G; ++g) {
          const size_t h = s * LG + size_t(il) * G + g;
          comp_off_[h] = rows;
          rows += idx_off_[h + 1] - idx_off_[h];
        }
      ck_[il].resize(size_t(rows) * D), cv_[il].resize(size_t(rows) * D);
#pragma omp parallel for collapse(2)
      for (int s = 0; s < S_; ++s)
        for (int g = 0; g < G; ++g) {
          const size_t h = s * LG + size_t(il) * G + g;
          const float* k = p_.k_head(il, g);
          const float* v = p_.v_head(il, g);
          for (int64_t j = idx_off_[h]; j < idx_off_[h + 1]; ++j) {
            const int64_t dst = comp_off_[h] + (j - idx_off_[h]);
            std::copy_n(k + size_t(idx_[j]) * D, D, ck_[il].data() + dst * D);
            std::copy_n(v + size_t(idx_[j]) * D, D, cv_[il].data() + dst * D);
          }
        }
    }
    // The compacted cache is now the only copy the decoder reads from the prompt.
  }

  // out[row, h*D..] = softmax(q_h . [kept prompt keys ; own generated keys] / sqrt(D)) V.
  template <int DT>
  void attention(int il, const std::vector<int>& active, int c) {
    using Ops = HeadOps<DT>;
    const int Ka = int(active.size()), G = c_.n_kv_heads, D = c_.head_dim, gs = c_.group_size();
    const size_t LG = size_t(c_.n_layers) * G;
    const float scale = 1.f / std::sqrt(float(D));
    attn_.resize(Ka * c, c_.n_heads * D);
#pragma omp parallel for schedule(dynamic)
    for (int u = 0; u < Ka * G * c; ++u) {
      const int a = u / (G * c), g = (u / c) % G, i = u % c;
      const int s = active[a], row = a * c + i;
      const size_t h = s * LG + size_t(il) * G + g;
      float* out = attn_.row(row).data() + size_t(g) * gs * D;
      if (zero_[h]) {
        std::fill_n(out, gs * D, 0.f);
        continue;
      }
      const int n_p = int(idx_off_[h + 1] - idx_off_[h]);
      const int n_g = n_done_[s] + i + 1;  // own tokens visible to this row (causal)
      const int n = n_p + n_g;
      float* sc = scratch_[omp_get_thread_num()].data();
      const float* q = q_.row(row).data() + size_t(g) * gs * D;
      const int32_t* idx = idx_.data() + idx_off_[h];
      const float* pk = compacted_ ? ck_[il].data() + comp_off_[h] * D : p_.k_head(il, g);
      const float* pv = compacted_ ? cv_[il].data() + comp_off_[h] * D : p_.v_head(il, g);
      auto prompt_row = [&](const float* base, int j) {
        return base + size_t(compacted_ ? j : idx[j]) * D;
      };
      for (int j = 0; j < n_p; ++j) {
        const float* kr = prompt_row(pk, j);
        for (int e = 0; e < gs; ++e) sc[e * n + j] = Ops::dot(q + e * D, kr, D) * scale;
      }
      for (int t = 0; t < n_g; ++t) {
        const float* kr = gen_row(gk_[il], s, g, t);
        for (int e = 0; e < gs; ++e) sc[e * n + n_p + t] = Ops::dot(q + e * D, kr, D) * scale;
      }
      for (int e = 0; e < gs; ++e) softmax_inplace(sc + e * n, n);
      std::fill_n(out, gs * D, 0.f);
      for (int j = 0; j < n_p; ++j) {
        const float* vr = prompt_row(pv, j);
        for (int e = 0; e < gs; ++e) Ops::axpy(sc[e * n + j], vr, out + e * D, D);
      }
      for (int t = 0; t < n_g; ++t) {
        const float* vr = gen_row(gv_[il], s, g, t);
        for (int e = 0; e < gs; ++e) Ops::axpy(sc[e * n + n_p + t], vr, out + e * D, D);
      }
    }
  }

  const Model& m_;
  const PromptKV& p_;
  const ModelConfig& c_;
  const int S_, cap_;
  const bool compacted_;
  std::vector<int32_t> idx_;                 // kept prompt positions, all (policy, head) lists
  std::vector<int64_t> idx_off_;             // [S*L*G + 1] offsets into idx_
  std::vector<uint8_t> zero_;                // [S*L*G] head output zeroed (ablation)
  std::vector<std::vector<float>> ck_, cv_;  // compacted: [L][sum kept * D]
  std::vector<int64_t> comp_off_;            // compacted: [S*L*G] row offset within the layer
  std::vector<std::vector<float>> gk_, gv_;  // generated K/V: [L][S*G*cap*D]
  std::vector<int> n_done_;                  // [S] tokens fed per sequence
  RopeTable rope_;
  std::vector<std::vector<float>> scratch_;  // per thread: scores [gs * (max kept + cap)]
  std::vector<int> pos_;
  Mat x_, xn_, q_, k_, v_, attn_, o_, gate_, up_, hidden_;
};

// Rows of logits for hidden states, a block at a time so memory stays bounded.
template <class F>
void for_each_logits_row(const Model& m, const Mat& hidden, F&& f) {
  constexpr int kBlock = 64;
  Mat logits;
  for (Eigen::Index r0 = 0; r0 < hidden.rows(); r0 += kBlock) {
    const Eigen::Index nr = std::min<Eigen::Index>(kBlock, hidden.rows() - r0);
    logits.noalias() = hidden.middleRows(r0, nr) * m.w.lm_head().transpose();
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
