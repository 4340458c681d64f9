#include "runtime/ops.h"

#include <algorithm>
#include <cstring>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "core/error.h"
#include "core/parallel.h"
#include "model/dequant.h"
#include "runtime/q8_linear.h"

namespace cokv {

namespace {
// Row-wise elementwise steps (norms, RoPE, rounding) split into tasks of this many rows: a few
// microseconds each, and one task (no threads woken) for a decode step's few rows.
constexpr int64_t kRowsPerTask = 16;
}  // namespace

void rms_norm(const Mat& x, const Vec& g, float eps, Mat& y) {
  y.resize(x.rows(), x.cols());
  const Eigen::Index n = x.cols();
  parallel_for(x.rows(), kRowsPerTask, [&](int64_t r0, int64_t r1, int) {
    for (Eigen::Index r = r0; r < r1; ++r) {
      const float ms = x.row(r).squaredNorm() / float(n);
      const float s = 1.f / std::sqrt(ms + eps);
      y.row(r) = (x.row(r).array() * s) * g.transpose().array();
    }
  });
}

void quantize_activations(Mat& x, ActQuant q) {
  if (q == ActQuant::Fp32) return;
  const Eigen::Index n_blocks = x.cols() / 32;  // ggml rows are whole blocks
  parallel_for(x.rows(), kRowsPerTask, [&](int64_t r0, int64_t r1, int) {
    for (Eigen::Index r = r0; r < r1; ++r)
      for (Eigen::Index b = 0; b < n_blocks; ++b) {
        float* v = x.row(r).data() + b * 32;
        float amax = 0.f;
        for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(v[i]));
        // As ggml's x86 quantize_row_q8_0/q8_1: id = 127/amax (not 1/d, which flips some
        // roundings), and the products use d as stored, in fp16.
        const float id = amax != 0.f ? 127.f / amax : 0.f;
        const float d = fp16_to_fp32(fp32_to_fp16(amax / 127.f));
        for (int i = 0; i < 32; ++i) v[i] = std::nearbyint(v[i] * id) * d;
      }
  });
}

void round_kv(Mat& x, ActQuant q) {
  if (q == ActQuant::Fp32) return;
  float* v = x.data();
  for (Eigen::Index i = 0; i < x.size(); ++i) v[i] = fp16_to_fp32(fp32_to_fp16(v[i]));
}

void RopeTable::build(const ModelConfig& cfg, int n_pos) {
  rope_dim = cfg.rope_dim;
  style = cfg.rope_style;
  const int half = rope_dim / 2;
  require(cfg.rope_freq_factors.empty() || int(cfg.rope_freq_factors.size()) == half,
          "rope: " + std::to_string(cfg.rope_freq_factors.size()) + " frequency factors for " + std::to_string(half) +
              " rotated pairs");
  // theta_i = p * base^(-2i/d) / factor_i (factor_i: Llama-3.1 scaling, else 1), in double as
  // llama.cpp's reference does in float powers; double keeps long positions accurate.
  std::vector<double> inv_freq(half);
  for (int i = 0; i < half; ++i) {
    inv_freq[i] = std::pow(double(cfg.rope_base), -2.0 * i / double(rope_dim));
    if (!cfg.rope_freq_factors.empty()) inv_freq[i] /= double(cfg.rope_freq_factors[i]);
  }
  cos.resize(size_t(n_pos) * half);
  sin.resize(size_t(n_pos) * half);
  for (int p = 0; p < n_pos; ++p)
    for (int i = 0; i < half; ++i) {
      const double theta = double(p) * inv_freq[i];
      cos[size_t(p) * half + i] = float(std::cos(theta));
      sin[size_t(p) * half + i] = float(std::sin(theta));
    }
}

void rope_apply(const RopeTable& t, float* x, int pos) {
  const int half = t.rope_dim / 2;
  require(pos >= 0 && pos < t.n_pos(), "rope: position " + std::to_string(pos) + " beyond table");
  const float* c = &t.cos[size_t(pos) * half];
  const float* s = &t.sin[size_t(pos) * half];
  if (t.style == RopeStyle::Norm) {
    for (int i = 0; i < half; ++i) {
      const float a = x[2 * i], b = x[2 * i + 1];
      x[2 * i] = a * c[i] - b * s[i];
      x[2 * i + 1] = a * s[i] + b * c[i];
    }
  } else {
    for (int i = 0; i < half; ++i) {
      const float a = x[i], b = x[i + half];
      x[i] = a * c[i] - b * s[i];
      x[i + half] = a * s[i] + b * c[i];
    }
  }
}

void rope_rows(const RopeTable& t, Mat& x, int n_heads, int head_dim, const int* pos) {
  parallel_for(x.rows(), kRowsPerTask, [&](int64_t r0, int64_t r1, int) {
    for (Eigen::Index r = r0; r < r1; ++r)
      for (int h = 0; h < n_heads; ++h) rope_apply(t, x.row(r).data() + size_t(h) * head_dim, pos[r]);
  });
}

namespace {

using Packet = Eigen::internal::packet_traits<float>::type;
constexpr int kLanes = Eigen::internal::unpacket_traits<Packet>::size;
using Index = Eigen::Index;

// Weight loaders: kLanes consecutive weights of a row as an fp32 packet, and one as a scalar.
// F16 and BF16 convert exactly (BF16: a 16-bit shift; F16: the F16C / AVX-512 conversion), so
// a compact matrix gives the same bits as its fp32 decoding through the same kernel.
struct LoadF32 {
  static Packet packet(const uint8_t* row, Index k) {
    return Eigen::internal::ploadu<Packet>(reinterpret_cast<const float*>(row) + k);
  }
  static float scalar(const uint8_t* row, Index k) { return reinterpret_cast<const float*>(row)[k]; }
};

inline uint16_t u16_at(const uint8_t* row, Index k) {
  uint16_t v;
  std::memcpy(&v, row + 2 * k, 2);
  return v;
}

// Fallback for SIMD widths without a direct conversion below.
template <float (*Convert)(uint16_t)>
Packet packet_via_buffer(const uint8_t* row, Index k) {
  alignas(64) float tmp[kLanes];
  for (int i = 0; i < kLanes; ++i) tmp[i] = Convert(u16_at(row, k + i));
  return Eigen::internal::pload<Packet>(tmp);
}

struct LoadBF16 {
  static Packet packet(const uint8_t* row, Index k) {
    const auto* p = row + 2 * k;
#if defined(EIGEN_VECTORIZE_AVX512)
    static_assert(kLanes == 16);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)p)), 16));
#elif defined(EIGEN_VECTORIZE_AVX2)
    static_assert(kLanes == 8);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p)), 16));
#else
    (void)p;
    return packet_via_buffer<bf16_to_fp32>(row, k);
#endif
  }
  static float scalar(const uint8_t* row, Index k) { return bf16_to_fp32(u16_at(row, k)); }
};

struct LoadF16 {
  static Packet packet(const uint8_t* row, Index k) {
    const auto* p = row + 2 * k;
#if defined(EIGEN_VECTORIZE_AVX512)
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)p));
#elif defined(EIGEN_VECTORIZE_AVX) && defined(__F16C__)
    static_assert(kLanes == 8);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p));
#else
    (void)p;
    return packet_via_buffer<fp16_to_fp32>(row, k);
#endif
  }
  static float scalar(const uint8_t* row, Index k) { return fp16_to_fp32(u16_at(row, k)); }
};

// ggml's block types with a direct loader: 32 weights per block, stored as an fp16 scale d
// (and, for Q4_1, an fp16 offset m) followed by the quants. A packet of kLanes (16 or 8)
// weights never straddles a block. Each value is computed as dequant.cpp decodes it, and the
// products are exact in fp32 (an 8-bit or 4-bit integer times an 11-bit scale; Q4_1's + m
// rounds once either way), so these too give the bits of the fp32 decoding.
inline float f16_at(const uint8_t* p) {
#if defined(__F16C__)
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
#else
  return fp16_to_fp32(u16_at(p, 0));
#endif
}

// Q8_0 {f16 d; i8 q[32]}: x = q * d.
struct LoadQ8_0 {
  static constexpr int kBytes = 34;
  static Packet packet(const uint8_t* row, Index k) {
    const uint8_t* blk = row + (k / 32) * kBytes;
    const uint8_t* q = blk + 2 + k % 32;
#if defined(EIGEN_VECTORIZE_AVX512)
    const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)q)));
    return _mm512_mul_ps(v, _mm512_set1_ps(f16_at(blk)));
#elif defined(EIGEN_VECTORIZE_AVX2)
    const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)q)));
    return _mm256_mul_ps(v, _mm256_set1_ps(f16_at(blk)));
#else
    alignas(64) float tmp[kLanes];
    for (int i = 0; i < kLanes; ++i) tmp[i] = scalar(row, k + i);
    return Eigen::internal::pload<Packet>(tmp);
#endif
  }
  static float scalar(const uint8_t* row, Index k) {
    const uint8_t* blk = row + (k / 32) * kBytes;
    return float(int8_t(blk[2 + k % 32])) * f16_at(blk);
  }
};

// Q4_0 {f16 d; u8 q[16]}: x = (q - 8) * d, and Q4_1 {f16 d, m; u8 q[16]}: x = q * d + m, with
// weight j < 16 in the low nibble of byte j and weight j + 16 in its high nibble.
template <bool kHasMin>
struct LoadQ4 {
  static constexpr int kHead = kHasMin ? 4 : 2, kBytes = kHead + 16;
  static Packet packet(const uint8_t* row, Index k) {
    const uint8_t* blk = row + (k / 32) * kBytes;
    const int off = int(k % 32);
    const float d = f16_at(blk);
#if defined(EIGEN_VECTORIZE_AVX512)
    __m128i b = _mm_loadu_si128((const __m128i*)(blk + kHead));
    if (off >= 16) b = _mm_srli_epi16(b, 4);
    __m512i q = _mm512_cvtepu8_epi32(_mm_and_si128(b, _mm_set1_epi8(0x0F)));
    if constexpr (!kHasMin) q = _mm512_sub_epi32(q, _mm512_set1_epi32(8));
    const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(q), _mm512_set1_ps(d));
    if constexpr (kHasMin) return _mm512_add_ps(v, _mm512_set1_ps(f16_at(blk + 2)));
    return v;
#elif defined(EIGEN_VECTORIZE_AVX2)
    __m128i b = _mm_loadl_epi64((const __m128i*)(blk + kHead + off % 16));
    if (off >= 16) b = _mm_srli_epi16(b, 4);
    __m256i q = _mm256_cvtepu8_epi32(_mm_and_si128(b, _mm_set1_epi8(0x0F)));
    if constexpr (!kHasMin) q = _mm256_sub_epi32(q, _mm256_set1_epi32(8));
    const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(d));
    if constexpr (kHasMin) return _mm256_add_ps(v, _mm256_set1_ps(f16_at(blk + 2)));
    return v;
#else
    (void)off, (void)d;
    alignas(64) float tmp[kLanes];
    for (int i = 0; i < kLanes; ++i) tmp[i] = scalar(row, k + i);
    return Eigen::internal::pload<Packet>(tmp);
#endif
  }
  static float scalar(const uint8_t* row, Index k) {
    const uint8_t* blk = row + (k / 32) * kBytes;
    const int j = int(k % 32);
    const int q = j < 16 ? blk[kHead + j] & 0x0F : blk[kHead + j - 16] >> 4;
    if constexpr (kHasMin) return float(q) * f16_at(blk) + f16_at(blk + 2);
    return float(q - 8) * f16_at(blk);
  }
};

// yr[i][j] = xr[i] . wr[j] over K inputs, for i < NX, j < NW: NX x NW accumulators of kLanes
// lanes along the input. Each element's arithmetic (lane sums, fixed reduction, scalar tail)
// never depends on NX, NW or the neighbours, which is what makes linear(RowStable) row-stable.
template <class L, int NX, int NW>
void row_stable_tile(const float* const* xr, Index K, const uint8_t* const* wr, float* const* yr) {
  const Index Kv = K / kLanes * kLanes;
  Packet acc[NX][NW];
  for (int i = 0; i < NX; ++i)
    for (int j = 0; j < NW; ++j) acc[i][j] = Eigen::internal::pset1<Packet>(0.f);
  for (Index k = 0; k < Kv; k += kLanes) {
    Packet xp[NX];
    for (int i = 0; i < NX; ++i) xp[i] = Eigen::internal::ploadu<Packet>(xr[i] + k);
    for (int j = 0; j < NW; ++j) {
      const Packet wp = L::packet(wr[j], k);
      for (int i = 0; i < NX; ++i) acc[i][j] = Eigen::internal::pmadd(xp[i], wp, acc[i][j]);
    }
  }
  for (int i = 0; i < NX; ++i)
    for (int j = 0; j < NW; ++j) {
      float sum = Eigen::internal::predux(acc[i][j]);
      for (Index k = Kv; k < K; ++k) sum += xr[i][k] * L::scalar(wr[j], k);
      yr[i][j] = sum;
    }
}

// Rows [m0, m1) of x against NW weight rows, 4 input rows per tile.
// Tile shape: kTileRows inputs x kTileCols weight rows. With AVX-512, 4 x 6 accumulators and
// the operands fit its 32 vector registers; AVX2 has 16, where 4 x 6 spills and 3 x 4 (12
// accumulators, inputs read from memory by the FMAs) does not (bench/RESULTS.md, issue 13).
#if defined(EIGEN_VECTORIZE_AVX512)
constexpr int kTileRows = 4, kTileCols = 6;
#else
constexpr int kTileRows = 3, kTileCols = 4;
#endif

// Dispatches a tile of nx <= NX rows and nw <= NW weight rows to its instantiation.
template <class L, int NX = kTileRows, int NW = kTileCols>
void row_stable_any_tile(int nx, int nw, const float* const* xr, Index K, const uint8_t* const* wr,
                         float* const* yr) {
  if constexpr (NX > 1)
    if (nx < NX) return row_stable_any_tile<L, NX - 1, NW>(nx, nw, xr, K, wr, yr);
  if constexpr (NW > 1)
    if (nw < NW) return row_stable_any_tile<L, NX, NW - 1>(nx, nw, xr, K, wr, yr);
  row_stable_tile<L, NX, NW>(xr, K, wr, yr);
}

// Weight rows per panel: a panel's rows (a few tens of KB) stay in L2 while each group of
// kTileRows input rows (in L1) passes over them.
constexpr Index kPanelRows = 48;
static_assert(kPanelRows % kTileCols == 0);

// Rows [m0, m1) of x (row stride xs) against the nw <= kPanelRows weight rows wr; y points at
// the panel's first output column of x's row 0 (row stride ys).
template <class L>
void row_stable_panel(const float* x, Index xs, Index K, const uint8_t* const* wr, Index nw, float* y, Index ys,
                      Index m0, Index m1) {
  const float* xr[kTileRows];
  float* yr[kTileRows];
  for (Index m = m0; m < m1; m += kTileRows) {
    const int nx = int(std::min<Index>(kTileRows, m1 - m));
    for (Index n = 0; n < nw; n += kTileCols) {
      for (int i = 0; i < nx; ++i) xr[i] = x + (m + i) * xs, yr[i] = y + (m + i) * ys + n;
      row_stable_any_tile<L>(nx, int(std::min<Index>(kTileCols, nw - n)), xr, K, wr + n, yr);
    }
  }
}

// The weight operand as the kernels see it: rows of `row_bytes` bytes from `base`.
struct WeightRows {
  const uint8_t* base;
  size_t row_bytes;
  Index rows, cols;
};

// Weights stream once per chunk of 64 rows (whose inputs stay in L2): the work items are
// (row chunk, panel of kPanelRows weight rows), chunk-major, claimed by the threads in tasks of
// ~kTaskMacs multiply-adds. Decode (when not null) turns a panel's weight rows into fp32 first
// (types without a direct loader); the arithmetic is then LoadF32's.
template <class L>
void row_stable(const Mat& x, const WeightRows& w, Mat& y, const WeightMatrix* decode = nullptr) {
  const Index M = x.rows(), N = w.rows, K = w.cols;
  require(x.cols() == K, "linear: input width " + std::to_string(x.cols()) + " but weight rows of " + std::to_string(K));
  y.resize(M, N);
  constexpr Index kChunk = 64, kTaskMacs = Index(1) << 16;
  const Index n_panels = (N + kPanelRows - 1) / kPanelRows, n_chunks = (M + kChunk - 1) / kChunk;
  const Index macs_per_item = kPanelRows * K * std::min(M, kChunk);
  const Index items_per_task = std::max<Index>(1, kTaskMacs / std::max<Index>(macs_per_item, 1));
  parallel_for(n_chunks * n_panels, items_per_task, [&](int64_t i0, int64_t i1, int) {
    thread_local std::vector<float> decoded;  // grows once per thread
    if (decode && decoded.size() < size_t(kPanelRows * K)) decoded.resize(size_t(kPanelRows * K));
    for (int64_t i = i0; i < i1; ++i) {
      const Index c0 = (i / n_panels) * kChunk, c1 = std::min(M, c0 + kChunk);
      const Index n0 = kPanelRows * (i % n_panels), nw = std::min<Index>(kPanelRows, N - n0);
      const uint8_t* wr[kPanelRows];
      if (decode) {
        decode->decode_rows(n0, nw, decoded.data());
        for (Index j = 0; j < nw; ++j) wr[j] = reinterpret_cast<const uint8_t*>(decoded.data() + j * K);
      } else {
        for (Index j = 0; j < nw; ++j) wr[j] = w.base + size_t(n0 + j) * w.row_bytes;
      }
      row_stable_panel<L>(x.data(), K, K, wr, nw, y.data() + n0, N, c0, c1);
    }
  });
}

// The outer-product accumulation both attention kernels are made of: for t in [t0, t1),
// acc[i][c] = fma(a_i[t], b_t[c], acc[i][c]) with b_t = NP packets at b + t * bs. Each lane is
// one FMA chain in t order, whatever NX and NP: the row-stable property of the kernels.
template <int NX, int NP>
void broadcast_fma(Packet (&acc)[NX][NP], const float* const* a, const float* b, Index bs, Index t0, Index t1) {
  for (Index t = t0; t < t1; ++t) {
    Packet bp[NP];
    for (int c = 0; c < NP; ++c) bp[c] = Eigen::internal::ploadu<Packet>(b + t * bs + c * kLanes);
    for (int i = 0; i < NX; ++i) {
      const Packet at = Eigen::internal::pset1<Packet>(a[i][t]);
      for (int c = 0; c < NP; ++c) acc[i][c] = Eigen::internal::pmadd(at, bp[c], acc[i][c]);
    }
  }
}

// attention_scores' tile: NX query rows against NP packets of keys of a transposed key block
// kt [d][kScoreBlock], lanes along the keys: s[i][j] = fma chain over e = 0..d-1 of q_i[e] *
// k_j[e], each element its own chain whatever the other rows and keys (row-stable).
constexpr int kScoreBlock = 64;  // keys per transposed block (16 KB at d = 64)
static_assert(kScoreBlock % kLanes == 0);

template <int NX, int NP>
void score_tile(const float* const* qr, const float* kt, int d, int c0, int nb, float* const* sr) {
  Packet acc[NX][NP];
  for (int i = 0; i < NX; ++i)
    for (int c = 0; c < NP; ++c) acc[i][c] = Eigen::internal::pset1<Packet>(0.f);
  broadcast_fma<NX, NP>(acc, qr, kt + c0, kScoreBlock, 0, d);
  for (int i = 0; i < NX; ++i)
    for (int c = 0; c < NP; ++c) {
      const int j = c0 + c * kLanes;
      if (j + kLanes <= nb) {
        Eigen::internal::pstoreu(sr[i] + j, acc[i][c]);
      } else if (j < nb) {  // the block's last, partial packet
        alignas(64) float tmp[kLanes];
        Eigen::internal::pstore(tmp, acc[i][c]);
        std::copy_n(tmp, nb - j, sr[i] + j);
      }
    }
}

// The packets of keys [0, nb) of a block, 3 at a time (4 x 3 accumulators fit AVX2's 16
// registers with the 3 key packets).
template <int NX>
void score_rows(const float* const* qr, const float* kt, int d, int nb, float* const* sr) {
  const int np = (nb + kLanes - 1) / kLanes;
  int c = 0;
  for (; c + 3 <= np; c += 3) score_tile<NX, 3>(qr, kt, d, c * kLanes, nb, sr);
  if (np - c == 2) score_tile<NX, 2>(qr, kt, d, c * kLanes, nb, sr);
  if (np - c == 1) score_tile<NX, 1>(qr, kt, d, c * kLanes, nb, sr);
}

// attention_values' accumulators for up to 4 query rows and NP packets of the head dimension,
// over keys [j0, j1): o[i][e] = fma(p_i[j], v_j[e], o[i][e]) for j ascending, each element one
// chain whatever the other rows (loaded from o when j0 > 0: a store and load are exact).
template <int NX, int NP>
void value_tile(const float* const* pr, const float* v, Index d, Index j0, Index j1, float* const* orow, Index e0) {
  Packet acc[NX][NP];
  for (int i = 0; i < NX; ++i)
    for (int c = 0; c < NP; ++c)
      acc[i][c] = j0 ? Eigen::internal::ploadu<Packet>(orow[i] + e0 + c * kLanes) : Eigen::internal::pset1<Packet>(0.f);
  broadcast_fma<NX, NP>(acc, pr, v + e0, d, j0, j1);
  for (int i = 0; i < NX; ++i)
    for (int c = 0; c < NP; ++c) Eigen::internal::pstoreu(orow[i] + e0 + c * kLanes, acc[i][c]);
}

template <int NX>
void value_rows(const float* const* pr, const float* v, Index d, Index j0, Index j1, float* const* orow) {
  Index e = 0;
  for (; e + 2 * kLanes <= d; e += 2 * kLanes) value_tile<NX, 2>(pr, v, d, j0, j1, orow, e);
  for (; e + kLanes <= d; e += kLanes) value_tile<NX, 1>(pr, v, d, j0, j1, orow, e);
  for (; e < d; ++e)
    for (int i = 0; i < NX; ++i) {
      float acc = j0 ? orow[i][e] : 0.f;
      for (Index j = j0; j < j1; ++j) acc = std::fma(pr[i][j], v[j * d + e], acc);
      orow[i][e] = acc;
    }
}

// Keys per pass of attention_values: a block of V rows (16 KB at d = 64) stays in L1 while
// every query row of the tile accumulates over it.
constexpr Index kValueBlock = 64;

// From this many input rows on, block types (Q8_0, Q4_0, Q4_1) are decoded a panel at a time
// and multiplied by the fp32 kernel: their loaders unpack each packet again for every group
// of kTileRows inputs, while a decoded panel serves them all. The same bits either way (the
// loaders give exactly the decoded values), so a row's result still ignores its batch.
constexpr Index kDecodePanelMinRows = 2 * kTileRows;

void linear_row_stable(const Mat& x, const WeightMatrix& w, Mat& y) {
  const WeightRows rows{w.empty() ? nullptr : w.row_data(0), w.row_bytes(), w.rows(), w.cols()};
  const bool block_type = w.type() == GgmlType::Q8_0 || w.type() == GgmlType::Q4_0 || w.type() == GgmlType::Q4_1;
  // Interleaved rows (runtime/q8_linear.h) have no per-row loader: decoded panels always.
  if (w.interleaved() || (block_type && x.rows() >= kDecodePanelMinRows)) return row_stable<LoadF32>(x, rows, y, &w);
  switch (w.type()) {
    case GgmlType::F32: return row_stable<LoadF32>(x, rows, y);
    case GgmlType::BF16: return row_stable<LoadBF16>(x, rows, y);
    case GgmlType::F16: return row_stable<LoadF16>(x, rows, y);
    case GgmlType::Q8_0: return row_stable<LoadQ8_0>(x, rows, y);
    case GgmlType::Q4_0: return row_stable<LoadQ4<false>>(x, rows, y);
    case GgmlType::Q4_1: return row_stable<LoadQ4<true>>(x, rows, y);
    default: return row_stable<LoadF32>(x, rows, y, &w);  // other block types: decoded a panel at a time
  }
}

// Gemm: one Eigen GEMM per panel of weight rows, the panels spread over the pool's threads
// (each product single-threaded: Eigen's own OpenMP split would end in barriers that wait for
// every thread, a time slice each on a busy machine). A panel is a fixed share of the rows
// (whatever the thread count, so the bits are too), and a compact matrix's panel is decoded to
// fp32 by the thread that multiplies it: same panels, so the same bits as the fp32 matrix of
// the decoded values. Packing x again per panel costs about 1/panel of the product. Panels:
// an eighth of the rows, 16 to 512 and at most ~2 MB of decoded fp32 (the thread's scratch).
Index gemm_panel_rows(Index N, Index K) {
  const Index cap = std::clamp<Index>((Index(1) << 19) / std::max<Index>(K, 1) / 16 * 16, 16, 512);
  return std::clamp<Index>((N / 8 + 15) / 16 * 16, 16, cap);
}

void linear_gemm(const Mat& x, const WeightMatrix& w, Mat& y) {
  const Index M = x.rows(), N = w.rows(), K = w.cols();
  require(x.cols() == K, "linear: input width " + std::to_string(x.cols()) + " but weight rows of " + std::to_string(K));
  y.resize(M, N);
  const Index panel = gemm_panel_rows(N, K);
  parallel_for((N + panel - 1) / panel, 1, [&](int64_t p0, int64_t p1, int) {
    thread_local Mat decoded;
    for (int64_t p = p0; p < p1; ++p) {
      const Index n0 = p * panel, nb = std::min(panel, N - n0);
      if (w.type() == GgmlType::F32) {
        y.middleCols(n0, nb).noalias() = x * w.f32().middleRows(n0, nb).transpose();
      } else {
        decoded.resize(nb, K);
        w.decode_rows(n0, nb, decoded.data());
        y.middleCols(n0, nb).noalias() = x * decoded.transpose();
      }
    }
  });
}

// Below this many input rows a compact matrix goes through the row-stable kernel even for
// Gemm: decoding whole panels would cost more than the product.
constexpr Index kGemmMinRows = 64;

}  // namespace

void linear(const Mat& x, const WeightMatrix& w, Mat& y, Matmul mm, ActQuant aq) {
  if (mm == Matmul::RowStable || (w.type() != GgmlType::F32 && x.rows() < kGemmMinRows)) {
    if (aq == ActQuant::Q8Blocks && q8_linear_supports(w)) return linear_q8(x, w, y);
    return linear_row_stable(x, w, y);
  }
  linear_gemm(x, w, y);
}

void linear(const Mat& x, const Mat& w, Mat& y, Matmul mm) {
  if (mm == Matmul::RowStable) {
    const WeightRows rows{reinterpret_cast<const uint8_t*>(w.data()), size_t(w.cols()) * sizeof(float), w.rows(), w.cols()};
    return row_stable<LoadF32>(x, rows, y);
  }
  require(x.cols() == w.cols(), "linear: input width " + std::to_string(x.cols()) + " but weight rows of " +
                                    std::to_string(w.cols()));
  y.resize(x.rows(), w.rows());
  const Index N = w.rows(), panel = gemm_panel_rows(N, w.cols());
  parallel_for((N + panel - 1) / panel, 1, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; ++p) {
      const Index n0 = p * panel, nb = std::min(panel, N - n0);
      y.middleCols(n0, nb).noalias() = x * w.middleRows(n0, nb).transpose();
    }
  });
}

namespace {

// One key block [d][kScoreBlock] of nb keys, lanes along the keys; keys beyond nb are zeros
// (their lanes are computed, never stored).
void pack_key_block(const float* k, int nb, int d, float* kt) {
  for (int e = 0; e < d; ++e) {
    float* row = kt + size_t(e) * kScoreBlock;
    for (int t = 0; t < nb; ++t) row[t] = k[size_t(t) * d + e];
    std::fill(row + nb, row + kScoreBlock, 0.f);
  }
}

// s[i*ss + j] for the block's keys j < nb (s points at the block's first column).
void score_block(const float* q, Index qs, int rows, const float* kt, int nb, int d, float* s, Index ss) {
  const float* qr[4];
  float* sr[4];
  int i = 0;
  auto rows_at = [&](int nx) {
    for (int t = 0; t < nx; ++t) qr[t] = q + (i + t) * qs, sr[t] = s + (i + t) * ss;
  };
  for (; i + 4 <= rows; i += 4) rows_at(4), score_rows<4>(qr, kt, d, nb, sr);
  switch (rows - i) {
    case 3: rows_at(3), score_rows<3>(qr, kt, d, nb, sr); break;
    case 2: rows_at(2), score_rows<2>(qr, kt, d, nb, sr); break;
    case 1: rows_at(1), score_rows<1>(qr, kt, d, nb, sr); break;
    default: break;
  }
}

}  // namespace

void attention_scores(const float* q, Index qs, int rows, const float* k, int n, int d, float* s, Index ss) {
  thread_local std::vector<float> kt;  // one key block, transposed: grows once per thread
  kt.resize(size_t(d) * kScoreBlock);
  for (int j0 = 0; j0 < n; j0 += kScoreBlock) {
    const int nb = std::min(kScoreBlock, n - j0);
    pack_key_block(k + size_t(j0) * d, nb, d, kt.data());
    score_block(q, qs, rows, kt.data(), nb, d, s + j0, ss);
  }
}

size_t packed_keys_size(int n, int d) { return size_t((n + kScoreBlock - 1) / kScoreBlock) * kScoreBlock * d; }

void pack_keys(const float* k, int n, int d, float* kt) {
  for (int j0 = 0; j0 < n; j0 += kScoreBlock)
    pack_key_block(k + size_t(j0) * d, std::min(kScoreBlock, n - j0), d, kt + size_t(j0) * d);
}

void attention_scores_packed(const float* q, Index qs, int rows, const float* kt, int n, int d, float* s, Index ss) {
  for (int j0 = 0; j0 < n; j0 += kScoreBlock)
    score_block(q, qs, rows, kt + size_t(j0) * d, std::min(kScoreBlock, n - j0), d, s + j0, ss);
}

void attention_values(const float* p, Index ps, int rows, const float* v, int n, int d, float* o, Index os) {
  if (n == 0) {
    for (int i = 0; i < rows; ++i) std::fill_n(o + i * os, d, 0.f);
    return;
  }
  const float* pr[4];
  float* orow[4];
  for (Index j0 = 0; j0 < n; j0 += kValueBlock) {
    const Index j1 = std::min<Index>(n, j0 + kValueBlock);
    int i = 0;
    auto rows_at = [&](int nx) {
      for (int t = 0; t < nx; ++t) pr[t] = p + (i + t) * ps, orow[t] = o + (i + t) * os;
    };
    for (; i + 4 <= rows; i += 4) rows_at(4), value_rows<4>(pr, v, d, j0, j1, orow);
    switch (rows - i) {
      case 3: rows_at(3), value_rows<3>(pr, v, d, j0, j1, orow); break;
      case 2: rows_at(2), value_rows<2>(pr, v, d, j0, j1, orow); break;
      case 1: rows_at(1), value_rows<1>(pr, v, d, j0, j1, orow); break;
      default: break;
    }
  }
}

void qkv_block(const LayerWeights& lw, const ModelConfig& c, ActQuant aq, const RopeTable& rope, const int* pos,
               const Mat& x, Mat& xn, Mat& q, Mat& k, Mat& v, Matmul mm) {
  rms_norm(x, lw.attn_norm, c.norm_eps, xn);
  quantize_activations(xn, aq);
  linear(xn, lw.wq, q, mm, aq);
  linear(xn, lw.wk, k, mm, aq);
  linear(xn, lw.wv, v, mm, aq);
  if (c.qkv_bias) {
    q.rowwise() += lw.bq;
    k.rowwise() += lw.bk;
    v.rowwise() += lw.bv;
  }
  rope_rows(rope, q, c.n_heads, c.head_dim, pos);
  rope_rows(rope, k, c.n_kv_heads, c.head_dim, pos);
  round_kv(q, aq);
  round_kv(k, aq);
  round_kv(v, aq);
}

void swiglu_block(const LayerWeights& lw, const ModelConfig& c, ActQuant aq, Mat& x, Mat& xn, Mat& gate,
                  Mat& up, Mat& o, Matmul mm) {
  rms_norm(x, lw.ffn_norm, c.norm_eps, xn);
  quantize_activations(xn, aq);
  linear(xn, lw.w_gate, gate, mm, aq);
  linear(xn, lw.w_up, up, mm, aq);
  gate = gate.unaryExpr([](float z) { return silu(z); }).cwiseProduct(up);
  quantize_activations(gate, aq);
  linear(gate, lw.w_down, o, mm, aq);
  x += o;
}

}  // namespace cokv
