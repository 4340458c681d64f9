// Rotary position embedding, in two steps as the CPU does it (RopeTable, rope_rows in
// lib/runtime/ops.h): rope_cache builds cos/sin per row from the row's position and the
// per-pair inverse frequencies the host computed (so rope-scaling variants such as
// Llama-3.1's "llama3" only change the host's frequencies), then rope rotates every head of
// the rows in place. The angle pos * inv_freq is formed and reduced in double, as the CPU
// does, so the tables match the CPU's to the float.
//
// Legend: R rows, H heads, D head dim, P = rope_dim / 2 rotated pairs (rope_dim <= D).
#pragma once
#include "common.cuh"

COKV_KERNELS_BEGIN

// Which dimensions rotate together. Adjacent: (x[2i], x[2i+1]), the llama family in GGUF
// (RopeStyle::Norm). HalfSplit: (x[i], x[i + P]), NeoX / qwen2 (RopeStyle::Neox).
enum class RopePairs { Adjacent, HalfSplit };

// cos, sin [R, P]: cos(pos[r] * inv_freq[i]), sin(...). pos [R], inv_freq [P] (double).
void rope_cache(const int32_t* pos, int n_rows, const double* inv_freq, int n_pairs, float* cos, float* sin,
                cudaStream_t stream);

// x [R, H*D] (row stride x_stride), every head rotated in place with the row's cos/sin [R, P].
template <class T>
void rope(T* x, int64_t x_stride, int n_rows, int n_heads, int head_dim, int rope_dim, RopePairs pairs,
          const float* cos, const float* sin, cudaStream_t stream);

COKV_KERNELS_END
