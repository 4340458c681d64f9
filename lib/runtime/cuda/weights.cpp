#include "runtime/cuda/weights.h"

#include <cmath>

#include "core/error.h"

COKV_CUDA_BACKEND_BEGIN

Dims::Dims(const ModelConfig& c)
    : L(c.n_layers), H(c.n_heads), G(c.n_kv_heads), D(c.head_dim), E(c.hidden), F(c.ffn), V(c.n_vocab),
      P(c.rope_dim / 2) {
  HD = H * D, GD = G * D, QKVD = HD + 2 * GD, gs = G > 0 ? H / G : 0;
}

DeviceMatrix DeviceMatrix::columns(int c0, int n) const {
  DeviceMatrix m = *this;
  m.p = static_cast<const char*>(p) + size_t(c0) * kernels::dtype_bytes(type);
  m.cols = n;
  return m;
}

std::vector<double> rope_inv_freq(const ModelConfig& c) {
  std::vector<double> f(c.rope_dim / 2);
  require(c.rope_freq_factors.empty() || c.rope_freq_factors.size() == f.size(),
          "rope: " + std::to_string(c.rope_freq_factors.size()) + " frequency factors for " +
              std::to_string(f.size()) + " rotated pairs");
  for (int i = 0; i < int(f.size()); ++i) {
    f[i] = std::pow(double(c.rope_base), -2.0 * i / double(c.rope_dim));
    if (!c.rope_freq_factors.empty()) f[i] /= double(c.rope_freq_factors[i]);  // Llama-3.1 scaling
  }
  return f;
}

namespace {

// Writes rows [r0, r0 + n) of some matrix, fp32, into dst [n, cols].
using RowFill = std::function<void(int64_t r0, int64_t n, float* dst)>;

// Lays tensors out in one block (256-byte aligned each) and uploads them through a staging
// buffer of a few MiB, converting to the matrices' 16-bit type on the way.
class Uploader {
 public:
  Uploader(const DeviceContext& dc, DType type) : dc_(dc), type_(type) {}

  // Pass 1: reserve room; returns the offset.
  size_t add(size_t bytes) {
    const size_t at = total_;
    total_ += ArenaAllocator::round_up(bytes);
    return at;
  }
  size_t matrix(int rows, int cols) { return add(size_t(rows) * cols * kernels::dtype_bytes(type_)); }
  size_t floats(size_t n) { return add(n * sizeof(float)); }

  // Pass 2: one block for everything, then the contents.
  void allocate() {
    dc_.arena->reserve(total_, "the model's weights");
    block_ = dc_.block(total_, "the model's weights");
  }
  char* at(size_t offset) const { return block_.as<char>() + offset; }
  DeviceMatrix view(size_t offset, int rows, int cols) const { return {at(offset), type_, rows, cols, cols}; }

  // Rows [0, rows) of a matrix from `fill`, written at row `row0` of the matrix at `offset`.
  void rows(size_t offset, int64_t row0, int64_t rows, int64_t cols, const RowFill& fill) {
    const int64_t chunk = std::max<int64_t>(1, (int64_t(4) << 20) / cols);  // ~16 MiB of fp32
    const size_t eb = kernels::dtype_bytes(type_);
    for (int64_t r = 0; r < rows; r += chunk) {
      const int64_t n = std::min(chunk, rows - r);
      f32_.resize(size_t(n * cols));
      bits_.resize(f32_.size());
      fill(r, n, f32_.data());
      const bool f16 = type_ == DType::F16;
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < int64_t(f32_.size()); ++i)
        bits_[i] = f16 ? to_f16_bits(f32_[i]) : to_bf16_bits(f32_[i]);
      dc_.upload(at(offset) + size_t(row0 + r) * cols * eb, bits_.data(), bits_.size() * eb);
      dc_.sync();  // the staging buffers are refilled next
    }
  }
  void vector(size_t offset, const float* v, size_t n) { dc_.upload(at(offset), v, n * sizeof(float)); }
  DeviceBlock take() { return std::move(block_); }
  size_t total() const { return total_; }

 private:
  const DeviceContext& dc_;
  DType type_;
  size_t total_ = 0;
  DeviceBlock block_;
  std::vector<float> f32_;
  std::vector<uint16_t> bits_;
};

// Rows of a host matrix decoded to fp32 (exact for the F16 and BF16 the loader keeps).
RowFill rows_of(const WeightMatrix& m) {
  return [&m](int64_t r0, int64_t n, float* dst) { m.decode_rows(r0, n, dst); };
}

// Where each tensor goes (pass 1 of the Uploader), shared by the file and the random model.
struct Layout {
  size_t tok_embd = 0, lm_head = 0, out_norm = 0, inv_freq = 0;
  struct LayerAt {
    size_t attn_norm, wqkv, bqkv, wo, ffn_norm, wgu, wdown;
  };
  std::vector<LayerAt> layers;
};

Layout plan(Uploader& up, const ModelConfig& c, const Dims& d, bool tied) {
  Layout at;
  at.tok_embd = up.matrix(d.V, d.E);
  at.lm_head = tied ? at.tok_embd : up.matrix(d.V, d.E);
  at.out_norm = up.floats(d.E);
  at.inv_freq = up.add(sizeof(double) * d.P);
  for (int il = 0; il < d.L; ++il)
    at.layers.push_back({up.floats(d.E), up.matrix(d.QKVD, d.E), c.qkv_bias ? up.floats(d.QKVD) : 0,
                         up.matrix(d.E, d.HD), up.floats(d.E), up.matrix(2 * d.F, d.E), up.matrix(d.E, d.F)});
  return at;
}

DeviceWeights views(const Uploader& up, const Layout& at, const ModelConfig& c, const Dims& d, DType type) {
  DeviceWeights w;
  w.type = type;
  w.tok_embd = up.view(at.tok_embd, d.V, d.E);
  w.lm_head = up.view(at.lm_head, d.V, d.E);
  w.out_norm = reinterpret_cast<const float*>(up.at(at.out_norm));
  w.inv_freq = reinterpret_cast<const double*>(up.at(at.inv_freq));
  for (const auto& l : at.layers) {
    DeviceLayer dl;
    dl.attn_norm = reinterpret_cast<const float*>(up.at(l.attn_norm));
    dl.wqkv = up.view(l.wqkv, d.QKVD, d.E);
    dl.bqkv = c.qkv_bias ? reinterpret_cast<const float*>(up.at(l.bqkv)) : nullptr;
    dl.wo = up.view(l.wo, d.E, d.HD);
    dl.ffn_norm = reinterpret_cast<const float*>(up.at(l.ffn_norm));
    dl.wgu = up.view(l.wgu, 2 * d.F, d.E);
    dl.wdown = up.view(l.wdown, d.E, d.F);
    w.layers.push_back(dl);
  }
  w.bytes = up.total();
  return w;
}

void upload_inv_freq(Uploader& up, const Layout& at, const ModelConfig& c, const DeviceContext& dc) {
  const std::vector<double> f = rope_inv_freq(c);
  dc.upload(up.at(at.inv_freq), f.data(), f.size() * sizeof(double));
}

// A counter-based uniform in [-a, a) for element i of tensor t (splitmix64).
float uniform(uint64_t t, uint64_t i, float a) {
  uint64_t x = (t << 40) ^ i;
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  return (float(x >> 40) * 0x1p-24f * 2.f - 1.f) * a;
}

RowFill random_rows(uint64_t tensor, int64_t cols, float a) {
  return [=](int64_t r0, int64_t n, float* dst) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < cols; ++j) dst[r * cols + j] = uniform(tensor, uint64_t((r0 + r) * cols + j), a);
  };
}

}  // namespace

DType device_type(const Weights& w) {
  bool f16 = w.tok_embd.type() == GgmlType::F16 && (w.output.empty() || w.output.type() == GgmlType::F16);
  for (const LayerWeights& l : w.layers)
    for (const WeightMatrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      f16 = f16 && m->type() == GgmlType::F16;
  return f16 ? DType::F16 : DType::BF16;
}

DeviceWeights upload_weights(const Weights& w, const ModelConfig& c, DType type, const DeviceContext& dc) {
  const Dims d(c);
  Uploader up(dc, type);
  const bool tied = w.output.empty();
  const Layout at = plan(up, c, d, tied);
  up.allocate();
  up.rows(at.tok_embd, 0, d.V, d.E, rows_of(w.tok_embd));
  if (!tied) up.rows(at.lm_head, 0, d.V, d.E, rows_of(w.output));
  up.vector(at.out_norm, w.out_norm.data(), d.E);
  upload_inv_freq(up, at, c, dc);
  for (int il = 0; il < d.L; ++il) {
    const LayerWeights& lw = w.layers[il];
    const auto& l = at.layers[il];
    up.vector(l.attn_norm, lw.attn_norm.data(), d.E);
    up.rows(l.wqkv, 0, d.HD, d.E, rows_of(lw.wq));
    up.rows(l.wqkv, d.HD, d.GD, d.E, rows_of(lw.wk));
    up.rows(l.wqkv, d.HD + d.GD, d.GD, d.E, rows_of(lw.wv));
    if (c.qkv_bias) {
      std::vector<float> b(d.QKVD);
      std::copy_n(lw.bq.data(), d.HD, b.data());
      std::copy_n(lw.bk.data(), d.GD, b.data() + d.HD);
      std::copy_n(lw.bv.data(), d.GD, b.data() + d.HD + d.GD);
      up.vector(l.bqkv, b.data(), b.size());
    }
    up.rows(l.wo, 0, d.E, d.HD, rows_of(lw.wo));
    up.vector(l.ffn_norm, lw.ffn_norm.data(), d.E);
    up.rows(l.wgu, 0, d.F, d.E, rows_of(lw.w_gate));
    up.rows(l.wgu, d.F, d.F, d.E, rows_of(lw.w_up));
    up.rows(l.wdown, 0, d.E, d.F, rows_of(lw.w_down));
  }
  dc.sync();
  DeviceWeights dw = views(up, at, c, d, type);
  dw.storage = up.take();
  return dw;
}

DeviceWeights random_weights(const ModelConfig& c, DType type, const DeviceContext& dc) {
  const Dims d(c);
  Uploader up(dc, type);
  const bool tied = c.tied_embeddings;
  const Layout at = plan(up, c, d, tied);
  up.allocate();
  uint64_t tensor = 1;
  auto fan_in = [](int k) { return std::sqrt(3.f / float(k)); };
  up.rows(at.tok_embd, 0, d.V, d.E, random_rows(tensor++, d.E, 1.f));
  if (!tied) up.rows(at.lm_head, 0, d.V, d.E, random_rows(tensor++, d.E, fan_in(d.E)));
  const std::vector<float> ones(std::max(d.E, d.QKVD), 1.f), zeros(d.QKVD, 0.f);
  up.vector(at.out_norm, ones.data(), d.E);
  upload_inv_freq(up, at, c, dc);
  for (int il = 0; il < d.L; ++il) {
    const auto& l = at.layers[il];
    up.vector(l.attn_norm, ones.data(), d.E);
    up.rows(l.wqkv, 0, d.QKVD, d.E, random_rows(tensor++, d.E, fan_in(d.E)));
    if (c.qkv_bias) up.vector(l.bqkv, zeros.data(), d.QKVD);
    up.rows(l.wo, 0, d.E, d.HD, random_rows(tensor++, d.HD, fan_in(d.HD)));
    up.vector(l.ffn_norm, ones.data(), d.E);
    up.rows(l.wgu, 0, 2 * d.F, d.E, random_rows(tensor++, d.E, fan_in(d.E)));
    up.rows(l.wdown, 0, d.E, d.F, random_rows(tensor++, d.F, fan_in(d.F)));
  }
  dc.sync();
  DeviceWeights dw = views(up, at, c, d, type);
  dw.storage = up.take();
  return dw;
}

COKV_CUDA_BACKEND_END
