// The evaluation journal: line format, exact hex-float replay, kill-and-resume giving bit-identical
// values, a truncated last line, and refusal of journals written with other settings.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "profile/estimators.h"
#include "profile/synthetic.h"
#include "scratch.h"

using namespace cokv::profile;
namespace fs = std::filesystem;

namespace {

// A fresh folder under the build tree for this test's files.
fs::path scratch(const std::string& name) { return cokv_test::scratch_dir("journal", name); }

// Evaluates until `limit` evaluations are done, then throws on the next batch: a simulated kill.
class DyingGame final : public Game {
 public:
  DyingGame(Game& inner, int64_t limit) : inner_(inner), limit_(limit) {}
  int n_players() const override { return inner_.n_players(); }
  void evaluate(std::span<const Coalition> batch, std::span<double> utilities) override {
    if (done_ >= limit_) throw cokv::Error("killed");
    inner_.evaluate(batch, utilities);
    done_ += int64_t(batch.size());
  }

 private:
  Game& inner_;
  int64_t limit_, done_ = 0;
};

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("journal lines: key, hex mask, hex-float utility", "[journal]") {
  Coalition c(6, 0);
  c[0] = c[5] = 1;  // 2^0 + 2^5 = 0x21
  REQUIRE(coalition_hex(c) == "21");
  REQUIRE(coalition_hex(Coalition(90, 1)) == "3ffffffffffffffffffffff");  // 90 bits: 23 digits
  REQUIRE(format_key({"ssv", 1, 22, 7, 1}) == "ssv 1 22 7 1");

  const fs::path dir = scratch("format");
  const double third = 1.0 / 3;  // not representable in decimal with few digits
  FunctionGame game(6, [third](const Coalition& s) { return s[0] ? third : -0.0; });
  {
    JournaledGame g(game, (dir / "j.txt").string(), {{"seed", 1}}, JournalMode::fresh);
    const std::vector<Coalition> batch = {c, Coalition(6, 0)};
    const std::vector<EvalKey> keys = {{"ssv", 0, 2, 0, 0}, {"ssv", 0, 2, 0, 1}};
    std::vector<double> u(2);
    g.evaluate(keys, batch, u);
  }
  std::istringstream lines(read(dir / "j.txt"));
  std::string header, l1, l2;
  std::getline(lines, header);
  std::getline(lines, l1);
  std::getline(lines, l2);
  REQUIRE(header == "# cokv.journal.v1 {\"seed\":1}");
  REQUIRE(l1 == "ssv 0 2 0 0 21 0x1.5555555555555p-2");
  REQUIRE(l2 == "ssv 0 2 0 1 00 -0x0p+0");

  // Replay returns the exact double, -0.0 included, without calling the game.
  FunctionGame never(6, [](const Coalition&) -> double { throw cokv::Error("evaluated"); });
  JournaledGame r(never, (dir / "j.txt").string(), {{"seed", 1}}, JournalMode::resume);
  std::vector<double> u(2);
  r.evaluate(std::vector<EvalKey>{{"ssv", 0, 2, 0, 0}, {"ssv", 0, 2, 0, 1}}, std::vector<Coalition>{c, Coalition(6, 0)}, u);
  REQUIRE(u[0] == third);
  REQUIRE(std::signbit(u[1]));
  REQUIRE(r.n_replayed() == 2);
  REQUIRE(r.n_evaluated() == 0);

  // A fresh journal never overwrites an existing one.
  REQUIRE_THROWS_WITH(JournaledGame(game, (dir / "j.txt").string(), {{"seed", 1}}, JournalMode::fresh),
                      Catch::Contains("--resume"));
}

TEST_CASE("kill and resume gives bit-identical values, for every sampling estimator", "[journal]") {
  const int n = 16;
  PairwiseGame game = PairwiseGame::random(n, 21, 2.0);
  const fs::path dir = scratch("resume");

  SamplingOptions s;
  s.samples = 40;
  s.chains = 2;
  s.seed = 99;
  s.batch_size = 16;
  struct Case {
    std::string name;
    nlohmann::json settings;
    std::function<Estimate(JournaledGame&, int batch)> run;
  };
  const std::vector<Case> cases = {
      {"perm", settings_json(PermutationOptions{s, true}),
       [s](JournaledGame& g, int b) mutable { s.batch_size = b; return permutation_shapley(g, {s, true}); }},
      {"ssv", settings_json(SsvOptions{s, {}, false}),
       [s](JournaledGame& g, int b) mutable { s.batch_size = b; return sliced_shapley(g, {s, {}, false}); }},
      {"lev", settings_json(RegressionOptions{s, Target::ssv, {}}),
       [s](JournaledGame& g, int b) mutable { s.batch_size = b; return regression_values(g, {s, Target::ssv, {}}); }},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    JournaledGame plain(game);
    const Estimate reference = c.run(plain, 16);

    const std::string path = (dir / (c.name + ".journal")).string();
    DyingGame dying(game, 100);
    {
      JournaledGame first(dying, path, c.settings, JournalMode::fresh);
      REQUIRE_THROWS_WITH(c.run(first, 16), "killed");
      REQUIRE(first.n_evaluated() >= 100);
    }
    // Killed mid-write: half a record without its newline at the end.
    { std::ofstream(path, std::ios::app) << "ssv 0 11 3 0 1f"; }

    JournaledGame resumed(game, path, c.settings, JournalMode::resume);
    const Estimate e = c.run(resumed, 7);  // another batch size on resume changes nothing
    REQUIRE(e.values == reference.values);
    REQUIRE(e.std_error == reference.std_error);
    REQUIRE(resumed.n_replayed() >= 100);
    REQUIRE(resumed.n_replayed() + resumed.n_evaluated() == reference.n_evaluations);

    // The partial line was cut: every line after the header is a complete record.
    std::istringstream lines(read(path));
    std::string line;
    int64_t records = 0;
    std::getline(lines, line);
    while (std::getline(lines, line)) {
      REQUIRE(std::count(line.begin(), line.end(), ' ') == 6);
      ++records;
    }
    REQUIRE(records == reference.n_evaluations);

    // A second resume replays everything.
    JournaledGame again(game, path, c.settings, JournalMode::resume);
    REQUIRE(c.run(again, 64).values == reference.values);
    REQUIRE(again.n_evaluated() == 0);
  }
}

TEST_CASE("resume refuses other settings and names the file and line of a mismatch", "[journal]") {
  const int n = 12;
  PairwiseGame game = PairwiseGame::random(n, 4, 1.0);
  const fs::path dir = scratch("mismatch");
  const std::string path = (dir / "run.journal").string();
  SsvOptions o;
  o.sampling.samples = 5;
  {
    JournaledGame g(game, path, settings_json(o), JournalMode::fresh);
    sliced_shapley(g, o);
  }
  SsvOptions other = o;
  other.sampling.seed = 7;
  try {
    JournaledGame g(game, path, settings_json(other), JournalMode::resume);
    FAIL("accepted a journal with other settings");
  } catch (const cokv::Error& e) {
    const std::string what = e.what();
    REQUIRE_THAT(what, Catch::Contains(path + ":1") && Catch::Contains("different seed or settings"));
  }
  // Settings recorded the same but a different seed in fact (settings that miss something):
  // the first replayed coalition differs, and the error names the journal line.
  JournaledGame g(game, path, settings_json(o), JournalMode::resume);
  try {
    sliced_shapley(g, other);
    FAIL("replayed a coalition that differs");
  } catch (const cokv::Error& e) {
    const std::string what = e.what();
    REQUIRE_THAT(what, Catch::Contains(path + ":") && Catch::Contains("different seed or settings") &&
                           Catch::Contains("coalition of 'ssv 0 "));
  }
  // A corrupt record in the middle (not the last line) is an error, not silently skipped.
  {
    std::string text = read(path);
    text.replace(text.find('\n') + 5, 1, "x");  // "ssv 0 ..." -> "ssv x ..."
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }
  REQUIRE_THROWS_WITH(JournaledGame(game, path, settings_json(o), JournalMode::resume), Catch::Contains(path + ":2"));
}
