// NumPy default_rng port and the CoKV validation/test split, against numpy's own output
// (tests/data/split/numpy_permutations.json, made by scripts/dev/make_split_golden.py).
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "data/numpy_random.h"
#include "data/split.h"

namespace nr = cokv::numpy_random;
using nlohmann::json;

namespace {
const json& golden() {
  static const json j = [] {
    std::ifstream in(std::string(COKV_SOURCE_DIR) + "/tests/data/split/numpy_permutations.json");
    REQUIRE(in.good());
    return json::parse(in);
  }();
  return j;
}
uint64_t u64(const json& s) { return std::stoull(s.get<std::string>()); }
}  // namespace

TEST_CASE("SeedSequence.generate_state matches numpy", "[split]") {
  for (const auto& c : golden()["seed_sequence"]) {
    INFO("seed " << c["seed"]);
    nr::SeedSequence ss(u64(c["seed"]));
    CHECK(ss.generate_state_u32(8) == c["state_u32"].get<std::vector<uint32_t>>());
    const auto s64 = ss.generate_state_u64(4);
    for (size_t i = 0; i < 4; ++i) CHECK(s64[i] == u64(c["state_u64"][i]));
  }
}

TEST_CASE("PCG64 random_raw matches numpy", "[split]") {
  for (const auto& c : golden()["raw"]) {
    INFO("seed " << c["seed"]);
    nr::Pcg64 g(u64(c["seed"]));
    for (const auto& want : c["u64"]) CHECK(g.next_u64() == u64(want));
  }
}

TEST_CASE("Generator.permutation matches numpy", "[split]") {
  int n_cases = 0;
  for (const auto& c : golden()["permutations"]) {
    INFO("seed " << c["seed"] << " n " << c["n"]);
    nr::Pcg64 g(u64(c["seed"]));
    CHECK(nr::permutation(g, c["n"].get<int64_t>()) == c["perm"].get<std::vector<int64_t>>());
    ++n_cases;
  }
  CHECK(n_cases >= 40);
  // Consecutive draws share the generator (and its buffered 32-bit half).
  const auto& cons = golden()["consecutive"];
  nr::Pcg64 g(u64(cons["seed"]));
  for (size_t k = 0; k < cons["sizes"].size(); ++k)
    CHECK(nr::permutation(g, cons["sizes"][k].get<int64_t>()) == cons["perms"][k].get<std::vector<int64_t>>());
}

TEST_CASE("random_interval stays in range and uses 64-bit draws above 2^32", "[split]") {
  nr::Pcg64 g(7);
  for (uint64_t max : {uint64_t{1}, uint64_t{5}, uint64_t{1} << 32, (uint64_t{1} << 40) + 3, ~uint64_t{0}})
    for (int k = 0; k < 200; ++k) CHECK(nr::random_interval(g, max) <= max);
  CHECK(nr::random_interval(g, 0) == 0);
}

TEST_CASE("validation/test split: 30 or 50 shuffled records, rest test", "[split]") {
  using cokv::longbench::validation_test_split;
  for (size_t n : {size_t{200}, size_t{201}, size_t{503}}) {
    const auto s = validation_test_split(n);
    CHECK(s.validation.size() == (n > 200 ? 50u : 30u));
    CHECK(s.validation.size() + s.test.size() == n);
    std::set<size_t> all(s.validation.begin(), s.validation.end());
    all.insert(s.test.begin(), s.test.end());
    CHECK(all.size() == n);
    CHECK(*all.rbegin() == n - 1);
    // Same order as numpy's permutation with seed 42.
    for (const auto& c : golden()["permutations"]) {
      if (c["seed"] != "42" || c["n"].get<size_t>() != n) continue;
      const auto perm = c["perm"].get<std::vector<size_t>>();
      CHECK(std::equal(s.validation.begin(), s.validation.end(), perm.begin()));
      CHECK(std::equal(s.test.begin(), s.test.end(), perm.begin() + static_cast<long>(s.validation.size())));
    }
  }
  const auto small = validation_test_split(10);
  CHECK(small.validation.size() == 10);
  CHECK(small.test.empty());
}
