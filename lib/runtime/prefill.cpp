#include "runtime/prefill.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/parallel.h"

namespace cokv {

void ModelHeadProjection::project(int il, int h, const Mat& rows, Mat& out) const {
  const int D = m_.cfg.head_dim;
  const WeightMatrix& wo = m_.w.layers[il].wo;
  if (wo.type() == GgmlType::F32) {
    out.noalias() = rows * wo.f32().middleCols(size_t(h) * D, D).transpose();
    return;
  }
  if (decoded_layer_ != il) {  // compact weights: decode the layer's Wo once for all its heads
    wo.as_f32(decoded_);
    decoded_layer_ = il;
  }
  out.noalias() = rows * decoded_.middleCols(size_t(h) * D, D).transpose();
}

int argmax(std::span<const float> v) {
  return int(std::max_element(v.begin(), v.end()) - v.begin());
}

namespace {

using ConstStrided = Eigen::Map<const Mat, 0, Eigen::OuterStride<>>;
using Strided = Eigen::Map<Mat, 0, Eigen::OuterStride<>>;

// Causal self-attention of all query heads over the prompt, in query blocks so that the
// masked upper triangle is mostly skipped. q is pre-scaled by 1/sqrt(D).
void causal_attention(const Mat& q, const Mat& k, const Mat& v, const ModelConfig& c, Mat& out) {
  const int T = int(q.rows()), D = c.head_dim, H = c.n_heads, gs = c.group_size();
  constexpr int kBlock = 128;
  const int n_blocks = (T + kBlock - 1) / kBlock;
  out.resize(T, H * D);
  parallel_for(int64_t(H) * n_blocks, 1, [&](int64_t i0, int64_t i1, int) {
    thread_local Mat s;  // scores [block, keys]
    for (int64_t item = i0; item < i1; ++item) {
      const int h = int(item / n_blocks), b = int(item % n_blocks);
      const int r0 = b * kBlock, nr = std::min(kBlock, T - r0), n_keys = r0 + nr;
      const int g = h / gs;
      ConstStrided qh(q.data() + size_t(r0) * q.cols() + h * D, nr, D, Eigen::OuterStride<>(q.cols()));
      ConstStrided kh(k.data() + g * D, n_keys, D, Eigen::OuterStride<>(k.cols()));
      ConstStrided vh(v.data() + g * D, n_keys, D, Eigen::OuterStride<>(v.cols()));
      s.resize(nr, n_keys);
      s.noalias() = qh * kh.transpose();
      for (int i = 0; i < nr; ++i) {
        const int visible = r0 + i + 1;  // causal: keys 0..r0+i
        softmax_inplace(s.row(i).data(), visible);
        std::fill(s.row(i).data() + visible, s.row(i).data() + n_keys, 0.f);
      }
      Strided oh(out.data() + size_t(r0) * out.cols() + h * D, nr, D, Eigen::OuterStride<>(out.cols()));
      oh.noalias() = s * vh;
    }
  });
}

}  // namespace

void check_prompt(const ModelConfig& c, std::span<const int32_t> tokens) {
  const int T = int(tokens.size());
  require(T > 0, "prefill: empty prompt");
  require(T <= std::max(c.n_ctx_train, 1) * 4,
          "prefill: prompt of " + std::to_string(T) + " tokens is far beyond the model's context");
  require(c.sliding_window == 0 || T <= c.sliding_window,
          "prefill: prompt of " + std::to_string(T) + " tokens is longer than the model's sliding window (" +
              std::to_string(c.sliding_window) + "), which cokv does not implement");
  for (int32_t t : tokens)
    require(t >= 0 && t < c.n_vocab, "prefill: token id " + std::to_string(t) + " outside the vocabulary");
}

PromptKV prefill(const Model& m, std::span<const int32_t> tokens, const PrefillOptions& opt) {
  const ModelConfig& c = m.cfg;
  check_prompt(c, tokens);
  const int T = int(tokens.size());
  const int D = c.head_dim, H = c.n_heads, G = c.n_kv_heads;

  Mat x(T, c.hidden);
  for (int t = 0; t < T; ++t) m.w.tok_embd.decode_rows(tokens[t], 1, x.row(t).data());
  RopeTable rope;
  rope.build(c, T);
  std::vector<int> pos(T);
  for (int t = 0; t < T; ++t) pos[t] = t;

  PromptKV out;
  out.n_tokens = T;
  out.n_win = std::min(T, std::max(opt.n_query_rows, 0));
  out.n_kv_heads = G, out.n_heads = H, out.head_dim = D;
  if (opt.keep_kv) {
    out.k.resize(c.n_layers), out.v.resize(c.n_layers), out.q_win.resize(c.n_layers);
  }

  const ModelHeadProjection wo(m);
  Mat xn, q, k, v, attn, aq, o, gate, up;
  const float scale = 1.f / std::sqrt(float(D));
  for (int il = 0; il < c.n_layers; ++il) {
    const LayerWeights& lw = m.w.layers[il];
    qkv_block(lw, c, m.act_quant, rope, pos.data(), x, xn, q, k, v);

    if (opt.keep_kv) {
      auto& kl = out.k[il];
      auto& vl = out.v[il];
      kl.resize(size_t(G) * T * D), vl.resize(size_t(G) * T * D);
      for (int g = 0; g < G; ++g)
        for (int t = 0; t < T; ++t) {
          std::copy_n(k.row(t).data() + g * D, D, kl.data() + (size_t(g) * T + t) * D);
          std::copy_n(v.row(t).data() + g * D, D, vl.data() + (size_t(g) * T + t) * D);
        }
      auto& qw = out.q_win[il];
      const int W = out.n_win;
      qw.resize(size_t(H) * W * D);
      for (int h = 0; h < H; ++h)
        for (int i = 0; i < W; ++i)
          std::copy_n(q.row(T - W + i).data() + h * D, D, qw.data() + (size_t(h) * W + i) * D);
    }

    q *= scale;
    causal_attention(q, k, v, c, attn);
    if (m.act_quant == ActQuant::Fp32) {
      linear(attn, lw.wo, o);
    } else {
      aq = attn;  // the observer sees exact head outputs
      quantize_activations(aq, m.act_quant);
      linear(aq, lw.wo, o, Matmul::Gemm, m.act_quant);
    }
    Mat x_in, x_mid;  // copies only when observed
    if (opt.observer) x_in = x;
    x += o;
    if (opt.observer) x_mid = x;
    swiglu_block(lw, c, m.act_quant, x, xn, gate, up, o);
    if (opt.observer) opt.observer->on_layer(il, x_in, attn, x_mid, x, wo);
  }

  // Only the last position's logits are needed: the LM head is the largest matrix.
  Mat last = x.row(T - 1);
  rms_norm(last, m.w.out_norm, c.norm_eps, xn);
  quantize_activations(xn, m.act_quant);
  Mat logits;
  linear(xn, m.w.lm_head(), logits, Matmul::Gemm, m.act_quant);
  out.logits.assign(logits.data(), logits.data() + logits.size());
  return out;
}

std::vector<int32_t> greedy_reference(const Model& m, std::vector<int32_t> tokens, int max_new) {
  std::vector<int32_t> gen;
  PrefillOptions opt;
  opt.keep_kv = false;
  for (int i = 0; i < max_new; ++i) {
    PromptKV p = prefill(m, tokens, opt);
    const int32_t next = argmax(p.logits);
    gen.push_back(next);
    tokens.push_back(next);
    const auto& stop = m.tok.stop_tokens();
    if (std::find(stop.begin(), stop.end(), next) != stop.end()) break;
  }
  return gen;
}

}  // namespace cokv
