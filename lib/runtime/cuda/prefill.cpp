// The CUDA prefill (see engine.h): the full-cache forward pass over a prompt, keeping what
// ranking and decoding need. CPU twin: prefill() in runtime/prefill.cpp.
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "kernels/embed.cuh"
#include "kernels/prefill_attention.cuh"
#include "kernels/rms_norm.cuh"
#include "kernels/rope.cuh"
#include "kernels/swiglu.cuh"
#include "runtime/cuda/engine.h"
#include "runtime/prefill.h"

COKV_CUDA_BACKEND_BEGIN

namespace {

template <class Act>
uint16_t bits_of(float f) {
  return std::is_same_v<Act, f16> ? to_f16_bits(f) : to_bf16_bits(f);
}

// n values of type Act on the device -> fp32 host.
template <class Act>
void download_f32(const DeviceContext& dc, const Act* src, size_t n, float* dst) {
  if constexpr (std::is_same_v<Act, float>) {
    dc.download(dst, src, n * sizeof(float));
  } else {
    std::vector<uint16_t> bits(n);
    dc.download(bits.data(), src, n * sizeof(uint16_t));
    for (size_t i = 0; i < n; ++i) dst[i] = from_bits16(bits[i], kernels::dtype_of<Act>());
  }
}

template <class Act>
Mat download_mat(const DeviceContext& dc, const Act* src, int rows, int cols) {
  Mat m(rows, cols);
  download_f32(dc, src, size_t(rows) * cols, m.data());
  return m;
}

// The observer's per-head output projection, on the device: rows [t, D] times the head's D
// columns of Wo ([E, HD]) -> [t, E]. BaKlaVa calls it a few hundred times per prompt.
template <class Act>
class DeviceHeadProjection : public HeadProjection {
 public:
  explicit DeviceHeadProjection(const DeviceModel& m) : m_(m) {}
  void project(int il, int h, const Mat& rows, Mat& out) const override {
    const Dims& d = m_.d;
    const int t = int(rows.rows());
    require(rows.cols() == d.D, "cuda backend: head projection rows must have head_dim columns");
    out.resize(t, d.E);
    if (t == 0) return;
    std::vector<uint16_t> bits(size_t(t) * d.D);
    for (size_t i = 0; i < bits.size(); ++i) bits[i] = bits_of<Act>(rows.data()[i]);
    DeviceBlock x = m_.dc.block(bits.size() * sizeof(uint16_t), "a head projection's rows");
    DeviceBlock y = m_.dc.block(size_t(t) * d.E * sizeof(float), "a head projection's output");
    m_.dc.upload(x.as<void>(), bits.data(), bits.size() * sizeof(uint16_t));
    gemm(m_, x.as<void>(), d.D, m_.w.layers[il].wo.columns(h * d.D, d.D), y.as<void>(), DType::F32, d.E, t, false);
    m_.dc.download(out.data(), y.as<void>(), size_t(t) * d.E * sizeof(float));
  }

 private:
  const DeviceModel& m_;
};

}  // namespace

template <class Act>
std::unique_ptr<CudaState> prefill(const DeviceModel& m, std::span<const int32_t> tokens, const PrefillOptions& opt) {
  const ModelConfig& c = m.cfg;
  const Dims& d = m.d;
  const DeviceContext& dc = m.dc;
  const cudaStream_t st = dc.stream;
  check_prompt(c, tokens);
  const int T = int(tokens.size()), W = std::min(T, std::max(opt.n_query_rows, 0));
  const bool keep = opt.keep_kv;
  const size_t eb = sizeof(Act);

  auto s = std::make_unique<CudaState>();
  s->owner = &m, s->counters = m.counters;
  s->T = T, s->W = W, s->has_kv = keep;
  if (keep) {
    s->k = dc.block(size_t(d.L) * T * d.GD * eb, "the prompt's keys");
    s->v = dc.block(size_t(d.L) * T * d.GD * eb, "the prompt's values");
    s->q_win = dc.block(size_t(d.L) * W * d.HD * eb, "the window's queries");
    s->lse_win = dc.block(size_t(d.L) * d.H * W * sizeof(float), "the window's log-sum-exp");
  }

  // Scratch of this call (returned to the arena at the end).
  const int mlp_rows = std::min(T, kPrefillMlpRows);
  DeviceBlock tok = dc.block(size_t(T) * 4, "prefill token ids"), pos = dc.block(size_t(T) * 4, "prefill positions");
  DeviceBlock cs = dc.block(size_t(2) * T * d.P * sizeof(float), "prefill RoPE tables");
  DeviceBlock x = dc.block(size_t(T) * d.E * sizeof(float), "prefill residual");
  DeviceBlock xn = dc.block(size_t(T) * d.E * eb, "prefill normed rows");
  DeviceBlock qkv = dc.block(size_t(T) * d.QKVD * eb, "prefill Q|K|V");
  DeviceBlock attn = dc.block(size_t(T) * d.HD * eb, "prefill attention output");
  DeviceBlock lse = keep && W ? dc.block(size_t(d.H) * T * sizeof(float), "prefill log-sum-exp") : DeviceBlock();
  DeviceBlock gu = dc.block(size_t(mlp_rows) * 2 * d.F * eb, "prefill gate|up");
  DeviceBlock hh = dc.block(size_t(mlp_rows) * d.F * eb, "prefill SwiGLU output");
  DeviceBlock logits = dc.block(size_t(d.V) * sizeof(float), "prefill logits");

  std::vector<int32_t> positions(T);
  std::iota(positions.begin(), positions.end(), 0);
  dc.upload(tok.as<int32_t>(), tokens);
  dc.upload(pos.as<int32_t>(), std::span<const int32_t>(positions));
  float* cosv = cs.as<float>();
  float* sinv = cosv + size_t(T) * d.P;
  float* xr = x.as<float>();
  Act *xnr = xn.as<Act>(), *q = qkv.as<Act>(), *at = attn.as<Act>(), *gur = gu.as<Act>(), *hr = hh.as<Act>();
  const Act* k = q + d.HD;
  const Act* v = q + d.HD + d.GD;
  const DType type = m.w.type;

  kernels::embed<Act>(static_cast<const Act*>(m.w.tok_embd.p), d.E, d.V, tok.as<int32_t>(), T, d.E, xr, d.E, st);
  kernels::rope_cache(pos.as<int32_t>(), T, m.w.inv_freq, d.P, cosv, sinv, st);
  const auto pairs = c.rope_style == RopeStyle::Norm ? kernels::RopePairs::Adjacent : kernels::RopePairs::HalfSplit;
  const float scale = 1.f / std::sqrt(float(d.D));
  const DeviceHeadProjection<Act> projection(m);
  Mat x_in, heads, x_mid, x_out;  // the observer's copies

  for (int il = 0; il < d.L; ++il) {
    const DeviceLayer& lw = m.w.layers[il];
    if (opt.observer) x_in = download_mat(dc, xr, T, d.E);
    kernels::rms_norm<Act>(xr, d.E, lw.attn_norm, xnr, d.E, T, d.E, c.norm_eps, st);
    gemm(m, xnr, d.E, lw.wqkv, q, type, d.QKVD, T, false, lw.bqkv);
    // q's H heads and k's G heads are adjacent in a row: one rotation for both.
    kernels::rope<Act>(q, d.QKVD, T, d.H + d.G, d.D, c.rope_dim, pairs, cosv, sinv, st);
    if (keep) {
      const size_t kv_off = size_t(il) * T * d.GD;
      dc.copy_2d(s->k.as<Act>() + kv_off, d.GD * eb, k, d.QKVD * eb, d.GD * eb, T);
      dc.copy_2d(s->v.as<Act>() + kv_off, d.GD * eb, v, d.QKVD * eb, d.GD * eb, T);
      dc.copy_2d(s->q_win.as<Act>() + size_t(il) * W * d.HD, d.HD * eb, q + size_t(T - W) * d.QKVD, d.QKVD * eb,
                 d.HD * eb, W);
    }
    kernels::prefill_attention<Act>(q, d.QKVD, k, d.QKVD, v, d.QKVD, at, d.HD, lse.as<float>(), T, d.H, d.G, d.D,
                                  scale, st);
    if (keep && W)  // rows T-W .. T-1 of every head's [T] log-sum-exp
      dc.copy_2d(s->lse_win.as<float>() + size_t(il) * d.H * W, W * sizeof(float), lse.as<float>() + (T - W),
                 size_t(T) * sizeof(float), W * sizeof(float), d.H);
    if (opt.observer) heads = download_mat(dc, at, T, d.HD);
    gemm(m, at, d.HD, lw.wo, xr, DType::F32, d.E, T, true);
    if (opt.observer) x_mid = download_mat(dc, xr, T, d.E);
    for (int r0 = 0; r0 < T; r0 += mlp_rows) {
      const int n = std::min(mlp_rows, T - r0);
      float* xb = xr + size_t(r0) * d.E;
      kernels::rms_norm<Act>(xb, d.E, lw.ffn_norm, xnr, d.E, n, d.E, c.norm_eps, st);
      gemm(m, xnr, d.E, lw.wgu, gur, type, 2 * d.F, n, false);
      kernels::swiglu<Act>(gur, 2 * d.F, gur + d.F, 2 * d.F, hr, d.F, n, d.F, st);
      gemm(m, hr, d.F, lw.wdown, xb, DType::F32, d.E, n, true);
    }
    if (opt.observer) {
      x_out = download_mat(dc, xr, T, d.E);
      opt.observer->on_layer(il, x_in, heads, x_mid, x_out, projection);
    }
  }

  // Only the last position's logits are needed: the LM head is the largest matrix.
  kernels::rms_norm<Act>(xr + size_t(T - 1) * d.E, d.E, m.w.out_norm, xnr, d.E, 1, d.E, c.norm_eps, st);
  gemm(m, xnr, d.E, m.w.lm_head, logits.as<float>(), DType::F32, d.V, 1, false);
  s->logits.resize(d.V);
  dc.download(s->logits.data(), logits.as<float>(), size_t(d.V) * sizeof(float));
  s->count(s->k.bytes() + s->v.bytes() + s->q_win.bytes() + s->lse_win.bytes() + s->logits.size() * sizeof(float));
  return s;
}

template std::unique_ptr<CudaState> prefill<bf16>(const DeviceModel&, std::span<const int32_t>,
                                                  const PrefillOptions&);
template std::unique_ptr<CudaState> prefill<f16>(const DeviceModel&, std::span<const int32_t>, const PrefillOptions&);

COKV_CUDA_BACKEND_END
