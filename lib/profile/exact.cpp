// Exact Shapley and SSV by enumerating all 2^n coalitions: the reference the sampling estimators
// are tested against. Coalition number m has player i iff bit i of m is set.
#include <algorithm>
#include <bit>
#include <cmath>

#include "core/error.h"
#include "profile/estimators.h"
#include "profile/sampling.h"

namespace cokv::profile {

ExactValues exact_values(JournaledGame& game, int batch_size) {
  const int n = game.n_players();
  if (n < 1 || n > 20) fail("exact_values", "n_players", "1..20 (2^n evaluations)", std::to_string(n));
  if (batch_size < 1) fail("exact_values", "batch_size", "at least 1", std::to_string(batch_size));
  const uint32_t count = uint32_t(1) << n, full = count - 1;

  const int64_t start = game.n_requested();
  std::vector<double> u(count);
  std::vector<Coalition> batch(batch_size, Coalition(n));
  std::vector<EvalKey> keys(batch_size);
  for (uint32_t lo = 0; lo < count; lo += uint32_t(batch_size)) {
    const uint32_t len = std::min<uint32_t>(uint32_t(batch_size), count - lo);
    for (uint32_t k = 0; k < len; ++k) {
      const uint32_t m = lo + k;
      for (int i = 0; i < n; ++i) batch[k][i] = (m >> i) & 1;
      keys[k] = {"exact", 0, 0, m, 0};
    }
    game.evaluate(std::span(keys.data(), len), std::span<const Coalition>(batch.data(), len),
                  std::span(u.data() + lo, len));
  }

  ExactValues ex;
  ex.n = n;
  ex.n_evaluations = game.n_requested() - start;
  // Shapley weight of a coalition of size s not containing i: s! (n-s-1)! / n!.
  std::vector<double> weight(n), binom_nm1(n + 1);  // binom_nm1[j] = C(n-1, j-1)
  for (int s = 0; s < n; ++s)
    weight[s] = std::exp(std::lgamma(s + 1.0) + std::lgamma(double(n - s)) - std::lgamma(n + 1.0));
  for (int j = 1; j <= n; ++j) binom_nm1[j] = std::round(std::exp(std::lgamma(double(n)) - std::lgamma(double(j)) -
                                                                 std::lgamma(double(n - j + 1))));
  ex.shapley.assign(n, 0.0);
  ex.sv_by_size.assign(n + 1, std::vector<double>(n, 0.0));
  for (uint32_t m = 0; m < count; ++m) {
    const int s = std::popcount(m);
    const double g = u[m] - u[full ^ m];
    for (int i = 0; i < n; ++i) {
      if ((m >> i) & 1)
        ex.sv_by_size[s][i] += g;
      else
        ex.shapley[i] += weight[s] * (u[m | (uint32_t(1) << i)] - u[m]);
    }
  }
  for (int j = 1; j <= n; ++j)
    for (int i = 0; i < n; ++i) ex.sv_by_size[j][i] /= binom_nm1[j];
  return ex;
}

Estimate exact_shapley(const ExactValues& ex) {
  Estimate e;
  e.method = "exact-shapley";
  e.values = ex.shapley;
  e.std_error.assign(ex.n, 0.0);
  e.n_evaluations = ex.n_evaluations;
  return e;
}

Estimate exact_ssv(const ExactValues& ex, std::vector<int> slices) {
  Estimate e;
  e.method = "exact-ssv";
  e.slices = resolve_slices(std::move(slices), ex.n, "exact_ssv");
  e.values.assign(ex.n, 0.0);
  for (int j : e.slices) {
    e.slice_values.push_back(ex.sv_by_size[j]);
    for (int i = 0; i < ex.n; ++i) e.values[i] += ex.sv_by_size[j][i] / double(e.slices.size());
  }
  e.std_error.assign(ex.n, 0.0);
  e.n_evaluations = ex.n_evaluations;
  return e;
}

}  // namespace cokv::profile
