// Emulated nvcuda::wmma (tensor-core fragments), 16x16x16 with fp16/bf16 inputs and fp32
// accumulators, the shapes cokv's kernels use. A fragment's element-to-lane mapping is
// unspecified in CUDA, so kernels may only load, store, fill and multiply fragments; here
// lane l holds the elements l, l+32, ... of the tile in row-major order. The *_sync calls are
// warp collectives over all 32 lanes; products are exact and summed in fp32 in k order (the
// GPU's accumulation order inside an MMA differs, within fp32 rounding). As on the GPU, the
// pointer must be 32-byte aligned and ldm a multiple of 16 bytes.
#pragma once
#include <type_traits>

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static constexpr int kRows = std::is_same_v<Use, matrix_b> ? K : M;
  static constexpr int kCols = std::is_same_v<Use, matrix_a> ? K : N;
  static constexpr int num_elements = kRows * kCols / 32;
  T x[num_elements];
};

namespace detail {

void check_ptr(const void* p, unsigned ldm, size_t elem_bytes, const char* what);

template <class F>
float elem(const F& f, int e) {  // element e (row-major) of the tile, read from its lane
  return float(f.x[e / 32]);
}

template <class FA, class FB, class FC, class FD>
void mma_combine(unsigned, ::cokv::emu::Lane* const* lanes) {
  constexpr int M = FA::kRows, K = FA::kCols, N = FB::kCols;
  float a[M * K], b[K * N], c[M * N];
  for (int e = 0; e < M * K; ++e) a[e] = float(static_cast<const FA*>(lanes[e % 32]->in[0])->x[e / 32]);
  for (int e = 0; e < K * N; ++e) b[e] = float(static_cast<const FB*>(lanes[e % 32]->in[1])->x[e / 32]);
  for (int e = 0; e < M * N; ++e) c[e] = static_cast<const FC*>(lanes[e % 32]->in[2])->x[e / 32];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float s = c[i * N + j];
      for (int k = 0; k < K; ++k) s += a[i * K + k] * b[k * N + j];
      static_cast<FD*>(lanes[(i * N + j) % 32]->out)->x[(i * N + j) / 32] =
          s;  // d may alias c: inputs read above
    }
}

inline void converge(const char* what) {
  ::cokv::emu::Lane mine;
  ::cokv::emu::warp_collective(
      0xffffffffu, what, [](unsigned, ::cokv::emu::Lane* const*) {}, mine);
}

}  // namespace detail

template <class Use, int M, int N, int K, class T, class L>
void load_matrix_sync(fragment<Use, M, N, K, T, L>& f, const T* p, unsigned ldm) {
  static_assert(!std::is_same_v<Use, accumulator>, "accumulators load with a layout_t");
  detail::check_ptr(p, ldm, sizeof(T), "wmma::load_matrix_sync");
  detail::converge("wmma::load_matrix_sync");
  using F = fragment<Use, M, N, K, T, L>;
  const int lane = ::cokv::emu::lane_id();
  for (int i = 0; i < F::num_elements; ++i) {
    const int e = lane + 32 * i, r = e / F::kCols, c = e % F::kCols;
    f.x[i] = std::is_same_v<L, row_major> ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r];
  }
}

template <int M, int N, int K>
void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p, unsigned ldm,
                      layout_t layout) {
  detail::check_ptr(p, ldm, sizeof(float), "wmma::load_matrix_sync");
  detail::converge("wmma::load_matrix_sync");
  const int lane = ::cokv::emu::lane_id();
  for (int i = 0; i < f.num_elements; ++i) {
    const int e = lane + 32 * i, r = e / N, c = e % N;
    f.x[i] = layout == mem_row_major ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r];
  }
}

template <int M, int N, int K>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm,
                       layout_t layout) {
  detail::check_ptr(p, ldm, sizeof(float), "wmma::store_matrix_sync");
  detail::converge("wmma::store_matrix_sync");
  const int lane = ::cokv::emu::lane_id();
  for (int i = 0; i < f.num_elements; ++i) {
    const int e = lane + 32 * i, r = e / N, c = e % N;
    (layout == mem_row_major ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r]) = f.x[i];
  }
}

template <class Use, int M, int N, int K, class T, class L, class V>
void fill_fragment(fragment<Use, M, N, K, T, L>& f, const V& v) {
  for (auto& x : f.x) x = T(v);
}

template <int M, int N, int K, class T, class LA, class LB>
void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, T, LA>& a,
              const fragment<matrix_b, M, N, K, T, LB>& b, const fragment<accumulator, M, N, K, float>& c) {
  using FA = fragment<matrix_a, M, N, K, T, LA>;
  using FB = fragment<matrix_b, M, N, K, T, LB>;
  using FC = fragment<accumulator, M, N, K, float>;
  ::cokv::emu::Lane mine;
  mine.in[0] = &a, mine.in[1] = &b, mine.in[2] = &c, mine.out = &d;
  ::cokv::emu::warp_collective(0xffffffffu, "wmma::mma_sync", &detail::mma_combine<FA, FB, FC, FC>, mine);
}

}  // namespace nvcuda::wmma
