// The driver shared by the sampling estimators (internal to lib/profile). A Scheme says how to draw
// one sample (a fixed number of coalitions) and how to fold its utilities into per-chain sums; the
// driver runs chains in rounds, evaluates the drawn coalitions in batches through the journal, and
// applies the stopping rule. Draws run in parallel (each sample has its own keyed stream); sums
// run in sample order per chain (chains in parallel), so results never depend on batch size or
// thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "profile/estimators.h"

namespace cokv::profile {

// Estimator tags: the high byte of the first stream id (so estimators never share draws).
enum StreamTag : uint32_t { kTagSsv = 1, kTagPermutation = 2, kTagRegression = 3 };

class Scheme {
 public:
  virtual ~Scheme() = default;
  // Coalitions per sample.
  virtual int width() const = 0;
  // One-off evaluations before sampling (e.g. U(empty), U(N)).
  virtual void prepare(JournaledGame& game, int batch_size) {}
  // Draws sample `sample` of chain `chain` into out[0..width) and keys[0..width). Thread-safe.
  virtual void draw(int chain, int64_t sample, Coalition* out, EvalKey* keys) const = 0;
  // Folds that sample's utilities into chain `chain`'s sums. Called in sample order per chain;
  // different chains may be accumulated concurrently.
  virtual void accumulate(int chain, int64_t sample, const Coalition* coalitions, const double* utilities) = 0;
  // The values chain `chain` alone gives (for the two-chain rule).
  virtual std::vector<double> chain_values(int chain) const = 0;
  // The pooled estimate over all chains; standard errors only when with_errors.
  virtual Estimate estimate(bool with_errors) const = 0;
  // Samples per chain are rounded up to a multiple of this (antithetic pairs).
  virtual int64_t sample_multiple() const { return 1; }
};

// Runs the scheme until the stopping rule holds; fills the counts, convergence and trace.
Estimate run_sampling(JournaledGame& game, Scheme& scheme, const SamplingOptions& options);

// The base coalitions U(empty) and U(N) (keys "base", part 0 and 1), evaluated once.
void evaluate_base(JournaledGame& game, double& empty_utility, double& full_utility);

// Resolves and checks a slice list (empty: default_slices(n)): each in [1, n-1], unique.
std::vector<int> resolve_slices(std::vector<int> slices, int n, const char* where);

}  // namespace cokv::profile
