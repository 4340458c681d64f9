// Philox4x32 against the Random123 known-answer vectors (kat_vectors, philox4x32 R = 7 and 10),
// and the keyed stream's helpers: independence from construction order, unbiased bounded ints,
// permutations/subsets that are uniform and consistent with each other.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <vector>

#include "core/rng.h"

using cokv::philox4x32;
using cokv::RandomStream;

TEST_CASE("Philox4x32 matches the Random123 known-answer vectors", "[rng]") {
  struct Kat {
    int rounds;
    cokv::philox_ctr ctr;
    cokv::philox_key key;
    cokv::philox_ctr expected;
  };
  // Random123 kat_vectors: "philox4x32 R ctr[4] key[2] -> out[4]".
  const Kat kats[] = {
      {7, {0, 0, 0, 0}, {0, 0}, {0x5f6fb709, 0x0d893f64, 0x4f121f81, 0x4f730a48}},
      {7, {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
       {0x5207ddc2, 0x45165e59, 0x4d8ee751, 0x8c52f662}},
      {7, {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
       {0x4dfccaba, 0x190a87f0, 0xc47362ba, 0xb6b5242a}},
      {10, {0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {10, {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {10, {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    INFO("rounds " << k.rounds << " ctr[0] " << k.ctr[0]);
    REQUIRE(philox4x32(k.ctr, k.key, k.rounds) == k.expected);
  }
}

TEST_CASE("RandomStream is a pure function of (seed, ids, position)", "[rng]") {
  // The stream's words are the Philox blocks of counters {0, id2, id1, id0}, {1, ...}, ...
  RandomStream a(0x0123456789abcdefull, 7, 8, 9);
  const auto b0 = philox4x32({0, 9, 8, 7}, {0x89abcdef, 0x01234567});
  const auto b1 = philox4x32({1, 9, 8, 7}, {0x89abcdef, 0x01234567});
  for (int i = 0; i < 4; ++i) REQUIRE(a.next_u32() == b0[i]);
  for (int i = 0; i < 4; ++i) REQUIRE(a.next_u32() == b1[i]);

  // Different ids give different streams; the same ids the same stream, whenever constructed.
  RandomStream x(1, 0, 0, 0), y(1, 0, 0, 1), z(1, 0, 0, 0);
  int same_xy = 0;
  for (int i = 0; i < 64; ++i) {
    const uint32_t vx = x.next_u32();
    same_xy += vx == y.next_u32();
    REQUIRE(vx == z.next_u32());
  }
  REQUIRE(same_xy < 2);
}

TEST_CASE("uniform() lies in the half-open unit interval with the right mean and variance", "[rng]") {
  RandomStream rs(42, 1, 2, 3);
  const int m = 200000;
  double sum = 0, sumsq = 0;
  for (int i = 0; i < m; ++i) {
    const double u = rs.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum += u;
    sumsq += u * u;
  }
  // mean 1/2 (sd of the mean sqrt(1/12/m) = 6.5e-4), second moment 1/3; 5 sd bounds
  REQUIRE(std::abs(sum / m - 0.5) < 5 * std::sqrt(1.0 / 12 / m));
  REQUIRE(std::abs(sumsq / m - 1.0 / 3) < 5 * std::sqrt(4.0 / 45 / m));
}

TEST_CASE("bounded(n) is unbiased, including n that do not divide 2^32", "[rng]") {
  // n = 3 * 2^30 has a rejection zone of 2^30 values: a plain multiply-shift would give the
  // lowest third of outputs probability 1/2 instead of 1/3. Check the three thirds.
  RandomStream rs(7, 0, 0, 0);
  const uint32_t n = 3u << 30;
  const int m = 90000;
  int thirds[3] = {0, 0, 0};
  for (int i = 0; i < m; ++i) {
    const uint32_t v = rs.bounded(n);
    REQUIRE(v < n);
    ++thirds[v / (1u << 30)];
  }
  const double sd = std::sqrt(m * (1.0 / 3) * (2.0 / 3));
  for (int t = 0; t < 3; ++t) REQUIRE(std::abs(thirds[t] - m / 3.0) < 5 * sd);

  // small n: chi-square over the values
  const int k = 7, draws = 70000;
  std::vector<int> hist(k, 0);
  for (int i = 0; i < draws; ++i) ++hist[rs.bounded(k)];
  double chi2 = 0;
  for (int c : hist) chi2 += (c - draws / double(k)) * (c - draws / double(k)) / (draws / double(k));
  REQUIRE(chi2 < 22.5);  // chi-square, 6 dof: P(> 22.5) = 0.001
  REQUIRE(RandomStream(1, 2, 3, 4).bounded(1) == 0);
}

TEST_CASE("permutation() is a uniform permutation; subset() is its prefix", "[rng]") {
  // All 24 permutations of 4 should be equally likely.
  std::map<std::vector<int>, int> counts;
  const int m = 48000;
  std::vector<int> p(4);
  for (int s = 0; s < m; ++s) {
    RandomStream rs(3, 0, 0, uint32_t(s));
    rs.permutation(p);
    ++counts[p];
  }
  REQUIRE(counts.size() == 24);
  double chi2 = 0;
  for (const auto& [perm, c] : counts) chi2 += (c - m / 24.0) * (c - m / 24.0) / (m / 24.0);
  REQUIRE(chi2 < 49.7);  // chi-square, 23 dof: P(> 49.7) = 0.001

  // subset(k) from the same stream position gives the permutation's first k entries.
  for (int k = 0; k <= 10; ++k) {
    std::vector<int> full(10), part(10);
    RandomStream(9, 1, 2, uint32_t(k)).permutation(full);
    RandomStream(9, 1, 2, uint32_t(k)).subset(part, k);
    REQUIRE(std::equal(full.begin(), full.begin() + k, part.begin()));
    std::sort(part.begin(), part.end());
    for (int i = 0; i < 10; ++i) REQUIRE(part[i] == i);  // still a permutation of 0..n-1
  }
}

TEST_CASE("subset(k) includes each element with probability k/n", "[rng]") {
  const int n = 90, k = 11, m = 20000;
  std::vector<int> hits(n, 0), p(n);
  for (int s = 0; s < m; ++s) {
    RandomStream(5, 0, uint32_t(k), uint32_t(s)).subset(p, k);
    for (int t = 0; t < k; ++t) ++hits[p[t]];
  }
  const double pk = double(k) / n, sd = std::sqrt(m * pk * (1 - pk));
  for (int i = 0; i < n; ++i) REQUIRE(std::abs(hits[i] - m * pk) < 5 * sd);
}
