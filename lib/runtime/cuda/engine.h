// The CUDA backend's forward passes over the kernels (kernels/*.cuh), one function template per
// Backend operation, instantiated for the two activation types (bf16, f16: the matrices'):
//   prefill   per layer rms_norm -> Q|K|V GEMM (+bias) -> rope (q and k in one call) ->
//             prefill_attention (keeping K/V, the window's queries and their log-sum-exp) ->
//             O GEMM into the fp32 residual -> rms_norm -> gate|up GEMM -> swiglu -> down GEMM
//             into the residual; the final norm and the LM head on the last row (prefill.cpp)
//   rank      SnapKV / AhaKV / Task-KV scores per layer from the kept window, positional tiers,
//             one radix ranking of all L*G heads (rank.cpp)
//   decode    the policies' kept sets (prompt slices, or compacted), then steps of
//             embed -> layers (decode attention over a DecodePlan) -> LM head -> argmax / log p,
//             every GEMM in row tiles of kDecodeRowTile (decode.cpp)
// Legend: weights.h's (L, H, G, D, E, F, V, P), T prompt tokens, W window rows kept, R rows of
// a decode step, S policies, N = T - window scored positions.
#pragma once
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "runtime/backend.h"
#include "runtime/cuda/weights.h"

COKV_CUDA_BACKEND_BEGIN

// Decode GEMMs are issued in calls of exactly this many rows (the last padded): one shape per
// weight matrix whatever the batch, so cuBLAS takes the same algorithm for every row of every
// batch, which is what makes a policy's bits independent of its companions. 128 rows are still
// weight-bandwidth bound on an H100/H200 (the ridge is ~300 FLOP/byte), so padding K = 1 costs
// nothing there, and a loglik batch of 32 x 31 rows reads the weights 8 times.
constexpr int kDecodeRowTile = 128;
// Prefill runs the MLP in row blocks of this many tokens (its [T, 2F] intermediate dominates
// the scratch memory of long prompts).
constexpr int kPrefillMlpRows = 4096;

// Keys per decode-attention chunk, from the prompt length alone (never the batch: a vector's
// chunks, hence its bits, must not depend on its companions): 256, or more so that a whole
// prompt set has at most 32 chunks (the partials then stay well below the keys' bytes).
int decode_chunk(int n_tokens);

// Everything the forward passes read: the config, the sizes, the device, the weights.
struct DeviceModel {
  ModelConfig cfg;
  Dims d;
  DeviceContext& dc;
  DeviceWeights w;
  std::shared_ptr<BackendCounters> counters;
};

// The CUDA prompt state. Its K/V stay on the device in the activation type; host_kv() copies
// them (once) into the CPU layout.
struct CudaState final : PromptState {
  const DeviceModel* owner = nullptr;
  int T = 0, W = 0;  // tokens; window query rows kept
  bool has_kv = false;
  DeviceBlock k, v;     // [L][T][GD] post-RoPE keys, and values
  DeviceBlock q_win;    // [L][W][HD] post-RoPE queries of rows T-W .. T-1
  DeviceBlock lse_win;  // [L][H][W] those rows' log-sum-exp over their keys (scale 1/sqrt(D))
  std::vector<float> logits;                // [V] at the last position
  mutable std::unique_ptr<PromptKV> host;  // host_kv's copy
  std::shared_ptr<BackendCounters> counters;
  mutable size_t n_bytes = 0;

  ~CudaState() override;
  int n_tokens() const override { return T; }
  std::span<const float> last_logits() const override { return logits; }
  size_t bytes() const override { return n_bytes; }
  void count(size_t more) const;  // adds to bytes() and the counters
};

// y (+)= x w^T (+ bias) for `rows` rows: x [rows, w.cols] in w's type (row stride ldx), y
// [rows, w.rows] in yt (F32, or w's type) with row stride ldy.
void gemm(const DeviceModel& m, const void* x, int64_t ldx, const DeviceMatrix& w, void* y, DType yt, int64_t ldy,
          int rows, bool accumulate, const float* bias = nullptr);
// The same in calls of exactly kDecodeRowTile rows: x and y hold round_up(rows, tile) rows.
void gemm_tiled(const DeviceModel& m, const void* x, int64_t ldx, const DeviceMatrix& w, void* y, DType yt,
                int64_t ldy, int rows, bool accumulate, const float* bias = nullptr);
inline int round_up_rows(int rows) { return (rows + kDecodeRowTile - 1) / kDecodeRowTile * kDecodeRowTile; }

template <class T>
std::unique_ptr<CudaState> prefill(const DeviceModel& m, std::span<const int32_t> tokens, const PrefillOptions& opt);
template <class T>
Rankings rank(const DeviceModel& m, const CudaState& s, const ScorerConfig& cfg);
template <class T>
void copy_to_host(const DeviceModel& m, const CudaState& s, PromptKV& out);
template <class T>
std::vector<GenResult> generate(const DeviceModel& m, const CudaState& s, std::span<const Policy> policies,
                                const GenOptions& opt);
template <class T>
std::vector<LoglikResult> loglik(const DeviceModel& m, const CudaState& s, std::span<const Policy> policies,
                                 std::span<const int32_t> answer, const DecodeOptions& opt);

// f(std::type_identity<T>{}) for the storage type t (bf16 or f16).
template <class F>
decltype(auto) dispatch(DType t, F&& f) {
  switch (t) {
    case DType::BF16:
      return f(std::type_identity<bf16>{});
    case DType::F16:
      return f(std::type_identity<f16>{});
    case DType::F32:
      break;
  }
  throw Error("cuda backend: activations in f32 are not supported (bf16 or f16)");
}

COKV_CUDA_BACKEND_END
