// CoKV's Sliced Shapley Value estimator (arXiv 2502.17501; reference code nawei1010/CoKV).
// One sample draws, at every slice j, a uniform coalition S of size j (the first j players of a
// random permutation, keys "ssv <chain> <j> <sample> 0|1"), evaluates U(S) and U(N\S), and credits
// the complementary contribution g = U(S) - U(N\S) to every player in S at slice j ("left").
// Unless left_only, it also credits -g = U(N\S) - U(S) to every player in N\S at slice n - j
// ("right": N\S is a uniform coalition of size n-j containing them) when n - j is a slice; at
// j = n/2 both sides land in the same slice, so that slice informs every player per sample.
// SSV_i = mean over slices of the per-slice means; standard errors from per-slice variances
// (a sample credits a player at most once, so its contributions are independent).
#include <cmath>

#include "core/error.h"
#include "core/rng.h"
#include "profile/sampling.h"

namespace cokv::profile {

namespace {

class SsvScheme final : public Scheme {
 public:
  SsvScheme(int n, std::vector<int> slices, const SsvOptions& opt)
      : n_(n), h_(int(slices.size())), slices_(std::move(slices)), seed_(opt.sampling.seed),
        left_only_(opt.left_only) {
    for (int a = 0; a < h_; ++a) {
      int m = -1;
      for (int b = 0; b < h_; ++b)
        if (slices_[b] == n_ - slices_[a]) m = b;
      mirror_.push_back(m);
    }
    for (int c = 0; c < opt.sampling.chains; ++c) chain_.emplace_back(n_, h_);
  }

  int width() const override { return 2 * h_; }

  void draw(int chain, int64_t sample, Coalition* out, EvalKey* keys) const override {
    std::vector<int> perm(n_);
    for (int a = 0; a < h_; ++a) {
      const int j = slices_[a];
      RandomStream rs(seed_, (kTagSsv << 24) | uint32_t(chain), uint32_t(j), uint32_t(sample));
      rs.subset(perm, j);
      Coalition& s = out[2 * a];
      Coalition& rest = out[2 * a + 1];
      s.assign(n_, 0);
      for (int k = 0; k < j; ++k) s[perm[k]] = 1;
      rest.resize(n_);
      for (int i = 0; i < n_; ++i) rest[i] = 1 - s[i];
      keys[2 * a] = {"ssv", uint32_t(chain), uint32_t(j), uint64_t(sample), 0};
      keys[2 * a + 1] = {"ssv", uint32_t(chain), uint32_t(j), uint64_t(sample), 1};
    }
  }

  void accumulate(int chain, int64_t, const Coalition* c, const double* u) override {
    Sums& ch = chain_[chain];
    for (int a = 0; a < h_; ++a) {
      const double g = u[2 * a] - u[2 * a + 1];
      const Coalition& s = c[2 * a];
      const int b = left_only_ ? -1 : mirror_[a];
      for (int i = 0; i < n_; ++i) {
        if (s[i])
          ch.add(a * n_ + i, g);
        else if (b >= 0)
          ch.add(b * n_ + i, -g);
      }
    }
  }

  std::vector<double> chain_values(int chain) const override {
    return ssv(chain_[chain].sum, chain_[chain].count, nullptr);
  }

  Estimate estimate(bool with_errors) const override {
    Sums pooled(n_, h_);
    for (const Sums& ch : chain_)
      for (size_t k = 0; k < pooled.sum.size(); ++k) {
        pooled.sum[k] += ch.sum[k];
        pooled.sumsq[k] += ch.sumsq[k];
        pooled.count[k] += ch.count[k];
      }
    Estimate e;
    e.method = left_only_ ? "ssv-left" : "ssv";
    e.slices = slices_;
    e.values = ssv(pooled.sum, pooled.count, &e.slice_values);
    if (!with_errors) return e;
    e.std_error.assign(n_, 0.0);
    for (int i = 0; i < n_; ++i) {
      double var = 0;  // variance of the mean over slices
      for (int a = 0; a < h_; ++a) {
        const size_t k = size_t(a) * n_ + i;
        const double m = double(pooled.count[k]);
        var += pooled.count[k] > 1 ? std::max(0.0, pooled.sumsq[k] - pooled.sum[k] * pooled.sum[k] / m) / (m - 1) / m
                                   : std::numeric_limits<double>::infinity();
      }
      e.std_error[i] = std::sqrt(var) / h_;
    }
    return e;
  }

 private:
  struct Sums {
    Sums(int n, int h) : sum(size_t(n) * h, 0.0), sumsq(size_t(n) * h, 0.0), count(size_t(n) * h, 0) {}
    void add(size_t k, double x) {
      sum[k] += x;
      sumsq[k] += x * x;
      ++count[k];
    }
    std::vector<double> sum, sumsq;  // [slice][player] contributions
    std::vector<int64_t> count;      // [slice][player]
  };

  // SSV from per-slice sums. A player without a sample at some slice gets that slice's mean over
  // all players (no information about it; not zero, since slice means can be far from zero).
  std::vector<double> ssv(const std::vector<double>& sum, const std::vector<int64_t>& count,
                          std::vector<std::vector<double>>* per_slice) const {
    std::vector<double> v(n_, 0.0);
    if (per_slice) per_slice->assign(h_, std::vector<double>(n_));
    for (int a = 0; a < h_; ++a) {
      double total = 0;
      int64_t total_count = 0;
      for (int i = 0; i < n_; ++i) {
        total += sum[size_t(a) * n_ + i];
        total_count += count[size_t(a) * n_ + i];
      }
      const double fallback = total_count > 0 ? total / double(total_count) : 0.0;
      for (int i = 0; i < n_; ++i) {
        const size_t k = size_t(a) * n_ + i;
        const double mean = count[k] > 0 ? sum[k] / double(count[k]) : fallback;
        if (per_slice) (*per_slice)[a][i] = mean;
        v[i] += mean / h_;
      }
    }
    return v;
  }

  int n_, h_;
  std::vector<int> slices_, mirror_;  // mirror_[a]: index of slice n - slices_[a], or -1
  uint64_t seed_;
  bool left_only_;
  std::vector<Sums> chain_;
};

}  // namespace

Estimate sliced_shapley(JournaledGame& game, const SsvOptions& options) {
  const int n = game.n_players();
  if (n < 2) fail("sliced_shapley", "n_players", "at least 2", std::to_string(n));
  SsvScheme scheme(n, resolve_slices(options.slices, n, "sliced_shapley"), options);
  return run_sampling(game, scheme, options.sampling);
}

}  // namespace cokv::profile
