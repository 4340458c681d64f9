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
constexpr Index kGroup = WeightMatrix::kRowGroup;

// The input rows as ggml's Q8 blocks. Rounding an input quantize_activations already rounded
// gives back the same levels and scales, so inputs need not say how they were made.
struct Q8Rows {
  Index rows = 0, blocks = 0;
  std::vector<int8_t> q;      // [rows, blocks * 32] levels
  std::vector<float> d;       // [rows, blocks] scales
  std::vector<float> ds;      // [rows, blocks] d * sum(q), for Q4_1's offset term
  std::vector<int32_t> sum;   // [rows, blocks] sum(q), to take off the weights' level bias
  size_t at(Index r, Index b) const { return size_t(r * blocks + b); }
  const int8_t* q_block(Index r, Index b) const { return q.data() + at(r, b) * kBlock; }
};

void round_block(const float* v, int8_t* q, float& d, float& ds, int32_t& sum) {
  float amax = 0.f;
  for (int i = 0; i < kBlock; ++i) amax = std::max(amax, std::fabs(v[i]));
  // As quantize_activations (ops.cpp) and ggml's quantize_row_q8_0: id = 127/amax, d in fp16.
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  d = fp16_to_fp32(fp32_to_fp16(amax / 127.f));
  sum = 0;
  for (int i = 0; i < kBlock; ++i) sum += q[i] = int8_t(std::nearbyint(v[i] * id));
  ds = d * float(sum);  // exact: |sum| < 2^12, d has 11 significant bits
}

void to_q8_rows(const Mat& x, Q8Rows& out) {
  out.rows = x.rows(), out.blocks = x.cols() / kBlock;
  out.q.resize(size_t(out.rows * out.blocks * kBlock));
  out.d.resize(size_t(out.rows * out.blocks));
  out.ds.resize(out.d.size());
  out.sum.resize(out.d.size());
  parallel_for(out.rows, 16, [&](int64_t r0, int64_t r1, int) {
    for (Index r = r0; r < r1; ++r)
      for (Index b = 0; b < out.blocks; ++b) {
        const size_t i = out.at(r, b);
        round_block(x.row(r).data() + b * kBlock, out.q.data() + i * kBlock, out.d[i], out.ds[i], out.sum[i]);
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

inline int32_t load_i32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// A weight type's group block (WeightMatrix's interleaved layout): levels, d[16], Q4_1's m[16].
template <GgmlType T>
struct Group {
  static constexpr bool kNibbles = T != GgmlType::Q8_0, kMin = T == GgmlType::Q4_1;
  static constexpr int kBias = T == GgmlType::Q8_0 ? 128 : T == GgmlType::Q4_0 ? 8 : 0;
  static constexpr Index kLevelBytes = kGroup * (kNibbles ? 16 : 32);
  static constexpr Index kBytes = kLevelBytes + 2 * kGroup * (kMin ? 2 : 1);
  static const uint8_t* d(const uint8_t* gb) { return gb + kLevelBytes; }
  static const uint8_t* m(const uint8_t* gb) { return gb + kLevelBytes + 2 * kGroup; }
};

// ---- The twin: one value at a time ----

template <class G>
int stored_level(const uint8_t* gb, Index lane, int k) {
  const int c = k / 4, j = k % 4;  // chunk c: values 4c..4c+3
  if constexpr (G::kNibbles) {
    const uint8_t byte = gb[64 * (c % 4) + 4 * lane + j];
    return c < 4 ? byte & 0x0F : byte >> 4;
  } else {
    return gb[64 * c + 4 * lane + j];
  }
}

template <class G>
float dot_scalar(const Q8Rows& x, Index r, const WeightMatrix& w, Index n) {
  const Index g = n / kGroup, lane = n % kGroup;
  float acc = 0.f;
  for (Index b = 0; b < x.blocks; ++b) {
    const uint8_t* gb = w.group_block(g, b);
    const int8_t* xq = x.q_block(r, b);
    int isum = 0;
    for (int k = 0; k < kBlock; ++k) isum += (stored_level<G>(gb, lane, k) - G::kBias) * xq[k];
    const size_t i = x.at(r, b);
    acc = std::fma(float(isum), f16_at(G::d(gb) + 2 * lane) * x.d[i], acc);
    if constexpr (G::kMin) acc = std::fma(f16_at(G::m(gb) + 2 * lane), x.ds[i], acc);
  }
  return acc;
}

// ---- The kernels: y[m0 + i, 16g + lane] for i < NX input rows and the group's 16 rows ----

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
// GCC 12 warns inside avx512fintrin.h that _mm512_undefined_ps (the unused pass-through of
// cvtph_ps and cvtepi32_ps) "may be used uninitialized": a false positive of its own header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// Per block and input row: 8 vpdpbusd (512 products), one conversion, one multiply and one
// fma (two for Q4_1); the group's levels are unpacked once for all NX rows. 8 rows keep 16
// accumulators and the unpacked levels in the 32 registers.
constexpr int kTileInputs = 8;

template <class G, int NX>
void group_tile(const Q8Rows& x, const uint8_t* grp, Index ahead, Index m0, float* y, Index ldy, Index valid) {
  __m512 acc[NX];
  for (int i = 0; i < NX; ++i) acc[i] = _mm512_setzero_ps();
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  for (Index b = 0; b < x.blocks; ++b) {
    const uint8_t* gb = grp + b * G::kBytes;
    // Batch 1 reads each weight once; the group `ahead` streams in meanwhile (issue 13).
    for (Index l = 0; l < G::kBytes; l += 64) _mm_prefetch(reinterpret_cast<const char*>(gb + ahead + l), _MM_HINT_T0);
    __m512i isum[NX];
    for (int i = 0; i < NX; ++i)  // stored levels are level + bias: start from -bias * sum(qx)
      isum[i] = _mm512_set1_epi32(-G::kBias * x.sum[x.at(m0 + i, b)]);
    if constexpr (G::kNibbles) {
      for (int c = 0; c < 4; ++c) {
        const __m512i raw = _mm512_loadu_si512(gb + 64 * c);
        const __m512i lo = _mm512_and_si512(raw, low4), hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
        for (int i = 0; i < NX; ++i) {
          const int8_t* xq = x.q_block(m0 + i, b);
          isum[i] = _mm512_dpbusd_epi32(isum[i], lo, _mm512_set1_epi32(load_i32(xq + 4 * c)));
          isum[i] = _mm512_dpbusd_epi32(isum[i], hi, _mm512_set1_epi32(load_i32(xq + 16 + 4 * c)));
        }
      }
    } else {
      for (int c = 0; c < 8; ++c) {
        const __m512i u = _mm512_loadu_si512(gb + 64 * c);
        for (int i = 0; i < NX; ++i)
          isum[i] = _mm512_dpbusd_epi32(isum[i], u, _mm512_set1_epi32(load_i32(x.q_block(m0 + i, b) + 4 * c)));
      }
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(G::d(gb))));
    for (int i = 0; i < NX; ++i) {
      const size_t k = x.at(m0 + i, b);
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[i]), _mm512_mul_ps(dw, _mm512_set1_ps(x.d[k])), acc[i]);
    }
    if constexpr (G::kMin) {
      const __m512 mw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(G::m(gb))));
      for (int i = 0; i < NX; ++i) acc[i] = _mm512_fmadd_ps(mw, _mm512_set1_ps(x.ds[x.at(m0 + i, b)]), acc[i]);
    }
  }
  const __mmask16 keep = valid >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << valid) - 1);
  for (int i = 0; i < NX; ++i) _mm512_mask_storeu_ps(y + i * ldy, keep, acc[i]);
}

template <class G, int NX>
void tile(const Q8Rows& x, const WeightMatrix& w, Index g, Index ahead, Mat& y, Index m0) {
  const Index n0 = g * kGroup;
  group_tile<G, NX>(x, w.group_block(g, 0), ahead, m0, y.data() + m0 * y.cols() + n0, y.cols(), y.cols() - n0);
}

#elif defined(__AVX2__)
// 8 lanes: a group is two halves of 8 rows. No 8-bit dot instruction: maddubs + madd, and
// Q8_0's signed levels go through llama.cpp's sign trick (|w| times x with w's sign), since
// maddubs would saturate on levels up to 255.
constexpr int kTileInputs = 4;

inline __m256i dot4(__m256i u, __m256i s) {  // 8 lanes of sum_j u[4l+j] * s[4l+j]
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

template <class G, int NX>
void half_tile(const Q8Rows& x, const uint8_t* grp, Index half, Index ahead, Index m0, float* y, Index ldy, Index valid) {
  __m256 acc[NX];
  for (int i = 0; i < NX; ++i) acc[i] = _mm256_setzero_ps();
  const __m256i low4 = _mm256_set1_epi8(0x0F), top = _mm256_set1_epi8(char(0x80));
  for (Index b = 0; b < x.blocks; ++b) {
    const uint8_t* gb = grp + b * G::kBytes;
    if (half == 0)
      for (Index l = 0; l < G::kBytes; l += 64) _mm_prefetch(reinterpret_cast<const char*>(gb + ahead + l), _MM_HINT_T0);
    __m256i isum[NX];
    for (int i = 0; i < NX; ++i)  // Q8_0's levels are taken signed here: no bias to take off
      isum[i] = _mm256_set1_epi32(G::kNibbles ? -G::kBias * x.sum[x.at(m0 + i, b)] : 0);
    const auto at = [&](int c) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(gb + 64 * c + 32 * half)); };
    if constexpr (G::kNibbles) {
      for (int c = 0; c < 4; ++c) {
        const __m256i raw = at(c);
        const __m256i lo = _mm256_and_si256(raw, low4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
        for (int i = 0; i < NX; ++i) {
          const int8_t* xq = x.q_block(m0 + i, b);
          isum[i] = _mm256_add_epi32(isum[i], dot4(lo, _mm256_set1_epi32(load_i32(xq + 4 * c))));
          isum[i] = _mm256_add_epi32(isum[i], dot4(hi, _mm256_set1_epi32(load_i32(xq + 16 + 4 * c))));
        }
      }
    } else {
      for (int c = 0; c < 8; ++c) {
        const __m256i w = _mm256_xor_si256(at(c), top), aw = _mm256_abs_epi8(w);
        for (int i = 0; i < NX; ++i) {
          const __m256i s = _mm256_sign_epi8(_mm256_set1_epi32(load_i32(x.q_block(m0 + i, b) + 4 * c)), w);
          isum[i] = _mm256_add_epi32(isum[i], dot4(aw, s));
        }
      }
    }
    const auto half_f16 = [&](const uint8_t* p) {
      return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * half)));
    };
    const __m256 dw = half_f16(G::d(gb));
    for (int i = 0; i < NX; ++i) {
      const size_t k = x.at(m0 + i, b);
      acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[i]), _mm256_mul_ps(dw, _mm256_set1_ps(x.d[k])), acc[i]);
    }
    if constexpr (G::kMin) {
      const __m256 mw = half_f16(G::m(gb));
      for (int i = 0; i < NX; ++i) acc[i] = _mm256_fmadd_ps(mw, _mm256_set1_ps(x.ds[x.at(m0 + i, b)]), acc[i]);
    }
  }
  const __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(std::min<Index>(valid, 8))),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (int i = 0; i < NX; ++i) _mm256_maskstore_ps(y + i * ldy, keep, acc[i]);
}

template <class G, int NX>
void tile(const Q8Rows& x, const WeightMatrix& w, Index g, Index ahead, Mat& y, Index m0) {
  const Index n0 = g * kGroup;
  for (Index h = 0; h < 2 && n0 + 8 * h < y.cols(); ++h)
    half_tile<G, NX>(x, w.group_block(g, 0), h, ahead, m0, y.data() + m0 * y.cols() + n0 + 8 * h, y.cols(),
                     y.cols() - n0 - 8 * h);
}

#else
constexpr int kTileInputs = 1;

template <class G, int NX>
void tile(const Q8Rows& x, const WeightMatrix& w, Index g, Index /*ahead*/, Mat& y, Index m0) {
  for (Index n = g * kGroup; n < std::min<Index>(y.cols(), (g + 1) * kGroup); ++n)
    for (int i = 0; i < NX; ++i) y(m0 + i, n) = dot_scalar<G>(x, m0 + i, w, n);
}
#endif

template <class G, int NX>
void tail_tile(const Q8Rows& x, const WeightMatrix& w, Index g, Index ahead, Mat& y, Index m0, Index n) {
  if constexpr (NX > 0) {
    if (n == NX) return tile<G, NX>(x, w, g, ahead, y, m0);
    tail_tile<G, NX - 1>(x, w, g, ahead, y, m0, n);
  }
}

// Groups of weight rows to prefetch ahead at batch 1 (the old per-row kernel's sweep put 2
// tiles at the best, issue 13).
constexpr Index kPrefetchGroups = 2;

// The work as in ops.cpp's row_stable: items (chunk of 64 input rows, group of 16 weight rows),
// chunk-major so weights stream once per chunk, in tasks of ~2^16 multiply-adds. A group's
// weights (5-15 KB at these widths) stay in L1 while the chunk's rows pass over them.
template <class G>
void q8_linear(const Q8Rows& x, const WeightMatrix& w, Mat& y) {
  const Index M = x.rows, N = w.rows(), K = w.cols(), groups = w.groups();
  y.resize(M, N);
  constexpr Index kChunk = 64, kTaskMacs = Index(1) << 16;
  const Index n_chunks = (M + kChunk - 1) / kChunk;
  const Index items_per_task = std::max<Index>(1, kTaskMacs / std::max<Index>(kGroup * K * std::min(M, kChunk), 1));
  const Index ahead = kPrefetchGroups * x.blocks * G::kBytes;  // past the end: harmless, never faults
  parallel_for(n_chunks * groups, items_per_task, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) {
      const Index c0 = (i / groups) * kChunk, c1 = std::min(M, c0 + kChunk), g = i % groups;
      Index m = c0;
      for (; m + kTileInputs <= c1; m += kTileInputs) tile<G, kTileInputs>(x, w, g, ahead, y, m);
      tail_tile<G, kTileInputs - 1>(x, w, g, ahead, y, m, c1 - m);
    }
  });
}

template <class G>
void q8_linear_scalar(const Q8Rows& x, const WeightMatrix& w, Mat& y) {
  y.resize(x.rows, w.rows());
  for (Index r = 0; r < x.rows; ++r)
    for (Index n = 0; n < w.rows(); ++n) y(r, n) = dot_scalar<G>(x, r, w, n);
}

// Checks the operands, rounds x and runs `run` with the type's Group on the interleaved weights.
template <class Run>
void with_q8_operands(const Mat& x, const WeightMatrix& w, Mat& y, Run run) {
  require(q8_linear_supports(w), std::string("linear_q8: weights of type ") + ggml_type_name(w.type()) + " and width " +
                                     std::to_string(w.cols()) + " (Q8_0, Q4_0 or Q4_1 with whole 32-value blocks)");
  require(x.cols() == w.cols(), "linear: input width " + std::to_string(x.cols()) + " but weight rows of " +
                                    std::to_string(w.cols()));
  if (!w.interleaved()) {  // a copy per call: models are interleaved once (interleave_q8_weights)
    const WeightMatrix p = w.interleave_rows();
    return with_q8_operands(x, p, y, run);
  }
  thread_local Q8Rows q;  // the caller's scratch: grows once
  to_q8_rows(x, q);
  switch (w.type()) {
    case GgmlType::Q8_0: return run(Group<GgmlType::Q8_0>{}, q, w);
    case GgmlType::Q4_0: return run(Group<GgmlType::Q4_0>{}, q, w);
    default: return run(Group<GgmlType::Q4_1>{}, q, w);
  }
}

}  // namespace

bool q8_linear_supports(const WeightMatrix& w) {
  const GgmlType t = w.type();
  return (t == GgmlType::Q8_0 || t == GgmlType::Q4_0 || t == GgmlType::Q4_1) && w.cols() % kBlock == 0;
}

void interleave_q8_weights(Weights& w) {
  const auto one = [](WeightMatrix& m) {
    if (!m.empty() && q8_linear_supports(m) && !m.interleaved()) m = m.interleave_rows();
  };
  one(w.tok_embd);
  one(w.output);
  for (auto& l : w.layers)
    for (WeightMatrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) one(*m);
}

void linear_q8(const Mat& x, const WeightMatrix& w, Mat& y) {
  with_q8_operands(x, w, y, [&]<class G>(G, const Q8Rows& q, const WeightMatrix& p) { q8_linear<G>(q, p, y); });
}

void linear_q8_scalar(const Mat& x, const WeightMatrix& w, Mat& y) {
  with_q8_operands(x, w, y, [&]<class G>(G, const Q8Rows& q, const WeightMatrix& p) { q8_linear_scalar<G>(q, p, y); });
}

}  // namespace cokv
