// Percentile bootstrap over records, seeded, stratified (cokv-eval: records resampled within
// each dataset). Draws come from counter-based streams keyed by (seed, stratum, replicate), so a
// fixed seed gives fixed intervals, whatever the number of statistics or the order they are
// computed in. Paired comparisons use the same resampled records for both sides.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace cokv {

struct BootstrapOptions {
  int replicates = 2000;
  uint64_t seed = 42;
  double level = 0.95;  // two-sided: the (1-level)/2 and (1+level)/2 percentiles
};

struct Interval {
  double lo = 0, hi = 0;
  bool excludes_zero() const { return lo > 0 || hi < 0; }  // false for a missing (NaN) interval
};

// The q-quantile (0 <= q <= 1) of v with linear interpolation between order statistics
// (numpy.percentile's default "linear" method). v must not be empty.
double quantile(std::vector<double> v, double q);

// Indices of one replicate: for each stratum s, sizes[s] draws with replacement from [0, sizes[s]).
using Resample = std::vector<std::vector<int>>;
void draw_resample(std::span<const int> sizes, uint64_t seed, uint32_t replicate, Resample& out);

// Runs `stats` once per replicate (it writes n_stats values for the resample it is given) and
// returns each statistic's percentile interval.
std::vector<Interval> bootstrap_intervals(std::span<const int> sizes, int n_stats, const BootstrapOptions& opt,
                                          const std::function<void(const Resample&, std::span<double>)>& stats);

}  // namespace cokv
