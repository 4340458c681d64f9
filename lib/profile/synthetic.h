// Synthetic games with known values, for tests, benchmarks and a model-free dry run of the
// profiler: an arbitrary utility table (exact values by enumeration), an additive-plus-pairwise
// game (closed-form Shapley and SSV) and a game from a function.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "profile/game.h"

namespace cokv::profile {

// U(S) = table[m], m = sum_{i in S} 2^i. n <= 24.
class TableGame final : public Game {
 public:
  TableGame(int n, std::vector<double> table);
  // Utilities uniform in [0, 1) from the keyed stream (seed, 0, 0, 0): an arbitrary game.
  static TableGame random(int n, uint64_t seed);
  int n_players() const override { return n_; }
  void evaluate(std::span<const Coalition> batch, std::span<double> utilities) override;
  const std::vector<double>& table() const { return table_; }

 private:
  int n_;
  std::vector<double> table_;  // [2^n]
};

// U(S) = sum_{i in S} a_i + sum_{i<j in S} b_ij. Closed forms (A = sum a, B_i = sum_j b_ij,
// Bt = sum_{i<j} b_ij):
//   Shapley_i = a_i + B_i / 2
//   SV_{i,j}  = 2 (n-j)/(n-1) (a_i + B_i/2) + A (2j-n-1)/(n-1)
//               + Bt ((j-1)(j-2) - (n-j)(n-j-1)) / ((n-1)(n-2))
// so on such games every slice, and the SSV, is a positive affine map of the Shapley value: SSV
// and Shapley rank players identically (they part only through interactions of order >= 3).
class PairwiseGame final : public Game {
 public:
  // a: [n]; b: [n*n] symmetric with a zero diagonal (row-major).
  PairwiseGame(std::vector<double> a, std::vector<double> b);
  // a_i ~ N(0, 1) / n, b_ij ~ interaction * N(0, 1) / n^1.5 (pairs then carry about
  // `interaction` times the spread of the additive part in each Shapley value), from the keyed
  // stream (seed, 1, 0, 0).
  static PairwiseGame random(int n, uint64_t seed, double interaction);
  int n_players() const override { return n_; }
  void evaluate(std::span<const Coalition> batch, std::span<double> utilities) override;

  std::vector<double> shapley() const;
  std::vector<double> slice_values(int j) const;  // SV_{., j}
  std::vector<double> ssv(const std::vector<int>& slices) const;

 private:
  int n_;
  std::vector<double> a_, b_;
};

// A sparse sum of unanimity games: U(S) = sum_T c_T [T subset of S] over a list of terms T (the
// Harsanyi dividends). Players' synergies of any order, e.g. circuits of heads that only work
// together. Closed forms: Shapley_i = sum_{T containing i} c_T / |T|, and with t = |T|,
//   SV_{i,j} = sum_{T containing i} c_T C(n-t, j-t) / C(n-1, j-1)
//            + sum_{T not containing i} c_T [C(n-1-t, j-1-t) / C(n-1, j-1) - C(n-1-t, n-j-t) / C(n-1, n-j)].
// Orders >= 3 weigh slices differently from Shapley's average, so SSV and Shapley rankings part.
class InteractionGame final : public Game {
 public:
  struct Term {
    std::vector<int> players;
    double coefficient;
  };
  struct Spec {
    int order;        // players per term
    int count;        // terms, each over uniformly drawn distinct players
    double strength;  // coefficients ~ strength * N(0,1) / n
  };
  InteractionGame(int n, std::vector<Term> terms);
  // Singletons a_i ~ N(0,1)/n for every player, plus the random terms of each spec; keyed stream
  // (seed, 2, 0, 0).
  static InteractionGame random(int n, uint64_t seed, const std::vector<Spec>& specs);
  int n_players() const override { return n_; }
  void evaluate(std::span<const Coalition> batch, std::span<double> utilities) override;

  std::vector<double> shapley() const;
  std::vector<double> slice_values(int j) const;  // SV_{., j}
  std::vector<double> ssv(const std::vector<int>& slices) const;

 private:
  int n_;
  std::vector<Term> terms_;
};

// U(S) = f(S), e.g. glove or voting games in tests.
class FunctionGame final : public Game {
 public:
  FunctionGame(int n, std::function<double(const Coalition&)> f) : n_(n), f_(std::move(f)) {}
  int n_players() const override { return n_; }
  void evaluate(std::span<const Coalition> batch, std::span<double> utilities) override {
    for (size_t k = 0; k < batch.size(); ++k) utilities[k] = f_(batch[k]);
  }

 private:
  int n_;
  std::function<double(const Coalition&)> f_;
};

}  // namespace cokv::profile
