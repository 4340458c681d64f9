// Philox4x32-10 and the keyed RandomStream (see rng.h). Constants from the Philox paper / Random123:
// multipliers 0xD2511F53, 0xCD9E8D57; Weyl key increments 0x9E3779B9 (golden ratio), 0xBB67AE85
// (sqrt(3) - 1).
#include "core/rng.h"

#include <utility>

namespace cokv {

namespace {

constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;

inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = uint64_t(a) * uint64_t(b);
  hi = uint32_t(p >> 32);
  lo = uint32_t(p);
}

}  // namespace

philox_ctr philox4x32(philox_ctr c, philox_key k, int rounds) {
  for (int r = 0; r < rounds; ++r) {
    // The key is bumped before every round but the first (Random123's philox4x32_R).
    if (r > 0) {
      k[0] += kWeyl0;
      k[1] += kWeyl1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kMul0, c[0], hi0, lo0);
    mulhilo(kMul1, c[2], hi1, lo1);
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
  }
  return c;
}

RandomStream::RandomStream(uint64_t seed, uint32_t id0, uint32_t id1, uint32_t id2)
    : key_{uint32_t(seed), uint32_t(seed >> 32)}, ctr_{0, id2, id1, id0}, block_{} {}

uint32_t RandomStream::next_u32() {
  if (used_ == 4) {
    block_ = philox4x32(ctr_, key_);
    ++ctr_[0];
    used_ = 0;
  }
  return block_[used_++];
}

uint64_t RandomStream::next_u64() {
  const uint64_t hi = next_u32();
  return (hi << 32) | next_u32();
}

double RandomStream::uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }

uint32_t RandomStream::bounded(uint32_t n) {
  // Lemire (2019): the high word of x * n is uniform on [0, n) once the low word's biased
  // region (low < 2^32 mod n) is rejected.
  uint64_t m = uint64_t(next_u32()) * n;
  uint32_t low = uint32_t(m);
  if (low < n) {
    const uint32_t threshold = uint32_t(-n) % n;
    while (low < threshold) {
      m = uint64_t(next_u32()) * n;
      low = uint32_t(m);
    }
  }
  return uint32_t(m >> 32);
}

void RandomStream::permutation(std::span<int> out) { subset(out, int(out.size())); }

void RandomStream::subset(std::span<int> out, int k) {
  const int n = int(out.size());
  for (int i = 0; i < n; ++i) out[i] = i;
  // The last swap of a full permutation (i = n-1) is a no-op, so it draws nothing.
  const int steps = k < n ? k : n - 1;
  for (int i = 0; i < steps; ++i) {
    const int j = i + int(bounded(uint32_t(n - i)));
    std::swap(out[i], out[j]);
  }
}

}  // namespace cokv
