// Paired, leverage-sampled regression estimator (after LeverageSHAP, Musco & Witter 2024,
// "Provably accurate Shapley value estimation via leverage score sampling"), generalised so that
// it can target CoKV's Sliced Shapley Value as well as classic Shapley.
//
// Why this estimator (and not stratified SVARM): CoKV ranks heads by the SSV, whose slices only
// use coalition sizes in H and n - H. A stratified estimator such as SVARM keeps one mean per
// (player, size) stratum; restricted to those sizes an evaluation at size j only informs the j
// players inside it, exactly like CoKV's left-only sums, so it gains nothing there. A regression
// instead fits one linear model to all evaluations, so every evaluation informs every player
// (the model's additive part is learned from all of them and only the residual is noise).
//
// The identity that makes it target the SSV (checked against enumeration in the tests): let
// A+_{i,s} = mean U(T) over |T| = s, T containing i. Then
//   SV_{i,j} = A+_{i,j} + ((n-j)/j) A+_{i,n-j} + (a constant of j),
// because the mean of U over all coalitions of size s does not depend on i. The weighted least
// squares  min_phi sum_{|S| in K} w_|S| (U(S) - sum_{i in S} phi_i)^2  with sum_i phi_i fixed
// has normal equations giving phi_i = sum_s beta_s A+_{i,s} + const with beta_s ~ w_s C(n-1,s-1).
// Choosing w_s = c_s / C(n-1,s-1) on K = H u (n - H), with
//   c_s = [s in H] + [n-s in H] s / (n-s),
// makes phi = r SSV + const, r = |H|(n-1) / (2 sum_{j in H} (n-j)). For H = {1..n-1} this is
// the Shapley kernel (r = (n-1)/n and the constant is fixed by efficiency): Kernel SHAP.
//
// Sampling, as in LeverageSHAP: the leverage score of a row (coalition) of the weighted design
// after projecting out the all-ones direction is proportional to w_s s (n-s), so a size s carries
// total leverage ~ c_s (n-s) = [s in H](n-s) + [n-s in H] s, symmetric in s <-> n-s. Samples are
// complement pairs (S, N\S): a pair's two squared residuals reduce, with sum phi = 0, to
// 2 (x_S . phi - g(S)/2)^2 with x_S = 1_S - (|S|/n) 1 and g(S) = U(S) - U(N\S), so only g is
// regressed. Classes {s, n-s} get samples in proportion to their leverage by a deterministic
// low-discrepancy schedule (integer Weyl sequence), and each class's rows are weighted by its
// population weight over its sample count (stratified least squares), so uneven counts cost
// nothing. Each class also gets its own intercept: a utility's dependence on |S| alone (in CoKV,
// every slice mean is far from zero) then never enters the residuals, and the population
// solution is unchanged (within a class, E[1_S] = (s/n) 1 is orthogonal to the centred rows).
// Without it sum phi would have to be fixed in advance, as Kernel SHAP does with efficiency, and
// the SSV has no such known total. Differences from the paper: sampling with replacement, no
// Bernoulli rescaling, the per-class intercepts.
//
// Values: SSV = phi / r + mu, with mu = mean over j in H of E[g | |S| = j], estimated from the
// same samples (regression-adjusted class means); Shapley = phi + (U(N) - U(empty)) / n.
// Standard errors: stratified sandwich covariance of the least-squares solution (plus mu's
// variance for the SSV). Keys: "lev <chain> <|S|> <sample> 0|1".
#include <Eigen/Dense>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"
#include "profile/sampling.h"

namespace cokv::profile {

namespace {

class RegressionScheme final : public Scheme {
 public:
  RegressionScheme(int n, Target target, std::vector<int> slices, const SamplingOptions& opt)
      : n_(n), target_(target), seed_(opt.seed) {
    std::vector<int> h = std::move(slices);
    if (target == Target::shapley) {
      h.resize(n - 1);
      std::iota(h.begin(), h.end(), 1);
    }
    slices_ = h;
    std::vector<char> in_h(n + 1, 0);
    int64_t sum_n_minus_j = 0;
    for (int j : h) {
      in_h[j] = 1;
      sum_n_minus_j += n - j;
    }
    scale_ = double(h.size()) * (n - 1) / (2.0 * double(sum_n_minus_j));
    uint64_t total_mass = 0;
    for (int r = 1; 2 * r <= n; ++r) {
      const bool pair = 2 * r < n;  // class {r, n-r} holds two sizes
      const int64_t lev = (in_h[r] ? n - r : 0) + (in_h[n - r] ? r : 0);  // c_r (n - r), an integer
      if (lev == 0) continue;
      Class k;
      k.size = r;
      k.mass = uint64_t(pair ? 2 * lev : lev);
      // population weight: sum over the class's sizes of w_s C(n,s) = n c_s / s, equal for s, n-s
      k.weight = double(pair ? 2 : 1) * double(lev) / double(r) / double(n - r) * n;
      k.sign = (in_h[r] ? 1 : 0) - (pair && in_h[n - r] ? 1 : 0);
      total_mass += k.mass;
      k.cum_mass = total_mass;
      classes_.push_back(k);
    }
    total_mass_ = total_mass;
    double wsum = 0;
    for (const Class& k : classes_) wsum += k.weight;
    for (Class& k : classes_) k.weight /= wsum;
    for (int c = 0; c < opt.chains; ++c) chain_.emplace_back(n, int(classes_.size()));
  }

  int width() const override { return 2; }

  void prepare(JournaledGame& game, int) override {
    if (target_ == Target::shapley) evaluate_base(game, u_empty_, u_full_);
  }

  void draw(int chain, int64_t sample, Coalition* out, EvalKey* keys) const override {
    std::vector<int> perm(n_);
    const int r = classes_[class_of(sample)].size;
    coalition(chain, sample, r, perm, out[0]);
    out[1].resize(n_);
    for (int i = 0; i < n_; ++i) out[1][i] = 1 - out[0][i];
    keys[0] = {"lev", uint32_t(chain), uint32_t(r), uint64_t(sample), 0};
    keys[1] = {"lev", uint32_t(chain), uint32_t(r), uint64_t(sample), 1};
  }

  void accumulate(int chain, int64_t sample, const Coalition* c, const double* u) override {
    Chain& ch = chain_[chain];
    const int k = class_of(sample);
    const double g = u[0] - u[1];
    ch.g.push_back(g);
    ch.m[k] += 1;
    ch.gsum[k] += g;
    ch.gsq[k] += g * g;
    Eigen::MatrixXd& cc = ch.zz[k];
    Eigen::VectorXd& cz = ch.z[k];
    Eigen::VectorXd& zg = ch.zg[k];
    ch.members.clear();
    for (int i = 0; i < n_; ++i)
      if (c[0][i]) ch.members.push_back(i);
    for (int i : ch.members) {
      cz[i] += 1;
      zg[i] += 0.5 * g;
      for (int j : ch.members) cc(j, i) += 1;
    }
  }

  std::vector<double> chain_values(int chain) const override {
    const Fit f = fit({chain});
    return values(f);
  }

  Estimate estimate(bool with_errors) const override {
    std::vector<int> all(chain_.size());
    std::iota(all.begin(), all.end(), 0);
    const Fit f = fit(all);
    Estimate e;
    e.method = target_ == Target::shapley ? "regression-shapley" : "regression-ssv";
    if (target_ == Target::ssv) e.slices = slices_;
    e.values = values(f);
    if (with_errors) e.std_error = std_errors(f, all);
    return e;
  }

 private:
  struct Class {
    int size;           // r <= n/2: samples draw S of size r; N\S has size n - r
    uint64_t mass;      // leverage mass (integer), for the schedule
    uint64_t cum_mass;  // running sum of mass up to and including this class
    double weight;      // population weight of the class's loss, normalised to sum 1
    int sign;           // how mean g of the class enters mu: +1 (r in H), -1 (n-r in H), 0
  };
  struct Chain {
    Chain(int n, int k)
        : m(k, 0), gsum(k, 0), gsq(k, 0), zz(k, Eigen::MatrixXd::Zero(n, n)), z(k, Eigen::VectorXd::Zero(n)),
          zg(k, Eigen::VectorXd::Zero(n)) {}
    std::vector<double> m, gsum, gsq;    // [class] sample count, sum of g, sum of g^2
    std::vector<Eigen::MatrixXd> zz;     // [class][n][n] sum of 1_S 1_S^T
    std::vector<Eigen::VectorXd> z, zg;  // [class][n] sum of 1_S, sum of 1_S g/2
    std::vector<double> g;               // [samples] g of each sample, for the standard errors
    std::vector<int> members;            // scratch
  };
  struct Fit {
    Eigen::MatrixXd a_inv;             // [n][n] inverse of the (regularised) normal matrix
    Eigen::VectorXd phi;               // [n] centred least-squares solution
    std::vector<double> class_weight;  // [class] weight / pooled count (0 when empty)
    double mu = 0, mu_var = 0;         // SSV offset and its variance
    std::vector<Eigen::VectorXd> z_mean;  // [class][n] mean of 1_S
    std::vector<double> g_mean;           // [class] mean of g
  };

  // Class of sample t: the integer Weyl sequence frac(1/2 + t / golden ratio), scaled to the total
  // leverage mass, picks the class; integer arithmetic so every machine draws the same schedule.
  int class_of(int64_t t) const {
    const uint64_t u = 0x8000000000000000ull + uint64_t(t) * 0x9E3779B97F4A7C15ull;
    const uint64_t x = uint64_t((unsigned __int128)u * total_mass_ >> 64);
    int k = 0;
    while (classes_[k].cum_mass <= x) ++k;
    return k;
  }

  void coalition(int chain, int64_t sample, int r, std::vector<int>& perm, Coalition& out) const {
    RandomStream rs(seed_, (kTagRegression << 24) | uint32_t(chain), 0, uint32_t(sample));
    rs.subset(perm, r);
    out.assign(n_, 0);
    for (int k = 0; k < r; ++k) out[perm[k]] = 1;
  }

  Fit fit(const std::vector<int>& chains) const {
    const int n = n_;
    const size_t nk = classes_.size();
    Fit f;
    Eigen::MatrixXd a = Eigen::MatrixXd::Zero(n, n);
    Eigen::VectorXd b = Eigen::VectorXd::Zero(n);
    const Eigen::VectorXd ones = Eigen::VectorXd::Ones(n);
    f.class_weight.assign(nk, 0.0);
    f.z_mean.assign(nk, Eigen::VectorXd::Zero(n));
    f.g_mean.assign(nk, 0.0);
    // pooled sums per class, kept for the offset mu below
    std::vector<double> m(nk, 0.0), gq(nk, 0.0);
    std::vector<Eigen::MatrixXd> cc(nk, Eigen::MatrixXd::Zero(n, n));
    std::vector<Eigen::VectorXd> zg(nk, Eigen::VectorXd::Zero(n));
    for (size_t k = 0; k < nk; ++k) {
      double gs = 0;
      Eigen::VectorXd cz = Eigen::VectorXd::Zero(n);
      for (int c : chains) {
        const Chain& ch = chain_[c];
        m[k] += ch.m[k];
        gs += ch.gsum[k];
        gq[k] += ch.gsq[k];
        cc[k] += ch.zz[k];
        cz += ch.z[k];
        zg[k] += ch.zg[k];
      }
      if (m[k] == 0) continue;
      const double w = classes_[k].weight / m[k];
      f.class_weight[k] = w;
      f.z_mean[k] = cz / m[k];
      f.g_mean[k] = gs / m[k];
      // With a free intercept per class, rows are centred within their class:
      // sum (z - zbar)(z - zbar)^T and sum (z - zbar) g/2, from the sums of z = 1_S.
      a += w * (cc[k] - cz * f.z_mean[k].transpose());
      b += w * (zg[k] - cz * (0.5 * f.g_mean[k]));
    }
    // The all-ones direction is outside the model (sum phi = 0): give it an eigenvalue of the
    // matrix's average size; a relative 1e-10 ridge keeps an underdetermined fit (fewer pairs
    // than players) at its minimum-norm solution instead of failing.
    const double avg = a.trace() / n;
    const double lift = avg > 0 ? avg : 1.0;
    a += (lift / n) * ones * ones.transpose();
    a.diagonal().array() += 1e-10 * lift;
    Eigen::LDLT<Eigen::MatrixXd> ldlt(a);
    f.phi = ldlt.solve(b);
    f.phi.array() -= f.phi.mean();
    f.a_inv = ldlt.solve(Eigen::MatrixXd::Identity(n, n));

    // mu = mean over slices j of E[g | |S| = j], each estimated by the regression-adjusted class
    // mean of g - 2 z.phi (z.phi has known mean (r/n) sum phi = 0; exact on additive games).
    for (size_t k = 0; k < nk; ++k) {
      if (m[k] == 0 || classes_[k].sign == 0) continue;
      const double mean = f.g_mean[k] - 2 * f.z_mean[k].dot(f.phi);
      f.mu += classes_[k].sign * mean;
      if (m[k] > 1) {  // sum (g - 2 z.phi)^2 = sum g^2 - 8 phi.(sum z g/2) + 4 phi^T (sum z z^T) phi
        const double sq = gq[k] - 8 * f.phi.dot(zg[k]) + 4 * f.phi.dot(cc[k] * f.phi);
        f.mu_var += std::max(0.0, sq - m[k] * mean * mean) / (m[k] - 1) / m[k];
      }
    }
    const double h = double(slices_.size());
    f.mu /= h;
    f.mu_var /= h * h;
    return f;
  }

  std::vector<double> values(const Fit& f) const {
    std::vector<double> v(n_);
    for (int i = 0; i < n_; ++i)
      v[i] = target_ == Target::shapley ? f.phi[i] + (u_full_ - u_empty_) / n_ : f.phi[i] / scale_ + f.mu;
    return v;
  }

  // Stratified sandwich: Cov(phi) = A^-1 V A^-1, V = sum_k w_k^2 m_k/(m_k-1) sum_t (psi_t - mean_k psi)
  // (psi_t - mean_k psi)^T with psi_t = x_t (x_t . phi - g_t / 2). Coalitions are redrawn from
  // their streams rather than stored.
  std::vector<double> std_errors(const Fit& f, const std::vector<int>& chains) const {
    const int n = n_;
    const size_t nk = classes_.size();
    std::vector<Eigen::MatrixXd> outer(nk, Eigen::MatrixXd::Zero(n, n));
    std::vector<Eigen::VectorXd> total(nk, Eigen::VectorXd::Zero(n));
    std::vector<double> count(nk, 0.0);
    constexpr int kBlock = 256;
    std::vector<Eigen::MatrixXd> block(nk, Eigen::MatrixXd(kBlock, n));
    std::vector<int> filled(nk, 0);
    auto flush = [&](size_t k) {
      const auto rows = block[k].topRows(filled[k]);
      outer[k].selfadjointView<Eigen::Lower>().rankUpdate(rows.transpose());
      filled[k] = 0;
    };
    std::vector<int> perm(n);
    Coalition s;
    Eigen::VectorXd x(n);
    for (int c : chains) {
      const Chain& ch = chain_[c];
      for (int64_t t = 0; t < int64_t(ch.g.size()); ++t) {
        const int k = class_of(t);
        coalition(c, t, classes_[k].size, perm, s);
        for (int i = 0; i < n; ++i) x[i] = s[i] - f.z_mean[k][i];
        const Eigen::VectorXd psi = x * (x.dot(f.phi) - 0.5 * (ch.g[t] - f.g_mean[k]));
        block[k].row(filled[k]++) = psi.transpose();
        total[k] += psi;
        count[k] += 1;
        if (filled[k] == kBlock) flush(k);
      }
    }
    Eigen::MatrixXd v = Eigen::MatrixXd::Zero(n, n);
    for (size_t k = 0; k < nk; ++k) {
      if (filled[k] > 0) flush(k);
      if (count[k] < 2) continue;
      Eigen::MatrixXd o = outer[k].selfadjointView<Eigen::Lower>();
      o -= total[k] * total[k].transpose() / count[k];
      v += (f.class_weight[k] * f.class_weight[k] * count[k] / (count[k] - 1)) * o;
    }
    const Eigen::MatrixXd cov = f.a_inv * v * f.a_inv;
    std::vector<double> se(n);
    for (int i = 0; i < n; ++i) {
      const double var = std::max(0.0, cov(i, i));
      se[i] = target_ == Target::shapley ? std::sqrt(var) : std::sqrt(var / (scale_ * scale_) + f.mu_var);
    }
    return se;
  }

  int n_;
  Target target_;
  uint64_t seed_;
  std::vector<int> slices_;  // H (Shapley: 1..n-1)
  double scale_;             // r: phi = r SSV + const
  std::vector<Class> classes_;
  uint64_t total_mass_ = 0;
  double u_empty_ = 0, u_full_ = 0;
  std::vector<Chain> chain_;
};

}  // namespace

Estimate regression_values(JournaledGame& game, const RegressionOptions& options) {
  const int n = game.n_players();
  if (n < 2) fail("regression_values", "n_players", "at least 2", std::to_string(n));
  std::vector<int> slices =
      options.target == Target::ssv ? resolve_slices(options.slices, n, "regression_values") : std::vector<int>{};
  RegressionScheme scheme(n, options.target, std::move(slices), options.sampling);
  return run_sampling(game, scheme, options.sampling);
}

}  // namespace cokv::profile
