// Head-level KV decoding of K budget policies against one prefilled prompt, together.
//
// The prompt's K/V (PromptKV) are shared by every policy and never copied per policy in the
// index-view mode: each (layer, KV head) holds the distinct kept sets its policies use (a
// coalition batch has two: the whole prompt and the window, both slices of the prompt; ranked
// sets are gathered per use). Each policy has its own K/V for the tokens it generates. One
// step feeds one new token per policy, so every weight matrix is read once per step for all K
// (GEMM, not GEMV); attention is GEMMs of each policy's query rows against its kept keys, in
// parallel over (KV head, policy) tiles.
//
// Compacted mode builds the real compressed cache instead: per layer one flat [sum of kept
// lengths, D] K and V with per-set offsets (AdaKV's layout; a set several policies of the
// batch share is stored once), so the memory saving is real. Both modes do the same
// arithmetic and give identical outputs. A policy's results do not depend on which other
// policies share its batch, to the bit: the linear layers are row-stable (Matmul::RowStable)
// and attention GEMM tiles never mix policies.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kv/budget.h"
#include "kv/scorers.h"
#include "runtime/prefill.h"

namespace cokv {

struct Policy {
  BudgetVector budget;               // [L*G] prompt tokens kept per KV head
  const Rankings* ranking = nullptr;  // needed when some budget is between window and T
  int window = 8;                    // recent prompt tokens kept (ranking->window when set)
};

struct DecodeOptions {
  bool compacted = false;
};

struct GenOptions : DecodeOptions {
  int max_new = 32;
  std::vector<int32_t> stop;  // generation ends after one of these (not included in tokens)
};

struct GenResult {
  std::vector<int32_t> tokens;  // generated tokens, stop token excluded
  bool stopped = false;         // ended on a stop token
  int64_t kept_tokens = 0;      // prompt tokens kept, summed over KV heads
  size_t kv_bytes = 0;          // kept_tokens x 2 (K and V) x head_dim x the cache's element
                                // bytes (4 on the CPU backend, 2 on the CUDA backend: bf16/fp16)
};

struct LoglikResult {
  double loglik = 0.0;             // sum of log p(answer token) under teacher forcing
  std::vector<float> token_logp;   // per answer token
  int64_t kept_tokens = 0;
  size_t kv_bytes = 0;
};

// Greedy generation for every policy. The first token comes from the prefill logits (full
// cache) and is the same for all policies; budgets act from the second token on.
std::vector<GenResult> generate(const Model& m, const PromptKV& p, std::span<const Policy> policies,
                                const GenOptions& opt);

// Teacher-forced log-likelihood of `answer` after the prompt, for every policy.
std::vector<LoglikResult> loglik(const Model& m, const PromptKV& p, std::span<const Policy> policies,
                                 std::span<const int32_t> answer, const DecodeOptions& opt = {});

// Prompt tokens a policy keeps, summed over heads, and the bytes that takes (K and V of
// element_bytes each: fp32 on the CPU).
int64_t policy_kept_tokens(const Policy& pol, int n_tokens);
size_t kv_bytes_for(int64_t kept_tokens, int head_dim, size_t element_bytes = sizeof(float));

}  // namespace cokv
