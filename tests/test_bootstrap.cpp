// The bootstrap behind cokv-eval's intervals: numpy's quantile rule, a two-record case whose
// replicate distribution is known by hand, the normal approximation on a larger sample, fixed
// seeds giving fixed intervals, and EvalTable's cell, average and paired intervals.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>

#include "core/bootstrap.h"
#include "report/eval_report.h"

using namespace cokv;

TEST_CASE("bootstrap: quantile interpolates as numpy.percentile", "[bootstrap]") {
  // numpy.percentile([1, 2, 3, 4], 25) = 1.75; ([1..10], 97.5) = 9.775; q = 0 and 1 are the ends.
  CHECK(quantile({4, 1, 3, 2}, 0.25) == Approx(1.75));
  CHECK(quantile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.975) == Approx(9.775));
  CHECK(quantile({5}, 0.3) == 5);
  CHECK(quantile({3, 1, 2}, 0.0) == 1);
  CHECK(quantile({3, 1, 2}, 1.0) == 3);
}

TEST_CASE("bootstrap: two records 0 and 1, replicate means as computed by hand", "[bootstrap]") {
  // Each replicate draws 2 of {0, 1} with replacement: mean 0, 1/2, 1 with probability 1/4, 1/2,
  // 1/4. So the 2.5% and 97.5% percentiles are 0 and 1, and the frequencies are binomial.
  const std::vector<int> sizes{2};
  const std::vector<double> v{0, 1};
  BootstrapOptions o;
  o.replicates = 4000;
  std::map<double, int> freq;
  Resample idx;
  for (int b = 0; b < o.replicates; ++b) {
    draw_resample(sizes, o.seed, uint32_t(b), idx);
    freq[(v[idx[0][0]] + v[idx[0][1]]) / 2] += 1;
  }
  const double sd = std::sqrt(0.25 * 0.75 / o.replicates);  // of a 1/4 proportion
  CHECK(std::fabs(freq[0.0] / double(o.replicates) - 0.25) < 4 * sd);
  CHECK(std::fabs(freq[1.0] / double(o.replicates) - 0.25) < 4 * sd);
  CHECK(std::fabs(freq[0.5] / double(o.replicates) - 0.5) < 4 * std::sqrt(0.25 / o.replicates));
  const auto ci = bootstrap_intervals(sizes, 1, o, [&](const Resample& r, std::span<double> out) {
    out[0] = (v[r[0][0]] + v[r[0][1]]) / 2;
  });
  CHECK(ci[0].lo == 0.0);
  CHECK(ci[0].hi == 1.0);
}

TEST_CASE("bootstrap: the interval of a mean matches the normal approximation", "[bootstrap]") {
  // 40 values 0..39: mean 19.5, sd 11.54; the percentile interval is close to
  // mean +- 1.96 sd / sqrt(n) (bootstrap sd uses 1/n: sd * sqrt(39/40)).
  std::vector<double> v;
  for (int i = 0; i < 40; ++i) v.push_back(i);
  const std::vector<int> sizes{40};
  BootstrapOptions o;
  auto mean = [&](const Resample& r, std::span<double> out) {
    double s = 0;
    for (int i : r[0]) s += v[i];
    out[0] = s / 40;
  };
  const auto ci = bootstrap_intervals(sizes, 1, o, mean);
  const double half = 1.96 * std::sqrt((40.0 * 40 - 1) / 12.0) * std::sqrt(39.0 / 40) / std::sqrt(40.0);
  CHECK(ci[0].lo == Approx(19.5 - half).epsilon(0.05));
  CHECK(ci[0].hi == Approx(19.5 + half).epsilon(0.05));
  // A fixed seed gives the same interval; another seed another (but close) one.
  const auto again = bootstrap_intervals(sizes, 1, o, mean);
  CHECK(again[0].lo == ci[0].lo);
  CHECK(again[0].hi == ci[0].hi);
  o.seed = 7;
  const auto other = bootstrap_intervals(sizes, 1, o, mean);
  CHECK(other[0].lo != ci[0].lo);
  CHECK(other[0].lo == Approx(ci[0].lo).epsilon(0.05));
}

TEST_CASE("bootstrap: EvalTable cells, averages and paired differences", "[bootstrap][eval]") {
  EvalTable t;
  t.datasets = {"a", "b"};
  t.bootstrap.replicates = 1000;
  t.rows = {make_row("full", 0), make_row("uniform", 64), make_row("cokv", 64)};
  // full: a = {1, 0, 1, 0, 1, 0}, b = constant 0.5; uniform = full - 0.1 on every record; cokv = full.
  const double a[] = {1, 0, 1, 0, 1, 0};
  for (int i = 0; i < 6; ++i) {
    const std::string id = "r" + std::to_string(i);
    t.add("full", 0, "a", id, a[i], 10, 10);
    t.add("full", 0, "b", id, 0.5, 10, 10);
    t.add("uniform", 64, "a", id, a[i] - 0.1, 1, 1);
    t.add("uniform", 64, "b", id, 0.4, 1, 1);
    t.add("cokv", 64, "a", id, a[i], 1, 1);
    t.add("cokv", 64, "b", id, 0.5, 1, 1);
  }
  t.finish();
  const EvalRow& full = t.rows[0];
  CHECK(full.cells.at("a").score == 50);
  CHECK(full.average == 50);
  // A constant dataset has a zero-width interval; a {0, 1} one spans most of [0, 100].
  CHECK(full.cells.at("b").ci.lo == Approx(50));
  CHECK(full.cells.at("b").ci.hi == Approx(50));
  CHECK(full.cells.at("a").ci.lo <= 25);
  CHECK(full.cells.at("a").ci.hi >= 75);
  CHECK(full.average_ci.lo < 50);
  CHECK(full.average_ci.hi > 50);
  CHECK(full.paired.empty());
  // uniform vs full: exactly -10 on every resample, so the interval is [-10, -10] and excludes 0.
  const EvalRow& uni = t.rows[1];
  REQUIRE(uni.paired.size() == 1);
  CHECK(uni.paired[0].against == "full");
  CHECK(uni.paired[0].diff == Approx(-10));
  CHECK(uni.paired[0].ci.lo == Approx(-10));
  CHECK(uni.paired[0].ci.hi == Approx(-10));
  CHECK(uni.paired[0].ci.excludes_zero());
  // cokv equals full (diff 0, not excluding zero) and is 10 above uniform at its budget.
  const EvalRow& ck = t.rows[2];
  REQUIRE(ck.paired.size() == 2);
  CHECK(ck.paired[0].against == "full");
  CHECK(ck.paired[0].diff == Approx(0).margin(1e-12));
  CHECK_FALSE(ck.paired[0].ci.excludes_zero());
  CHECK(ck.paired[1].against == "uniform@64");
  CHECK(ck.paired[1].diff == Approx(10));
  // Unpaired intervals of cokv and uniform overlap although the paired one is far from zero:
  // why the report pairs.
  CHECK(ck.average_ci.lo < uni.average_ci.hi);
  const std::string md = eval_results_markdown(t, {}, "m", {}, {}, 1);
  CHECK_THAT(md, Catch::Contains("## Paired differences") && Catch::Contains("-10.00 [-10.0, -10.0] *") &&
                     Catch::Contains("Intervals that exclude zero (2 of 3)"));

  // With fewer records than the minimum there are no intervals, and nothing "excludes zero".
  EvalTable few = t;
  few.min_records_for_interval = 7;
  few.finish();
  CHECK(std::isnan(few.rows[1].average_ci.lo));
  CHECK(std::isnan(few.rows[1].cells.at("a").ci.lo));
  CHECK_FALSE(few.rows[1].paired[0].ci.excludes_zero());
  CHECK_THAT(eval_results_markdown(few, {}, "m", {}, {}, 1), Catch::Contains("Too few records for intervals"));
}
