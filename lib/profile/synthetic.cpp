// Synthetic games (synthetic.h).
#include "profile/synthetic.h"

#include <cmath>

#include "core/error.h"
#include "core/rng.h"

namespace cokv::profile {

TableGame::TableGame(int n, std::vector<double> table) : n_(n), table_(std::move(table)) {
  if (n < 1 || n > 24) fail("TableGame", "n_players", "1..24", std::to_string(n));
  if (table_.size() != (size_t(1) << n))
    fail("TableGame", "table size", std::to_string(size_t(1) << n), std::to_string(table_.size()));
}

TableGame TableGame::random(int n, uint64_t seed) {
  RandomStream rs(seed, 0, 0, 0);
  std::vector<double> t(size_t(1) << n);
  for (double& u : t) u = rs.uniform();
  return TableGame(n, std::move(t));
}

void TableGame::evaluate(std::span<const Coalition> batch, std::span<double> utilities) {
  for (size_t k = 0; k < batch.size(); ++k) {
    size_t m = 0;
    for (int i = 0; i < n_; ++i) m |= size_t(batch[k][i] != 0) << i;
    utilities[k] = table_[m];
  }
}

PairwiseGame::PairwiseGame(std::vector<double> a, std::vector<double> b)
    : n_(int(a.size())), a_(std::move(a)), b_(std::move(b)) {
  if (b_.size() != size_t(n_) * n_) fail("PairwiseGame", "b", "n*n entries", std::to_string(b_.size()));
}

PairwiseGame PairwiseGame::random(int n, uint64_t seed, double interaction) {
  RandomStream rs(seed, 1, 0, 0);
  auto normal = [&rs] {  // Box-Muller; one value per call keeps the stream layout simple
    const double u1 = 1.0 - rs.uniform(), u2 = rs.uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  };
  std::vector<double> a(n), b(size_t(n) * n, 0.0);
  for (double& x : a) x = normal() / n;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) b[size_t(i) * n + j] = b[size_t(j) * n + i] = interaction * normal() / std::pow(n, 1.5);
  return PairwiseGame(std::move(a), std::move(b));
}

void PairwiseGame::evaluate(std::span<const Coalition> batch, std::span<double> utilities) {
  const int64_t count = int64_t(batch.size());
#pragma omp parallel for schedule(static) if (count >= 64)
  for (int64_t k = 0; k < count; ++k) {
    const Coalition& c = batch[k];
    double u = 0;
    for (int i = 0; i < n_; ++i) {
      if (!c[i]) continue;
      u += a_[i];
      const double* row = &b_[size_t(i) * n_];
      for (int j = i + 1; j < n_; ++j)
        if (c[j]) u += row[j];
    }
    utilities[k] = u;
  }
}

std::vector<double> PairwiseGame::shapley() const {
  std::vector<double> v(n_);
  for (int i = 0; i < n_; ++i) {
    double bi = 0;
    for (int j = 0; j < n_; ++j) bi += b_[size_t(i) * n_ + j];
    v[i] = a_[i] + 0.5 * bi;
  }
  return v;
}

std::vector<double> PairwiseGame::slice_values(int j) const {
  const double n = n_;
  double sum_a = 0, sum_b = 0;
  for (int i = 0; i < n_; ++i) {
    sum_a += a_[i];
    for (int k = i + 1; k < n_; ++k) sum_b += b_[size_t(i) * n_ + k];
  }
  const double pair_term =
      n_ > 2 ? sum_b * ((j - 1.0) * (j - 2.0) - (n - j) * (n - j - 1.0)) / ((n - 1) * (n - 2)) : 0.0;
  const double offset = sum_a * (2.0 * j - n - 1) / (n - 1) + pair_term;
  std::vector<double> v = shapley();
  for (double& x : v) x = 2 * (n - j) / (n - 1) * x + offset;
  return v;
}

std::vector<double> PairwiseGame::ssv(const std::vector<int>& slices) const {
  std::vector<double> v(n_, 0.0);
  for (int j : slices) {
    const std::vector<double> s = slice_values(j);
    for (int i = 0; i < n_; ++i) v[i] += s[i] / double(slices.size());
  }
  return v;
}

}  // namespace cokv::profile
