// Embedding gather: out[r, :] = table[tokens[r], :] widened to fp32 (the residual stream).
// CPU twin: the first loop of prefill (x.row(t) = tok_embd.row(tokens[t])).
// Token ids come from the host, which checks them against the vocabulary; an id outside
// [0, V) that slips through gives a row of NaN, never another token's row.
//
// Legend: V vocabulary, E features, R rows.
#pragma once
#include "common.cuh"

COKV_KERNELS_BEGIN

template <class T>
void embed(const T* table, int64_t table_stride, int n_vocab, const int32_t* tokens, int n_rows, int n_cols,
           float* out, int64_t out_stride, cudaStream_t stream);

COKV_KERNELS_END
