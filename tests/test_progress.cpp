// Progress: status text (rate, ETA, extra), log-mode throttling, terminal redraw, threads.
#include <atomic>
#include <catch2/catch.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "core/progress.h"

using namespace cokv;

namespace {
struct FakeClock {
  std::atomic<double> now{1000.0};
  std::function<double()> fn() {
    return [this] { return now.load(); };
  }
};
int count(const std::string& s, const std::string& needle) {
  int n = 0;
  for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("progress: status shows done/total, rate, ETA and extra", "[core][progress]") {
  FakeClock clk;
  std::ostringstream os;
  Progress::Options o;
  o.tty = false;
  o.clock = clk.fn();
  Progress p(os, "profile qasper", 400, o);
  clk.now = 1010.0;  // 120 done in 10 s: 12/s, 280 left -> ETA 23.3 s
  p.update(120, "mae 0.004");
  REQUIRE(p.status() == "profile qasper: 120/400 (30.0%) 12/s ETA 0:23 elapsed 0:10 | mae 0.004");
  REQUIRE(format_duration(3723) == "1:02:03");
  REQUIRE(format_duration(59.6) == "1:00");
}

TEST_CASE("progress: log mode prints at most every N seconds, then a final line", "[core][progress]") {
  FakeClock clk;
  std::ostringstream os;
  {
    Progress::Options o;
    o.tty = false;
    o.log_every_s = 10;
    o.clock = clk.fn();
    Progress p(os, "eval", 100, o);
    for (int i = 0; i < 100; ++i) {
      clk.now = clk.now + 0.5;  // 50 s in all -> lines at 10, 20, 30, 40, 50 s
      p.add();
    }
    REQUIRE(count(os.str(), "\n") == 5);
    REQUIRE(os.str().find('\r') == std::string::npos);
  }  // destructor finishes
  REQUIRE(count(os.str(), "\n") == 6);
  REQUIRE(os.str().find("eval: 100/100 (100.0%)") != std::string::npos);
  REQUIRE(os.str().find("(done)") != std::string::npos);
}

TEST_CASE("progress: terminal mode redraws one line", "[core][progress]") {
  FakeClock clk;
  std::ostringstream os;
  Progress::Options o;
  o.tty = true;
  o.clock = clk.fn();
  Progress p(os, "eval", 0, o);  // unknown total
  for (int i = 0; i < 10; ++i) {
    clk.now = clk.now + 1.0;
    p.add(5);
  }
  p.finish("done");
  const std::string s = os.str();
  REQUIRE(count(s, "\r") == 11);
  REQUIRE(count(s, "\n") == 1);
  REQUIRE(s.back() == '\n');
  REQUIRE(s.find("eval: 50 5.00/s") != std::string::npos);
  REQUIRE(s.find("ETA") == std::string::npos);
  REQUIRE(!Progress::is_terminal(os));
}

TEST_CASE("progress: concurrent add() from threads loses nothing", "[core][progress]") {
  std::ostringstream os;
  Progress::Options o;
  o.tty = false;
  o.log_every_s = 1e9;
  Progress p(os, "threads", 40000, o);
  std::vector<std::thread> ts;
  for (int k = 0; k < 4; ++k)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) progress_add(&p, 1, i % 1000 == 0 ? "x" : "");
    });
  for (auto& t : ts) t.join();
  REQUIRE(p.done() == 40000);
  progress_add(nullptr);  // a null reporter is allowed
}
