// Ranking of prompt positions per KV head, best first: descending score, ties by ascending
// position (the CPU's stable sort in sort_scores, lib/kv/scorers.cpp); with tiers, a higher
// tier first and the score inside a tier (Streaming, Task-KV). The full order is computed,
// so every budget of every policy reads its top positions from one ranking; rank (the
// inverse permutation) is what compaction needs.
// One block per head runs a stable LSD radix sort over 4-bit digits of the scores' order
// key (8 passes, one more for tiers), through a workspace in global memory. Scores must not
// be NaN; -0 ranks as +0 (as the CPU's comparison has it).
//
// Legend: G heads (rows), N positions per head.
#pragma once
#include "common.cuh"

COKV_KERNELS_BEGIN

size_t rank_workspace_bytes(int n_heads, int n);

// scores [G, N] (row stride), tier [G, N] or null (same stride), order [G, N]: positions
// best first; rank [G, N] or null: rank[g, order[g, i]] = i. workspace: rank_workspace_bytes.
void rank_positions(const float* scores, int64_t stride, const uint8_t* tier, int n_heads, int n,
                    int32_t* order, int32_t* rank, int64_t out_stride, void* workspace, cudaStream_t stream);

COKV_KERNELS_END
