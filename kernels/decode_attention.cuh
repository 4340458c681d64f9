// Decode attention over per-head variable-length key sets, batched over policies.
//
// A query vector (one token of one policy, one query head) attends the union of its reads:
// a prompt key set of its KV head (shared by every policy of the batch that keeps the same
// positions: a coalition batch has two per head, the whole prompt and the window) and the
// policy's own generated keys, each read seeing keys [0, n_visible) of its set (causal for
// generated tokens). Its output is softmax(scale q.k) v over that union. CPU twin:
// Decoder::attend_tile in lib/runtime/batch_decode.cpp (zeroed heads: outputs with no reads
// are zero).
//
// The host plans (DecodePlan): reads are grouped by set, each set is cut into chunks of
// `chunk` keys, and one thread block takes one chunk against up to 16 of the set's query
// vectors, so a chunk is loaded once for every policy that shares it. Each (read, chunk)
// leaves a partial (max, sum, unnormalised output); a second kernel merges the partials of
// each output vector in a fixed order. Chunk boundaries depend only on the set and the chunk
// size, never on the rest of the batch, so a vector's output is bitwise the same alone or
// batched (the CPU's row-stable contract).
//
// Legend: S key sets, N keys of a set, R reads (query vector x set), O output vectors,
// P partials (read x chunk), D head dim (64 or 128).
#pragma once
#include <span>
#include <vector>

#include "common.cuh"

COKV_KERNELS_BEGIN

struct DecodeSet {
  const void* k = nullptr;  // key j at k + j*stride elements, j < n_keys (same for v)
  const void* v = nullptr;
  int64_t stride = 0;
  int n_keys = 0;
};

struct DecodeRead {
  int set = 0;        // index into the sets
  int64_t q = 0;      // element offset of the query vector in q
  int n_visible = 0;  // keys [0, n_visible) of the set are visible (<= n_keys)
  int out = 0;        // output vector the result goes to
};

// Device-side records (plain data; DecodePlan lays them out).
struct DecodeJob {
  const void* k;
  const void* v;
  int64_t stride;
  int key0, n_keys;  // this chunk: keys key0 .. key0 + n_keys - 1 of its set
  int vec0, n_vec;   // vectors vec0 .. vec0 + n_vec - 1 (<= 16)
  int chunk;         // chunk index within the set
};
struct DecodeVec {
  int64_t q;
  int n_visible;
  int part0, n_parts;  // partial slots part0 + chunk
};
struct DecodePlanView {
  const DecodeJob* jobs = nullptr;
  const DecodeVec* vecs = nullptr;
  const int32_t* out_ptr = nullptr;     // [O + 1]: vectors of output o are out_vecs[out_ptr[o] ..]
  const int32_t* out_vecs = nullptr;    // [R]
  const int64_t* out_offset = nullptr;  // [O]: element offset of output o in out
  int n_jobs = 0, n_out = 0;
};

class DecodePlan {
 public:
  static constexpr int kDefaultChunk = 256;
  // out_offsets[o]: element offset of output vector o. chunk: keys per job (a multiple of 32).
  DecodePlan(std::span<const DecodeSet> sets, std::span<const DecodeRead> reads,
             std::span<const int64_t> out_offsets, int chunk = kDefaultChunk);

  size_t bytes() const;                           // of the packed records
  void pack(void* host) const;                    // writes bytes() bytes, for one copy to the device
  DecodePlanView view(const void* device) const;  // pointers into the device copy of pack()
  int n_jobs() const { return int(jobs_.size()); }
  int n_out() const { return int(out_offset_.size()); }
  int n_parts() const { return n_parts_; }
  // Floats of the partials workspace decode_attention needs.
  size_t workspace_floats(int head_dim) const { return size_t(n_parts_) * (head_dim + 2); }

 private:
  std::vector<DecodeJob> jobs_;
  std::vector<DecodeVec> vecs_;
  std::vector<int32_t> out_ptr_, out_vecs_;
  std::vector<int64_t> out_offset_;
  int n_parts_ = 0;
};

// out[out_offset[o] + d] for every output vector; q and out row-major as the offsets say.
// partials: plan.workspace_floats(head_dim) floats. scale: the softmax scale (1/sqrt(D)).
template <class T>
void decode_attention(const DecodePlanView& plan, const T* q, T* out, float* partials, int head_dim,
                      float scale, cudaStream_t stream);

COKV_KERNELS_END
