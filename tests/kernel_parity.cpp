// The kernel parity harness (see kernel_parity.h).
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include "kernel_parity.h"

#include <cstdio>

namespace kp {

Tally& tally() {
  static Tally t;
  return t;
}

namespace {

bool same_bits(const Outputs& a, const Outputs& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].size() != b[i].size() || std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0)
      return false;
  return true;
}

#if COKV_EMU
const cokv::emu::Schedule kSchedules[] = {
    {cokv::emu::Order::Forward, 0}, {cokv::emu::Order::Reverse, 0}, {cokv::emu::Order::Shuffled, 7}};
constexpr const char* kMode = "emulated";
#else
constexpr const char* kMode = "on the GPU";
#endif

}  // namespace

Outputs run_device(const std::function<Outputs()>& device) {
#if COKV_EMU
  Outputs first;
  for (const auto& s : kSchedules) {
    cokv::emu::set_schedule(s);
    Outputs out = device();
    ++tally().runs;
    if (&s == &kSchedules[0]) {
      first = std::move(out);
    } else if (!same_bits(first, out)) {
      FAIL_CHECK("outputs differ between the forward and the " << cokv::emu::order_name(s.order)
                                                               << " schedule: a race in the kernel");
    }
  }
  cokv::emu::set_schedule({});
  return first;
#else
  Outputs first = device();
  Outputs again = device();
  tally().runs += 2;
  if (!same_bits(first, again)) FAIL_CHECK("two runs on the GPU gave different bits");
  return first;
#endif
}

void compare(const std::string& what, const std::vector<float>& got, const std::vector<double>& ref,
             const std::vector<double>& tol, const std::string& reason) {
  INFO(what << " (tolerance: " << reason << ")");
  REQUIRE(got.size() == ref.size());
  REQUIRE(tol.size() == ref.size());
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const bool nan_ok = std::isnan(got[i]) && std::isnan(ref[i]);
    const double err = nan_ok ? 0.0 : std::fabs(double(got[i]) - ref[i]);
    const double ratio = err == 0 ? 0.0 : tol[i] > 0 ? err / tol[i] : INFINITY;
    if (ratio > tally().worst_ratio) tally().worst_ratio = ratio, tally().worst_where = what;
    if (!(err <= tol[i]) && bad++ < 5)
      FAIL_CHECK("element " << i << ": got " << got[i] << ", expected " << ref[i] << " +- " << tol[i]);
  }
  CHECK(bad == 0);
}

void compare_exact(const std::string& what, const std::vector<float>& got, const std::vector<float>& ref) {
  INFO(what << " (exact)");
  REQUIRE(got.size() == ref.size());
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &ref[i], sizeof(float)) != 0 && bad++ < 5)
      FAIL_CHECK("element " << i << ": got " << got[i] << ", expected " << ref[i]);
  CHECK(bad == 0);
}

void run_table(const std::string& kernel, const std::vector<Case>& cases) {
  const int runs0 = tally().runs;
  for (const Case& c : cases) {
    INFO(kernel << " case " << c.name);
    try {
      c.run();
    } catch (const std::exception& e) {
      FAIL_CHECK("threw: " << e.what());
    }
    ++tally().cases;
  }
  std::printf("kernel parity %s: %zu cases ran %s (%d device runs)\n", kernel.c_str(), cases.size(), kMode,
              tally().runs - runs0);
}

}  // namespace kp

namespace {

using kp::Tally;
using kp::tally;

// Prints the suite's totals when the run ends (all kernels when run together).
struct ParityListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testRunEnded(const Catch::TestRunStats& stats) override {
    const Tally& t = tally();
    if (t.cases == 0) return;
#if COKV_EMU
    const cokv::emu::Stats s = cokv::emu::stats();
    std::printf(
        "kernel parity: %d cases ran emulated, %d device runs (forward, reverse and shuffled schedules, "
        "outputs bitwise equal), %llu launches, %llu blocks, %llu fiber switches; worst error/tolerance "
        "%.3g (%s)\n",
        t.cases, t.runs, (unsigned long long)s.launches, (unsigned long long)s.blocks,
        (unsigned long long)s.switches, t.worst_ratio, t.worst_where.c_str());
#else
    std::printf(
        "kernel parity: %d cases ran on the GPU, %d device runs (each twice, outputs bitwise equal); worst "
        "error/tolerance %.3g (%s)\n",
        t.cases, t.runs, t.worst_ratio, t.worst_where.c_str());
#endif
    TestEventListenerBase::testRunEnded(stats);
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(ParityListener)
