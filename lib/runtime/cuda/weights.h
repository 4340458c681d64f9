// The model on the device: every matrix in one 16-bit storage type (bf16, or fp16 when the
// file stores its matrices so), norms and biases in fp32, in one arena block. Q|K|V and
// gate|up are fused at upload into one matrix each ([H*D + 2*G*D, E] and [2F, E]), so a layer
// is four GEMMs. Uploaded matrix by matrix through a small staging buffer: no second host copy.
//
// Dimension legend (as kernels/): L layers, H query heads, G KV heads, D head dim, E hidden,
// F ffn, V vocab, P rotated pairs per head (rope_dim / 2).
#pragma once
#include <functional>
#include <vector>

#include "model/config.h"
#include "model/weights.h"
#include "runtime/cuda/device.h"

COKV_CUDA_BACKEND_BEGIN

// The sizes every part of the backend uses.
struct Dims {
  int L = 0, H = 0, G = 0, D = 0, E = 0, F = 0, V = 0, P = 0;
  int HD = 0, GD = 0, QKVD = 0, gs = 0;  // H*D, G*D, H*D + 2*G*D, H / G
  explicit Dims(const ModelConfig& c);
};

struct DeviceMatrix {
  const void* p = nullptr;  // [rows, cols], row stride ld (elements)
  DType type = DType::BF16;
  int rows = 0, cols = 0;
  int64_t ld = 0;
  // The block of columns [c0, c0 + n) (a view; a head's slice of Wo).
  DeviceMatrix columns(int c0, int n) const;
};

struct DeviceLayer {
  const float* attn_norm = nullptr;  // [E]
  DeviceMatrix wqkv;                 // [QKVD, E]
  const float* bqkv = nullptr;       // [QKVD] or null (qwen2's biases)
  DeviceMatrix wo;                   // [E, HD]
  const float* ffn_norm = nullptr;   // [E]
  DeviceMatrix wgu;                  // [2F, E]: gate rows, then up rows
  DeviceMatrix wdown;                // [E, F]
};

struct DeviceWeights {
  DType type = DType::BF16;  // of every matrix (the activations' type too)
  DeviceMatrix tok_embd;     // [V, E]
  DeviceMatrix lm_head;      // [V, E] (tok_embd when tied)
  const float* out_norm = nullptr;
  std::vector<DeviceLayer> layers;
  const double* inv_freq = nullptr;  // [P] RoPE inverse frequencies (RopeTable's, in double)
  size_t bytes = 0;
  DeviceBlock storage;
};

// The model's matrices (host weights of any type: each decoded to fp32 a slice at a time) uploaded
// in `type` (BF16 or F16), exactly when the host holds that type already.
DeviceWeights upload_weights(const Weights& w, const ModelConfig& c, DType type, const DeviceContext& dc);
// F16 when every matrix is stored as F16 (then kept so), else BF16.
DType device_type(const Weights& w);
// Random weights of c's shape, made on the host a slice at a time (benchmarks: an 8B model in
// seconds, without a file): matrices uniform in +-sqrt(3 / fan_in) (unit-variance outputs),
// norms 1, embeddings uniform in +-1. Deterministic.
DeviceWeights random_weights(const ModelConfig& c, DType type, const DeviceContext& dc);

// RoPE's inverse frequencies base^(-2i/rope_dim) / factor_i (Llama-3.1's rope_freqs, else 1), in
// double, as RopeTable::build forms them.
std::vector<double> rope_inv_freq(const ModelConfig& c);

COKV_CUDA_BACKEND_END
