// Radix ranking kernel (see rank.cuh).
#include "device.cuh"
#include "rank.cuh"

COKV_KERNELS_BEGIN

constexpr int kRankThreads = 256, kRankWarps = kRankThreads / 32;
constexpr int kDigitBits = 4, kBins = 1 << kDigitBits, kScorePasses = 32 / kDigitBits;

// Ascending keys for descending scores: the float's bits made order-preserving, inverted.
static __device__ __forceinline__ uint32_t score_key(float s) {
  uint32_t u = __float_as_uint(s == 0.f ? 0.f : s);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return ~u;
}

static __global__ void __launch_bounds__(kRankThreads)
    rank_kernel(const float* __restrict__ scores, int64_t stride, const uint8_t* __restrict__ tier, int n,
                int32_t* __restrict__ order, int32_t* __restrict__ rank, int64_t out_stride, uint32_t* ws) {
  COKV_SHARED(int, base, kBins);  // next free output slot per digit
  COKV_SHARED(int, warp_count, kRankWarps* kBins);
  COKV_SHARED(int, warp_off, kRankWarps* kBins);
  COKV_SHARED(int, tile_total, kBins);
  const int64_t h = blockIdx.x;
  const float* s = scores + h * stride;
  const uint8_t* tr = tier ? tier + h * stride : nullptr;
  // Ping-pong buffers of (key, position), 2 x 2 x N words per head.
  uint32_t* buf[2] = {ws + h * 4 * int64_t(n), ws + h * 4 * int64_t(n) + 2 * int64_t(n)};
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const unsigned lanes_below = (1u << lane) - 1;
  const int n_passes = kScorePasses + (tr ? 1 : 0);

  for (int pass = 0; pass < n_passes; ++pass) {
    const uint32_t* src = buf[pass % 2];
    uint32_t* dst = buf[(pass + 1) % 2];
    const bool first = pass == 0, last = pass == n_passes - 1, tier_pass = pass == kScorePasses;
    // The element at slot i of this pass: its key and position, and its digit.
    auto element = [&](int i, uint32_t& key, uint32_t& pos) {
      if (first)
        key = score_key(s[i]), pos = uint32_t(i);
      else
        key = src[i], pos = src[n + i];
    };
    auto digit = [&](uint32_t key, uint32_t pos) {
      return tier_pass ? kBins - 1 - int(tr[pos]) : int(key >> (kDigitBits * pass)) & (kBins - 1);
    };

    if (threadIdx.x < kBins) base[threadIdx.x] = 0;
    for (int e = threadIdx.x; e < kRankWarps * kBins; e += kRankThreads) warp_count[e] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += kRankThreads) {
      uint32_t key, pos;
      element(i, key, pos);
      atomicAdd(&base[digit(key, pos)], 1);
    }
    __syncthreads();
    if (threadIdx.x == 0)
      for (int d = 0, run = 0; d < kBins; ++d) {
        const int c = base[d];
        base[d] = run;
        run += c;
      }
    __syncthreads();

    for (int t0 = 0; t0 < n; t0 += kRankThreads) {
      const int i = t0 + int(threadIdx.x);
      const bool valid = i < n;
      uint32_t key = 0, pos = 0;
      if (valid) element(i, key, pos);
      const int d = valid ? digit(key, pos) : 0;
      // Lanes of this warp holding the same digit, from one ballot per digit bit.
      unsigned peers = __ballot_sync(0xffffffffu, valid);
      for (int b = 0; b < kDigitBits; ++b) {
        const unsigned set = __ballot_sync(0xffffffffu, valid && (d >> b & 1));
        peers &= (d >> b & 1) ? set : ~set;
      }
      const int below = __popc(peers & lanes_below);
      if (valid && below == 0) warp_count[warp * kBins + d] = __popc(peers);
      __syncthreads();
      if (threadIdx.x < kBins) {
        int run = 0;
        for (int w = 0; w < kRankWarps; ++w) {
          warp_off[w * kBins + threadIdx.x] = run;
          run += warp_count[w * kBins + threadIdx.x];
        }
        tile_total[threadIdx.x] = run;
      }
      __syncthreads();
      if (valid) {
        const int slot = base[d] + warp_off[warp * kBins + d] + below;
        if (last) {
          order[h * out_stride + slot] = int32_t(pos);
          if (rank) rank[h * out_stride + pos] = slot;
        } else {
          dst[slot] = key, dst[n + slot] = pos;
        }
      }
      __syncthreads();
      if (threadIdx.x < kBins) {
        base[threadIdx.x] += tile_total[threadIdx.x];
        for (int w = 0; w < kRankWarps; ++w) warp_count[w * kBins + threadIdx.x] = 0;
      }
      __syncthreads();
    }
  }
}

size_t rank_workspace_bytes(int n_heads, int n) { return size_t(n_heads) * n * 4 * sizeof(uint32_t); }

void rank_positions(const float* scores, int64_t stride, const uint8_t* tier, int n_heads, int n,
                    int32_t* order, int32_t* rank, int64_t out_stride, void* workspace, cudaStream_t stream) {
  require_arg(stride >= n && out_stride >= n, "rank_positions", "row strides shorter than a row");
  if (n <= 0 || n_heads <= 0) return;
  launch("rank_positions", rank_kernel, dim3(n_heads), dim3(kRankThreads), 0, stream, scores, stride, tier, n,
         order, rank, out_stride, static_cast<uint32_t*>(workspace));
}

COKV_KERNELS_END
