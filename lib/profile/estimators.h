// Shapley-style value estimators over a Game (the game-theory core of cokv-profile).
//
//   exact_values         all 2^n coalitions (n <= 20): classic Shapley and SV_{i,j} for every size j
//   permutation_shapley  Monte Carlo Shapley: marginal contributions along random permutations
//   sliced_shapley       CoKV's Sliced Shapley Value (SSV), complementary contributions per slice
//   regression_values    paired, leverage-sampled least squares (LeverageSHAP-style) that targets
//                        either classic Shapley or the SSV; every evaluation informs every player
//
// Definitions (players N, |N| = n; complementary contribution g(S) = U(S) - U(N\S)):
//   SV_{i,j} = mean of g(S) over coalitions S of size j that contain i;
//   Shapley_i = (1/n) sum_{j=1..n} SV_{i,j};   SSV_i = mean over j in H of SV_{i,j}
// (H: the slice sizes; CoKV uses {n/8, n/4, 3n/8, n/2}).
//
// Determinism: every coalition is drawn from a counter-based stream keyed by (seed, estimator |
// chain, slice, sample) and every sum runs in sample order, so results are bit-identical for any
// batch size, thread count, or kill-and-resume through the journal (JournaledGame).
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "profile/journal.h"

namespace cokv::profile {

// CoKV's slices {n/8, n/4, 3n/8, n/2}, rounded half to even (n = 90: {11, 22, 34, 45}), clamped to
// [1, n-1], duplicates removed. n >= 2.
std::vector<int> default_slices(int n);

struct TracePoint {
  int64_t samples;      // per chain so far
  int64_t evaluations;  // utility evaluations so far
  double chain_mae;     // mean |chain 0 - chain 1| (NaN with one chain)
};

struct Estimate {
  std::string method;              // "exact-shapley", "exact-ssv", "permutation", "ssv", "ssv-left",
                                   // "regression-shapley", "regression-ssv"
  std::vector<double> values;      // [n] per-player values
  std::vector<double> std_error;   // [n] standard errors (0 for exact; empty in progress snapshots
                                   // of the regression estimator, where they cost O(samples n^2))
  std::vector<int> slices;         // SSV targets: the slice sizes H
  std::vector<std::vector<double>> slice_values;  // [n_slices][n] SV_{i,j} per slice (ssv, exact-ssv)
  int64_t n_evaluations = 0;       // utility evaluations consumed (journal replays included)
  int64_t n_samples = 0;           // per chain: draws per slice / permutations / coalition pairs
  int n_chains = 1;
  bool converged = true;           // false when the two-chain rule hit max_samples first
  double chain_mae = std::numeric_limits<double>::quiet_NaN();
  std::vector<TracePoint> trace;   // one point per check
};

// How long a sampling estimator runs and how it calls the game. Batch size and threads never
// change the result; everything else does (and belongs in the journal settings).
struct SamplingOptions {
  uint64_t seed = 42;
  int64_t samples = 100;     // per chain; with a tolerance, the minimum
  int chains = 1;            // independent chains, pooled in the result
  double tolerance = 0;      // > 0: stop when mean |chain 0 - chain 1| < tolerance (needs chains
                             // >= 2; CoKV uses 1/n), checked every check_every samples
  int64_t max_samples = 0;   // cap per chain when a tolerance is set (0: 20 x samples)
  int64_t check_every = 0;   // samples per chain between checks and progress calls (0: samples)
  int batch_size = 64;       // coalitions per Game::evaluate call
  int n_threads = 0;         // threads for drawing coalitions and accumulating (0: OpenMP default)
  std::function<void(const Estimate&)> progress;  // called at each check with the estimate so far
};

struct PermutationOptions {
  SamplingOptions sampling;
  bool antithetic = false;  // pair each permutation with its reverse (samples rounded up to even)
};

struct SsvOptions {
  SamplingOptions sampling;  // samples = draws per slice
  std::vector<int> slices;   // empty: default_slices(n)
  // CoKV's reference code credits only the "left" side (heads in S at slice j). Both sides (the
  // default) also credit heads in N\S with U(N\S) - U(S) at slice n-j when n-j is a slice.
  bool left_only = false;
};

enum class Target { shapley, ssv };

struct RegressionOptions {
  SamplingOptions sampling;  // samples = coalition pairs (S, N\S), i.e. 2 evaluations each
  Target target = Target::ssv;
  std::vector<int> slices;   // SSV target; empty: default_slices(n)
};

// Exact tables by enumeration of all 2^n coalitions (keys "exact"; n <= 20).
struct ExactValues {
  int n = 0;
  std::vector<double> shapley;                  // [n]
  std::vector<std::vector<double>> sv_by_size;  // [n+1][n]: row j = SV_{., j}; row 0 unused (zeros)
  int64_t n_evaluations = 0;
};
ExactValues exact_values(JournaledGame& game, int batch_size = 64);
Estimate exact_shapley(const ExactValues& exact);
Estimate exact_ssv(const ExactValues& exact, std::vector<int> slices = {});

Estimate permutation_shapley(JournaledGame& game, const PermutationOptions& options);
Estimate sliced_shapley(JournaledGame& game, const SsvOptions& options);
Estimate regression_values(JournaledGame& game, const RegressionOptions& options);

// The settings that determine an estimator run's coalitions, for the journal header (add the
// model, data and utility settings to it). Leaves out batch size, threads and progress.
nlohmann::json settings_json(const PermutationOptions& options);
nlohmann::json settings_json(const SsvOptions& options);
nlohmann::json settings_json(const RegressionOptions& options);

}  // namespace cokv::profile
