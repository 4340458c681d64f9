#include "runtime/q8_linear.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "core/error.h"
#include "core/parallel.h"
#include "model/dequant.h"

namespace cokv {

namespace {

using Index = Eigen::Index;
constexpr Index kBlock = 32;

// The input rows as ggml's Q8 blocks. Rounding an input quantize_activations already rounded
// gives back the same levels and scales, so inputs need not say how they were made.
struct Q8Rows {
  Index rows = 0, blocks = 0;
  std::vector<int8_t> q;   // [rows, blocks * 32] levels
  std::vector<float> d;    // [rows, blocks] scales
  std::vector<float> ds;   // [rows, blocks] d * sum(q), for Q4_1's offset term
  const int8_t* q_row(Index r) const { return q.data() + r * blocks * kBlock; }
};

void round_block(const float* v, int8_t* q, float& d, float& ds) {
  float amax = 0.f;
  for (int i = 0; i < kBlock; ++i) amax = std::max(amax, std::fabs(v[i]));
  // As quantize_activations (ops.cpp) and ggml's quantize_row_q8_0: id = 127/amax, d in fp16.
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  d = fp16_to_fp32(fp32_to_fp16(amax / 127.f));
  int sum = 0;
  for (int i = 0; i < kBlock; ++i) sum += q[i] = int8_t(std::nearbyint(v[i] * id));
  ds = d * float(sum);  // exact: |sum| < 2^12, d has 11 significant bits
}

void to_q8_rows(const Mat& x, Q8Rows& out) {
  out.rows = x.rows(), out.blocks = x.cols() / kBlock;
  out.q.resize(size_t(out.rows * out.blocks * kBlock));
  out.d.resize(size_t(out.rows * out.blocks));
  out.ds.resize(out.d.size());
  parallel_for(out.rows, 16, [&](int64_t r0, int64_t r1, int) {
    for (Index r = r0; r < r1; ++r)
      for (Index b = 0; b < out.blocks; ++b) {
        const size_t i = size_t(r * out.blocks + b);
        round_block(x.row(r).data() + b * kBlock, out.q.data() + i * kBlock, out.d[i], out.ds[i]);
      }
  });
}

inline float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  return fp16_to_fp32(h);
#endif
}

#if defined(__AVX2__)
// 8 lanes of int32 partial sums of u[k] * s[k] (u unsigned, s signed bytes).
inline __m256i dot_us(__m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else  // u <= 128, |s| <= 127: the pair sums fit int16 without saturating
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// A weight block ready for dot products with input levels: unsigned levels u, and for signed
// types the signs to move onto the input (sum u * sign(x, w) = sum w * x, the trick llama.cpp
// uses because the instructions take one unsigned operand).
struct WBlock {
  __m256i u, sign;
  float d, m;
};

inline __m256i nibbles(const uint8_t* q) {  // weight k < 16: low nibble of byte k; k >= 16: high
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m128i lo = _mm_and_si128(raw, _mm_set1_epi8(0x0F));
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0F));
  return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

// Q8_0 {f16 d; i8 q[32]}
struct Q8_0 {
  static constexpr int kBytes = 34;
  static constexpr bool kSigned = true, kMin = false;
  static WBlock load(const uint8_t* blk) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
    return {_mm256_sign_epi8(w, w), w, f16_at(blk), 0.f};
  }
};
// Q4_0 {f16 d; u8 q[16]}: w = q - 8
struct Q4_0 {
  static constexpr int kBytes = 18;
  static constexpr bool kSigned = true, kMin = false;
  static WBlock load(const uint8_t* blk) {
    const __m256i w = _mm256_sub_epi8(nibbles(blk + 2), _mm256_set1_epi8(8));
    return {_mm256_sign_epi8(w, w), w, f16_at(blk), 0.f};
  }
};
// Q4_1 {f16 d, m; u8 q[16]}: w = q * d + m
struct Q4_1 {
  static constexpr int kBytes = 20;
  static constexpr bool kSigned = false, kMin = true;
  static WBlock load(const uint8_t* blk) { return {nibbles(blk + 4), _mm256_setzero_si256(), f16_at(blk), f16_at(blk + 2)}; }
};

// y[m0+i, n0+j] for i < NX, j < NW. Each element's sums run in one fixed order whatever NX,
// NW and the neighbours: row-stable.
template <class W, int NX, int NW>
void q8_tile(const Q8Rows& x, const uint8_t* const* wr, Index ahead, Mat& y, Index m0, Index n0) {
  __m256 acc[NX][NW];
  float off[NX][NW] = {};
  for (int i = 0; i < NX; ++i)
    for (int j = 0; j < NW; ++j) acc[i][j] = _mm256_setzero_ps();
  for (Index b = 0; b < x.blocks; ++b) {
    WBlock wb[NW];
    // Batch 1 reads each weight once: without a prefetch the loads wait on memory at about a
    // quarter of one core's bandwidth (issue 13). The rows `ahead` stream in meanwhile.
    for (int j = 0; j < NW; ++j) _mm_prefetch(reinterpret_cast<const char*>(wr[j] + b * W::kBytes + ahead), _MM_HINT_T0);
    for (int j = 0; j < NW; ++j) wb[j] = W::load(wr[j] + b * W::kBytes);
    for (int i = 0; i < NX; ++i) {
      const Index r = m0 + i, k = r * x.blocks + b;
      const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q_row(r) + b * kBlock));
      const float dx = x.d[size_t(k)];
      for (int j = 0; j < NW; ++j) {
        const __m256i s = W::kSigned ? _mm256_sign_epi8(xq, wb[j].sign) : xq;
        const __m256 sum = _mm256_cvtepi32_ps(dot_us(wb[j].u, s));
        acc[i][j] = _mm256_fmadd_ps(sum, _mm256_set1_ps(wb[j].d * dx), acc[i][j]);
        // An explicit fma: left to the compiler, contraction could differ between tile shapes.
        if constexpr (W::kMin) off[i][j] = std::fma(wb[j].m, x.ds[size_t(k)], off[i][j]);
      }
    }
  }
  for (int i = 0; i < NX; ++i)
    for (int j = 0; j < NW; ++j) y(m0 + i, n0 + j) = hsum(acc[i][j]) + off[i][j];
}
#else
// Without AVX2: the same formula one block at a time.
struct Q8_0 { static constexpr int kBytes = 34; };
struct Q4_0 { static constexpr int kBytes = 18; };
struct Q4_1 { static constexpr int kBytes = 20; };

template <class W>
int weight_level(const uint8_t* blk, int k) {
  if constexpr (W::kBytes == 34) return int8_t(blk[2 + k]);
  const uint8_t* q = blk + (W::kBytes == 18 ? 2 : 4);
  const int v = k < 16 ? q[k] & 0x0F : q[k - 16] >> 4;
  return W::kBytes == 18 ? v - 8 : v;
}

template <class W, int NX, int NW>
void q8_tile(const Q8Rows& x, const uint8_t* const* wr, Index /*ahead*/, Mat& y, Index m0, Index n0) {
  for (int i = 0; i < NX; ++i)
    for (int j = 0; j < NW; ++j) {
      float acc = 0.f, off = 0.f;
      for (Index b = 0; b < x.blocks; ++b) {
        const uint8_t* blk = wr[j] + b * W::kBytes;
        const int8_t* xq = x.q_row(m0 + i) + b * kBlock;
        int sum = 0;
        for (int k = 0; k < kBlock; ++k) sum += weight_level<W>(blk, k) * xq[k];
        const size_t at = size_t((m0 + i) * x.blocks + b);
        acc += float(sum) * (f16_at(blk) * x.d[at]);
        if constexpr (W::kBytes == 20) off = std::fma(f16_at(blk + 2), x.ds[at], off);
      }
      y(m0 + i, n0 + j) = acc + off;
    }
}
#endif

// 4 input rows x 4 weight rows per tile with AVX-512: 16 accumulators, 4 weight blocks and the
// input fit its 32 vector registers. AVX2's 16 take 4 x 2: 4 x 4 spills there (4 x 2
// decoded batch 32 about 1.15x faster in one side-by-side run, issue 13).
#if defined(__AVX512F__)
constexpr int kTileRows = 4, kTileCols = 4;
#else
constexpr int kTileRows = 4, kTileCols = 2;
#endif
// Tiles of weight rows to prefetch ahead: 2 and 3 decoded batch 1 fastest in a sweep of 0-6
// (bench/q8_kernels, step at 2 threads: 10.4 ms without, 6.7 ms at 2; issue 13).
constexpr Index kPrefetchTiles = 2;

template <class W, int NW>
void q8_rows(const Q8Rows& x, const uint8_t* const* wr, Index ahead, Mat& y, Index m0, Index m1, Index n0) {
  Index m = m0;
  for (; m + kTileRows <= m1; m += kTileRows) q8_tile<W, kTileRows, NW>(x, wr, ahead, y, m, n0);
  switch (m1 - m) {
    case 3: q8_tile<W, 3, NW>(x, wr, ahead, y, m, n0); break;
    case 2: q8_tile<W, 2, NW>(x, wr, ahead, y, m, n0); break;
    case 1: q8_tile<W, 1, NW>(x, wr, ahead, y, m, n0); break;
    default: break;
  }
}

template <class W>
void q8_cols(const Q8Rows& x, const uint8_t* const* wr, Index ahead, Mat& y, Index m0, Index m1, Index n0, Index nw) {
  switch (nw) {
    case 4: return q8_rows<W, 4>(x, wr, ahead, y, m0, m1, n0);
    case 3: return q8_rows<W, 3>(x, wr, ahead, y, m0, m1, n0);
    case 2: return q8_rows<W, 2>(x, wr, ahead, y, m0, m1, n0);
    default: return q8_rows<W, 1>(x, wr, ahead, y, m0, m1, n0);
  }
}

// The work as in ops.cpp's row_stable: items (chunk of 64 input rows, kTileCols weight rows),
// chunk-major so weights stream once per chunk, in tasks of ~2^16 multiply-adds.
template <class W>
void q8_linear(const Q8Rows& x, const WeightMatrix& w, Mat& y) {
  const Index M = x.rows, N = w.rows(), K = w.cols();
  y.resize(M, N);
  constexpr Index kChunk = 64, kTaskMacs = Index(1) << 16;
  const Index n_blocks = (N + kTileCols - 1) / kTileCols, n_chunks = (M + kChunk - 1) / kChunk;
  const Index items_per_task = std::max<Index>(1, kTaskMacs / std::max<Index>(kTileCols * K * std::min(M, kChunk), 1));
  // Prefetch distance: the same block of the rows two tiles on (consecutive items of a task).
  // Prefetches past the matrix's end are harmless: they never fault.
  const Index ahead = kPrefetchTiles * kTileCols * Index(w.row_bytes());
  parallel_for(n_chunks * n_blocks, items_per_task, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) {
      const Index c0 = (i / n_blocks) * kChunk, c1 = std::min(M, c0 + kChunk);
      const Index n0 = kTileCols * (i % n_blocks), nw = std::min<Index>(kTileCols, N - n0);
      const uint8_t* wr[kTileCols];
      for (Index j = 0; j < nw; ++j) wr[j] = w.row_data(n0 + j);
      q8_cols<W>(x, wr, ahead, y, c0, c1, n0, nw);
    }
  });
}

}  // namespace

bool q8_linear_supports(const WeightMatrix& w) {
  const GgmlType t = w.type();
  return (t == GgmlType::Q8_0 || t == GgmlType::Q4_0 || t == GgmlType::Q4_1) && w.cols() % kBlock == 0;
}

void linear_q8(const Mat& x, const WeightMatrix& w, Mat& y) {
  require(q8_linear_supports(w), std::string("linear_q8: weights of type ") + ggml_type_name(w.type()) + " and width " +
                                     std::to_string(w.cols()) + " (Q8_0, Q4_0 or Q4_1 with whole 32-value blocks)");
  require(x.cols() == w.cols(), "linear: input width " + std::to_string(x.cols()) + " but weight rows of " +
                                    std::to_string(w.cols()));
  thread_local Q8Rows q;  // the caller's scratch: grows once
  to_q8_rows(x, q);
  switch (w.type()) {
    case GgmlType::Q8_0: return q8_linear<Q8_0>(q, w, y);
    case GgmlType::Q4_0: return q8_linear<Q4_0>(q, w, y);
    default: return q8_linear<Q4_1>(q, w, y);
  }
}

}  // namespace cokv
