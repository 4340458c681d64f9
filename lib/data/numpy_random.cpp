// NumPy SeedSequence + PCG64 + Generator.permutation, bit-exact (see numpy_random.h).
#include "data/numpy_random.h"

#include <numeric>
#include <utility>

namespace cokv::numpy_random {
namespace {

// SeedSequence constants (bit_generator.pyx).
constexpr uint32_t INIT_A = 0x43b0d7e5u, MULT_A = 0x931e8875u;
constexpr uint32_t INIT_B = 0x8b51f9ddu, MULT_B = 0x58f38dedu;
constexpr uint32_t MIX_MULT_L = 0xca01f9ddu, MIX_MULT_R = 0x4973f715u;
constexpr int XSHIFT = 16;  // 4 * 8 / 2

uint32_t hashmix(uint32_t value, uint32_t& hash_const) {
  value ^= hash_const;
  hash_const *= MULT_A;
  value *= hash_const;
  value ^= value >> XSHIFT;
  return value;
}

uint32_t mix(uint32_t x, uint32_t y) {
  uint32_t result = MIX_MULT_L * x - MIX_MULT_R * y;
  result ^= result >> XSHIFT;
  return result;
}

constexpr unsigned __int128 PCG_MULT =
    (static_cast<unsigned __int128>(0x2360ED051FC65DA4ull) << 64) | 0x4385DF649FCCF645ull;

}  // namespace

SeedSequence::SeedSequence(uint64_t entropy) {
  // _coerce_to_uint32_array(int): 32-bit words, least significant first; 0 -> [0].
  std::vector<uint32_t> words;
  if (entropy == 0) words.push_back(0);
  for (uint64_t v = entropy; v > 0; v >>= 32) words.push_back(static_cast<uint32_t>(v));
  // mix_entropy(pool, entropy) with an empty spawn key.
  uint32_t hash_const = INIT_A;
  for (size_t i = 0; i < 4; ++i) pool_[i] = hashmix(i < words.size() ? words[i] : 0u, hash_const);
  for (size_t src = 0; src < 4; ++src)
    for (size_t dst = 0; dst < 4; ++dst)
      if (src != dst) pool_[dst] = mix(pool_[dst], hashmix(pool_[src], hash_const));
  for (size_t src = 4; src < words.size(); ++src)
    for (size_t dst = 0; dst < 4; ++dst) pool_[dst] = mix(pool_[dst], hashmix(words[src], hash_const));
}

std::vector<uint32_t> SeedSequence::generate_state_u32(size_t n_words) const {
  std::vector<uint32_t> out(n_words);
  uint32_t hash_const = INIT_B;
  for (size_t i = 0; i < n_words; ++i) {
    uint32_t v = pool_[i % 4];
    v ^= hash_const;
    hash_const *= MULT_B;
    v *= hash_const;
    v ^= v >> XSHIFT;
    out[i] = v;
  }
  return out;
}

std::vector<uint64_t> SeedSequence::generate_state_u64(size_t n_words) const {
  const auto w = generate_state_u32(2 * n_words);
  std::vector<uint64_t> out(n_words);
  for (size_t i = 0; i < n_words; ++i) out[i] = (static_cast<uint64_t>(w[2 * i + 1]) << 32) | w[2 * i];
  return out;
}

Pcg64::Pcg64(uint64_t seed) {
  const auto v = SeedSequence(seed).generate_state_u64(4);
  // pcg64_set_seed: state = (v[0] << 64) | v[1], inc = (v[2] << 64) | v[3], then
  // pcg_setseq_128_srandom_r: state 0, inc = initseq*2+1, step, state += initstate, step.
  const unsigned __int128 initstate = (static_cast<unsigned __int128>(v[0]) << 64) | v[1];
  const unsigned __int128 initseq = (static_cast<unsigned __int128>(v[2]) << 64) | v[3];
  state_ = 0;
  inc_ = (initseq << 1) | 1u;
  state_ = state_ * PCG_MULT + inc_;
  state_ += initstate;
  state_ = state_ * PCG_MULT + inc_;
}

uint64_t Pcg64::next_u64() {
  state_ = state_ * PCG_MULT + inc_;
  // XSL-RR output: rotate (high ^ low) right by the top 6 bits of the state.
  const uint64_t x = static_cast<uint64_t>(state_ >> 64) ^ static_cast<uint64_t>(state_);
  const unsigned rot = static_cast<unsigned>(state_ >> 122);
  return (x >> rot) | (x << ((64 - rot) & 63));
}

uint32_t Pcg64::next_u32() {
  if (has_u32_) {
    has_u32_ = false;
    return u32_;
  }
  const uint64_t next = next_u64();
  has_u32_ = true;
  u32_ = static_cast<uint32_t>(next >> 32);
  return static_cast<uint32_t>(next & 0xffffffffu);
}

uint64_t random_interval(Pcg64& g, uint64_t max) {
  if (max == 0) return 0;
  uint64_t mask = max;  // smallest all-ones mask >= max
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  uint64_t value;
  if (max <= 0xffffffffull) {
    while ((value = (g.next_u32() & mask)) > max) {
    }
  } else {
    while ((value = (g.next_u64() & mask)) > max) {
    }
  }
  return value;
}

std::vector<int64_t> permutation(Pcg64& g, int64_t n) {
  std::vector<int64_t> x(static_cast<size_t>(n > 0 ? n : 0));
  std::iota(x.begin(), x.end(), int64_t{0});
  for (int64_t i = n - 1; i >= 1; --i) {
    const auto j = static_cast<int64_t>(random_interval(g, static_cast<uint64_t>(i)));
    std::swap(x[static_cast<size_t>(i)], x[static_cast<size_t>(j)]);
  }
  return x;
}

}  // namespace cokv::numpy_random
