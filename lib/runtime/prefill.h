// Prefill on the CPU: the full-cache forward pass over a prompt. It keeps what head-level KV
// needs afterwards (kv/prompt_kv.h): every layer's K/V per KV head, the last window of queries
// (for the eviction scorers) and the last position's logits. Prefill always attends with the
// full cache; compression happens only after it (as SnapKV and CoKV do).
//
// Dimension legend: T prompt tokens, L layers, H query heads, G KV heads, D head dim,
// W window query rows kept, E hidden, V vocab.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "kv/prompt_kv.h"
#include "runtime/model.h"
#include "runtime/ops.h"

namespace cokv {

// A layer's output projection applied to one query head: out [t, E] = rows [t, D] x Wo_h^T,
// Wo_h = the head's D columns of Wo [E, H*D] (the head's contribution to the residual). The
// backend hands it to observers, so an observer needs no weights of its own.
class HeadProjection {
 public:
  virtual ~HeadProjection() = default;
  virtual void project(int il, int h, const Mat& rows, Mat& out) const = 0;
};

// The CPU model's output projections.
class ModelHeadProjection : public HeadProjection {
 public:
  explicit ModelHeadProjection(const Model& m) : m_(m) {}
  void project(int il, int h, const Mat& rows, Mat& out) const override;

 private:
  const Model& m_;
  mutable Mat decoded_;           // [E, H*D] Wo of decoded_layer_ in fp32 (compact weights only)
  mutable int decoded_layer_ = -1;
};

// Observes each layer during prefill (BaKlaVa-style profiling), without a second model.
// x_in: residual entering the layer [T, E]; attn_heads: per-head attention outputs before
// the output projection [T, H*D]; x_mid: residual after attention [T, E]; x_out: after the MLP;
// wo: the layer's output projection per head.
struct LayerObserver {
  virtual ~LayerObserver() = default;
  virtual void on_layer(int il, const Mat& x_in, const Mat& attn_heads, const Mat& x_mid, const Mat& x_out,
                        const HeadProjection& wo) = 0;
};

struct PrefillOptions {
  int n_query_rows = 32;              // W: window queries kept for scorers (SnapKV 8, AhaKV 32)
  LayerObserver* observer = nullptr;
  bool keep_kv = true;                // false: only logits (plain forward)
};

// What every backend's prefill refuses (empty, far beyond the context, past a sliding window cokv
// does not implement, token ids outside the vocabulary); throws naming the rule.
void check_prompt(const ModelConfig& c, std::span<const int32_t> tokens);
PromptKV prefill(const Model& m, std::span<const int32_t> tokens, const PrefillOptions& opt = {});

// Plain full-cache greedy generation by repeated full forward passes. Quadratic and slow:
// an independent reference for tests, not for use.
std::vector<int32_t> greedy_reference(const Model& m, std::vector<int32_t> tokens, int max_new);

int argmax(std::span<const float> v);

}  // namespace cokv
