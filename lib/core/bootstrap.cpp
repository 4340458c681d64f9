#include "core/bootstrap.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/rng.h"

namespace cokv {

double quantile(std::vector<double> v, double q) {
  require(!v.empty(), "quantile: no values");
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const size_t i = size_t(std::floor(pos));
  if (i + 1 >= v.size()) return v.back();
  const double f = pos - double(i);
  return v[i] + f * (v[i + 1] - v[i]);
}

void draw_resample(std::span<const int> sizes, uint64_t seed, uint32_t replicate, Resample& out) {
  out.resize(sizes.size());
  for (size_t s = 0; s < sizes.size(); ++s) {
    // Stream ids: a tag for "bootstrap", the stratum, the replicate.
    RandomStream rs(seed, 0xB0075u, uint32_t(s), replicate);
    out[s].resize(size_t(std::max(sizes[s], 0)));
    for (int& i : out[s]) i = int(rs.bounded(uint32_t(sizes[s])));
  }
}

std::vector<Interval> bootstrap_intervals(std::span<const int> sizes, int n_stats, const BootstrapOptions& opt,
                                          const std::function<void(const Resample&, std::span<double>)>& stats) {
  require(opt.replicates >= 2, "bootstrap: at least 2 replicates");
  require(opt.level > 0 && opt.level < 1, "bootstrap: level in (0, 1)");
  std::vector<std::vector<double>> reps(size_t(n_stats), std::vector<double>(size_t(opt.replicates)));
  std::vector<double> row(static_cast<size_t>(n_stats));
  Resample idx;
  for (int b = 0; b < opt.replicates; ++b) {
    draw_resample(sizes, opt.seed, uint32_t(b), idx);
    stats(idx, row);
    for (int k = 0; k < n_stats; ++k) reps[k][b] = row[k];
  }
  std::vector<Interval> out(static_cast<size_t>(n_stats));
  const double a = (1 - opt.level) / 2;
  for (int k = 0; k < n_stats; ++k) {
    // NaN replicates (a statistic undefined on some resample) are left out of the percentiles.
    std::vector<double> v;
    for (double x : reps[k])
      if (!std::isnan(x)) v.push_back(x);
    out[k] = v.empty() ? Interval{NAN, NAN} : Interval{quantile(v, a), quantile(v, 1 - a)};
  }
  return out;
}

}  // namespace cokv
