// Rows of logits to what decoding needs: the argmax (greedy; ties to the lowest index, as
// std::max_element) and the log-probability of a target token (teacher forcing:
// l[t] - log sum_j exp(l[j])). CPU twins: argmax (lib/runtime/prefill.h) and log_softmax_at
// (lib/runtime/batch_decode.cpp, in double there; fp32 here with sums in a fixed tree).
//
// Legend: R rows, V vocabulary.
#pragma once
#include "common.cuh"

COKV_KERNELS_BEGIN

// logits [R, V] (row stride). argmax [R] or null; targets [R] and logp [R], or null.
void logits_rows(const float* logits, int64_t stride, int n_rows, int n_vocab, int32_t* argmax,
                 const int32_t* targets, float* logp, cudaStream_t stream);

COKV_KERNELS_END
