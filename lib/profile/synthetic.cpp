// Synthetic games (synthetic.h).
#include "profile/synthetic.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/rng.h"

namespace cokv::profile {

namespace {

double normal(RandomStream& rs) {  // Box-Muller; one value per call keeps the stream layout simple
  const double u1 = 1.0 - rs.uniform(), u2 = rs.uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

// C(a, b) / C(c, d) through log-gamma; 0 when C(a, b) is 0.
double binom_ratio(int a, int b, int c, int d) {
  if (b < 0 || b > a) return 0.0;
  auto lc = [](int x, int y) { return std::lgamma(x + 1.0) - std::lgamma(y + 1.0) - std::lgamma(x - y + 1.0); };
  return std::exp(lc(a, b) - lc(c, d));
}

}  // namespace

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
  std::vector<double> a(n), b(size_t(n) * n, 0.0);
  for (double& x : a) x = normal(rs) / n;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j)
      b[size_t(i) * n + j] = b[size_t(j) * n + i] = interaction * normal(rs) / std::pow(n, 1.5);
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

InteractionGame::InteractionGame(int n, std::vector<Term> terms) : n_(n), terms_(std::move(terms)) {
  for (const Term& t : terms_)
    for (int i : t.players)
      if (i < 0 || i >= n_) fail("InteractionGame", "term player", "in [0, n)", std::to_string(i));
}

InteractionGame InteractionGame::random(int n, uint64_t seed, const std::vector<Spec>& specs) {
  RandomStream rs(seed, 2, 0, 0);
  std::vector<Term> terms;
  for (int i = 0; i < n; ++i) terms.push_back({{i}, normal(rs) / n});
  std::vector<int> perm(n);
  for (const Spec& spec : specs) {
    if (spec.order < 1 || spec.order > n) fail("InteractionGame::random", "order", "1..n", std::to_string(spec.order));
    for (int k = 0; k < spec.count; ++k) {
      rs.subset(perm, spec.order);
      std::vector<int> members(perm.begin(), perm.begin() + spec.order);
      std::sort(members.begin(), members.end());
      terms.push_back({members, spec.strength * normal(rs) / n});
    }
  }
  return InteractionGame(n, std::move(terms));
}

void InteractionGame::evaluate(std::span<const Coalition> batch, std::span<double> utilities) {
  const int64_t count = int64_t(batch.size());
#pragma omp parallel for schedule(static) if (count >= 64)
  for (int64_t k = 0; k < count; ++k) {
    double u = 0;
    for (const Term& t : terms_) {
      bool all = true;
      for (int i : t.players) all = all && batch[k][i];
      if (all) u += t.coefficient;
    }
    utilities[k] = u;
  }
}

std::vector<double> InteractionGame::shapley() const {
  std::vector<double> v(n_, 0.0);
  for (const Term& t : terms_)
    for (int i : t.players) v[i] += t.coefficient / double(t.players.size());
  return v;
}

std::vector<double> InteractionGame::slice_values(int j) const {
  const int n = n_;
  double outside = 0;  // every term's contribution to a player outside it
  std::vector<double> v(n, 0.0);
  for (const Term& term : terms_) {
    const int t = int(term.players.size());
    const double in = binom_ratio(n - t, j - t, n - 1, j - 1);
    const double out = binom_ratio(n - 1 - t, j - 1 - t, n - 1, j - 1) - binom_ratio(n - 1 - t, n - j - t, n - 1, n - j);
    outside += term.coefficient * out;
    for (int i : term.players) v[i] += term.coefficient * (in - out);
  }
  for (double& x : v) x += outside;
  return v;
}

std::vector<double> InteractionGame::ssv(const std::vector<int>& slices) const {
  std::vector<double> v(n_, 0.0);
  for (int j : slices) {
    const std::vector<double> s = slice_values(j);
    for (int i = 0; i < n_; ++i) v[i] += s[i] / double(slices.size());
  }
  return v;
}

}  // namespace cokv::profile
