// Monte Carlo Shapley by permutation sampling (Castro et al. 2009): along a uniform random order of
// the players, each player's marginal contribution U(P + i) - U(P) to the players before it is an
// unbiased sample of its Shapley value. One permutation costs n - 1 evaluations (the empty and full
// coalitions are evaluated once, keys "base"). Antithetic: permutation 2t+1 is permutation 2t
// reversed, and the pair's mean is one observation (negatively correlated halves).
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/rng.h"
#include "profile/sampling.h"

namespace cokv::profile {

namespace {

class PermutationScheme final : public Scheme {
 public:
  PermutationScheme(int n, const PermutationOptions& opt)
      : n_(n), seed_(opt.sampling.seed), antithetic_(opt.antithetic), chains_(opt.sampling.chains) {
    for (int c = 0; c < chains_; ++c) chain_.emplace_back(n);
  }

  int width() const override { return n_ - 1; }
  int64_t sample_multiple() const override { return antithetic_ ? 2 : 1; }
  void prepare(JournaledGame& game, int) override { evaluate_base(game, u_empty_, u_full_); }

  void draw(int chain, int64_t sample, Coalition* out, EvalKey* keys) const override {
    std::vector<int> order(n_);
    permutation(chain, sample, order);
    for (int k = 1; k < n_; ++k) {  // out[k-1] = the first k players of the order
      if (k == 1)
        out[0].assign(n_, 0);
      else
        out[k - 1] = out[k - 2];
      out[k - 1][order[k - 1]] = 1;
      keys[k - 1] = {"perm", uint32_t(chain), 0, uint64_t(sample), uint32_t(k)};
    }
  }

  void accumulate(int chain, int64_t sample, const Coalition*, const double* u) override {
    Chain& ch = chain_[chain];
    permutation(chain, sample, ch.order);  // redrawn: cheaper than recovering it from the prefixes
    double before = u_empty_;
    for (int k = 1; k <= n_; ++k) {
      const double after = k < n_ ? u[k - 1] : u_full_;
      ch.marginal[ch.order[k - 1]] = after - before;
      before = after;
    }
    if (antithetic_ && sample % 2 == 0) {
      ch.pending = ch.marginal;
      return;
    }
    for (int i = 0; i < n_; ++i) {
      const double x = antithetic_ ? 0.5 * (ch.pending[i] + ch.marginal[i]) : ch.marginal[i];
      ch.sum[i] += x;
      ch.sumsq[i] += x * x;
    }
    ++ch.count;
  }

  std::vector<double> chain_values(int chain) const override {
    const Chain& ch = chain_[chain];
    std::vector<double> v(n_);
    for (int i = 0; i < n_; ++i) v[i] = ch.sum[i] / double(ch.count);
    return v;
  }

  Estimate estimate(bool with_errors) const override {
    Estimate e;
    e.method = "permutation";
    e.values.assign(n_, 0.0);
    std::vector<double> sumsq(n_, 0.0);
    int64_t count = 0;
    for (const Chain& ch : chain_) {
      for (int i = 0; i < n_; ++i) {
        e.values[i] += ch.sum[i];
        sumsq[i] += ch.sumsq[i];
      }
      count += ch.count;
    }
    const double m = double(count);
    if (with_errors) e.std_error.assign(n_, std::numeric_limits<double>::infinity());
    for (int i = 0; i < n_; ++i) {
      const double sum = e.values[i];
      e.values[i] = sum / m;
      if (with_errors && count > 1) e.std_error[i] = std::sqrt(std::max(0.0, sumsq[i] - sum * sum / m) / (m - 1) / m);
    }
    return e;
  }

 private:
  struct Chain {
    explicit Chain(int n) : sum(n, 0.0), sumsq(n, 0.0), marginal(n), pending(n), order(n) {}
    std::vector<double> sum, sumsq;  // [n] over observations (permutations or antithetic pairs)
    int64_t count = 0;
    std::vector<double> marginal, pending;  // [n] scratch: this permutation's / the pair's first half
    std::vector<int> order;                 // [n] scratch
  };

  void permutation(int chain, int64_t sample, std::vector<int>& order) const {
    const int64_t base = antithetic_ ? sample / 2 : sample;
    RandomStream rs(seed_, (kTagPermutation << 24) | uint32_t(chain), 0, uint32_t(base));
    rs.permutation(order);
    if (antithetic_ && sample % 2 == 1) std::reverse(order.begin(), order.end());
  }

  int n_;
  uint64_t seed_;
  bool antithetic_;
  int chains_;
  double u_empty_ = 0, u_full_ = 0;
  std::vector<Chain> chain_;
};

}  // namespace

Estimate permutation_shapley(JournaledGame& game, const PermutationOptions& options) {
  const int n = game.n_players();
  if (n < 2) fail("permutation_shapley", "n_players", "at least 2", std::to_string(n));
  PermutationScheme scheme(n, options);
  return run_sampling(game, scheme, options.sampling);
}

}  // namespace cokv::profile
