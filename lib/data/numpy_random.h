// NumPy's default random generator, ported bit for bit for one job: reproducing
// np.random.default_rng(seed).permutation(n), which Hugging Face datasets' Dataset.shuffle(seed)
// uses and therefore CoKV's validation/test split. Pieces: SeedSequence (numpy/random/bit_generator.pyx),
// PCG64 (XSL-RR 128/64, numpy/random/src/pcg64), random_interval and Generator.shuffle
// (numpy/random/_generator.pyx, distributions.c). Golden data: tests/data/split/.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cokv::numpy_random {

// SeedSequence(entropy) with no spawn key and pool size 4, for a non-negative integer seed.
class SeedSequence {
 public:
  explicit SeedSequence(uint64_t entropy);
  std::vector<uint32_t> generate_state_u32(size_t n_words) const;
  std::vector<uint64_t> generate_state_u64(size_t n_words) const;  // pairs of u32, little-endian

 private:
  uint32_t pool_[4];
};

// PCG64 seeded as np.random.PCG64(seed): 128-bit state and increment from SeedSequence.
class Pcg64 {
 public:
  explicit Pcg64(uint64_t seed);
  uint64_t next_u64();  // random_raw()
  // NumPy's next_uint32 for PCG64: halves of one 64-bit draw, low half first; the high half
  // is buffered and served by the next call.
  uint32_t next_u32();

 private:
  unsigned __int128 state_ = 0, inc_ = 0;
  bool has_u32_ = false;
  uint32_t u32_ = 0;
};

// numpy random_interval(max): uniform in [0, max] by masked rejection sampling, 32-bit draws
// when max fits in 32 bits.
uint64_t random_interval(Pcg64& g, uint64_t max);

// Generator.permutation(n): arange(n) shuffled by Fisher-Yates from the end
// (for i = n-1 .. 1: swap(x[i], x[random_interval(i)])).
std::vector<int64_t> permutation(Pcg64& g, int64_t n);

}  // namespace cokv::numpy_random
