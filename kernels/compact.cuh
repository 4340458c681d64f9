// Compaction: the compressed cache in AdaKV's flat per-head variable-length layout, as the
// CPU's compacted decode builds it (kept_positions in lib/kv/budget.h, build_compacted in
// lib/runtime/batch_decode.cpp). A kept set of one KV head keeps the scored positions
// p < N whose rank is below n_ranked, plus the window [T - w, T); its rows are copied in
// ascending position order to rows dst .. dst + n_ranked + w - 1 of k_out and v_out. The
// host knows every set's size (n_ranked + w), so it lays out dst without a round trip.
//
// Legend: T prompt tokens, w window (w <= T), N = T - w scored positions, D head dim.
#pragma once
#include "common.cuh"

COKV_KERNELS_BEGIN

struct CompactSet {
  int64_t src = 0;                // element offset of the head's position-0 row in k and v
  int64_t src_stride = 0;         // elements between consecutive positions
  const int32_t* rank = nullptr;  // [N]: rank of each scored position (rank_positions); may
                                  // be null when n_ranked is 0 or N
  int n_tokens = 0;               // T
  int window = 0;                 // w (already min(window, T))
  int n_ranked = 0;               // 0 .. N
  int64_t dst = 0;                // first output row
};

// sets: device array of n_sets. k_out, v_out [rows, D] dense; pos_out [rows] or null: the
// kept positions.
template <class T>
void compact_kv(const CompactSet* sets, int n_sets, const T* k, const T* v, int head_dim, T* k_out, T* v_out,
                int32_t* pos_out, cudaStream_t stream);

COKV_KERNELS_END
