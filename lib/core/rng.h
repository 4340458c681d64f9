// Counter-based random numbers: Philox4x32 (Salmon et al., SC'11, "Parallel random numbers: as
// easy as 1, 2, 3"; the generator of Random123 and curand) and a keyed stream on top of it.
//
// Why counter-based: every draw is a pure function of (seed, stream ids, position), so a Monte Carlo
// run gives the same numbers however it is split over threads, batches, GPUs or a kill and resume.
// A RandomStream is keyed by the 64-bit seed (the Philox key) and three 32-bit ids (for the
// estimators: estimator tag | chain, slice, sample); the fourth counter word numbers its 128-bit
// blocks. A CUDA twin only needs philox4x32() and the same layout to draw the same permutations.
#pragma once
#include <array>
#include <cstdint>
#include <span>

namespace cokv {

using philox_ctr = std::array<uint32_t, 4>;
using philox_key = std::array<uint32_t, 2>;

// One Philox4x32-R block: 4 random words for counter ctr under key. R = 10 is the standard
// (Random123 philox4x32_R(10, ...), curand's Philox_4x32_10); R is a parameter only so the
// Random123 known-answer vectors for R = 7 can be tested too.
philox_ctr philox4x32(philox_ctr ctr, philox_key key, int rounds = 10);

// A stream of random words for one (seed, id0, id1, id2). Cheap to construct: make one per sample.
// Counter layout: {block, id2, id1, id0}; key: {seed low, seed high}.
class RandomStream {
 public:
  RandomStream(uint64_t seed, uint32_t id0, uint32_t id1, uint32_t id2);

  uint32_t next_u32();
  uint64_t next_u64();  // two consecutive words, first one high
  // Uniform double in [0, 1) with 53 random bits.
  double uniform();
  // Uniform integer in [0, n), unbiased (Lemire's multiply-and-reject). n must be >= 1.
  uint32_t bounded(uint32_t n);
  // Uniform random permutation of 0..n-1 into out (size n), by forward Fisher-Yates:
  // step i swaps position i with a uniform position in [i, n).
  void permutation(std::span<int> out);
  // Uniform random subset of size k of 0..n-1: the first k entries of the permutation that
  // permutation() would draw from the same stream state (the Fisher-Yates prefix). out has size n;
  // out[0..k) is the subset in draw order, out[k..n) the rest.
  void subset(std::span<int> out, int k);

 private:
  philox_key key_;
  philox_ctr ctr_;   // ctr_[0] is the next block to generate
  philox_ctr block_;  // the current block's 4 words
  int used_ = 4;      // words of block_ already handed out
};

}  // namespace cokv
