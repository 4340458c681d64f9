// SIGTERM and SIGINT stop cokv-profile and cokv-eval cleanly: the batch or record in flight
// finishes, the journal / predictions hold only complete lines, the process exits with
// 128 + the signal and says how to continue; the continued run ends where an uninterrupted
// one does.
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/paths.h"
#include "core/stop.h"
#include "profile/journal.h"
#include "profile/synthetic.h"
#include "sandbox.h"
#include "scratch.h"

namespace fs = std::filesystem;
using namespace cokv;
using nlohmann::json;

namespace {

fs::path scratch(const std::string& name) { return cokv_test::scratch_dir("stop", name); }

int count_lines(const fs::path& p) {
  std::ifstream in(p);
  int n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

// Waits until `file` has at least `lines` lines (or the child ended), then sends `sig`.
// Returns the wait status.
int signal_when(cokv_test::Child& c, const fs::path& file, int lines, int sig) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(file) && count_lines(file) >= lines) break;
    int st = 0;
    if (waitpid(c.pid, &st, WNOHANG) == c.pid) return st;  // ended before: the caller's check fails
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(c.pid, sig);
  return c.wait(std::chrono::seconds(180));
}

int exit_code(int st) { return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1; }

}  // namespace

TEST_CASE("stop: a requested stop ends the journaled game after its last complete batch", "[stop][journal]") {
  const fs::path dir = scratch("unit");
  profile::TableGame game = profile::TableGame::random(4, 5);
  const std::string path = (dir / "journal.txt").string();
  profile::JournaledGame g(game, path, json{{"k", 1}}, profile::JournalMode::fresh);
  std::vector<profile::EvalKey> keys = {{"ssv", 0, 0, 0, 0}};
  std::vector<profile::Coalition> c = {{1, 1, 0, 0}};
  std::vector<double> u(1);
  g.evaluate(keys, c, u);
  request_stop_for_test(SIGTERM);
  keys[0].sample = 1;
  std::string msg;
  int code = 0;
  try {
    g.evaluate(keys, c, u);
  } catch (const Stopped& e) {
    msg = e.what();
    code = e.exit_code();
  }
  request_stop_for_test(0);
  CHECK(code == 143);
  CHECK_THAT(msg, Catch::Contains("stopped by SIGTERM") && Catch::Contains(path) && Catch::Contains("--resume"));
  CHECK(count_lines(path) == 2);  // header + the batch before the stop; nothing after
  CHECK(g.n_requested() == 1);
}

TEST_CASE("stop: SIGTERM mid-profile flushes the journal, exits 143, and --resume finishes identically",
          "[stop][profile][model]") {
  const std::string bin = std::string(COKV_BUILD_DIR) + "/cokv-profile";
  REQUIRE(fs::exists(bin));
  const fs::path a = scratch("profile_a"), b = scratch("profile_b");
  auto args = [&](const fs::path& out) {
    return std::vector<std::string>{bin, "--longbench", std::string(COKV_SOURCE_DIR) + "/tests/data/profile",
                                    "--category", "synthetic", "--method", "ssv", "--utility", "loglik",
                                    "--budgets", "16,32", "--samples", "3", "--max-records", "1",
                                    "--max-length", "96", "--threads", "1", "--batch", "4", "--out", out.string()};
  };
  REQUIRE(exit_code(cokv_test::spawn(args(a)).wait()) == 0);  // the uninterrupted reference
  auto c = cokv_test::spawn(args(b), "", (b.string() + ".stderr"));
  const int st = signal_when(c, b / "journal.txt", 6, SIGTERM);
  CHECK(exit_code(st) == 143);
  const std::string err = read_file_bytes(b.string() + ".stderr");
  CHECK_THAT(err, Catch::Contains("stopped by SIGTERM") && Catch::Contains("--resume"));
  CHECK_FALSE(fs::exists(b / "scores.json"));
  const std::string journal = read_file_bytes((b / "journal.txt").string());
  REQUIRE_FALSE(journal.empty());
  CHECK(journal.back() == '\n');  // no line cut: the batch in flight finished or was abandoned whole
  const auto parsed = profile::parse_journal(journal, "journal");
  CHECK(parsed.records.size() + 1 == size_t(count_lines(b / "journal.txt")));
  auto resume = args(b);
  resume.push_back("--resume");
  REQUIRE(exit_code(cokv_test::spawn(resume).wait()) == 0);
  const json sa = json::parse(read_file_bytes((a / "scores.json").string()));
  const json sb = json::parse(read_file_bytes((b / "scores.json").string()));
  CHECK(sa["values_hex"] == sb["values_hex"]);
  const json sum = json::parse(read_file_bytes((b / "summary.json").string()));
  CHECK(sum["evaluations"]["replayed"].get<size_t>() == parsed.records.size());
}

TEST_CASE("stop: SIGINT mid-eval keeps whole records, exits 130, and a rerun finishes identically",
          "[stop][eval][model]") {
  const std::string bin = std::string(COKV_BUILD_DIR) + "/cokv-eval";
  REQUIRE(fs::exists(bin));
  const fs::path a = scratch("eval_a"), b = scratch("eval_b");
  auto args = [&](const fs::path& out) {
    return std::vector<std::string>{bin, "run", "--longbench", std::string(COKV_SOURCE_DIR) + "/tests/data/eval",
                                    "--datasets", "trec,hotpotqa", "--methods", "full,uniform", "--budgets", "16",
                                    "--split", "all", "--max-new", "6", "--no-plots", "--out", out.string()};
  };
  REQUIRE(exit_code(cokv_test::spawn(args(a)).wait()) == 0);
  auto c = cokv_test::spawn(args(b), "", b.string() + ".stderr");
  const int st = signal_when(c, b / "predictions.jsonl", 2, SIGINT);
  CHECK(exit_code(st) == 130);
  CHECK_THAT(read_file_bytes(b.string() + ".stderr"), Catch::Contains("stopped by SIGINT") &&
                                                          Catch::Contains("predictions.jsonl"));
  CHECK_FALSE(fs::exists(b / "scores.json"));
  const std::string preds = read_file_bytes((b / "predictions.jsonl").string());
  REQUIRE_FALSE(preds.empty());
  CHECK(preds.back() == '\n');
  const int kept = count_lines(b / "predictions.jsonl");
  CHECK(kept % 2 == 0);  // whole records: both methods of each
  CHECK(kept < 12);
  REQUIRE(exit_code(cokv_test::spawn(args(b), b.string() + ".stdout").wait()) == 0);
  const json sa = json::parse(read_file_bytes((a / "scores.json").string()));
  const json sb = json::parse(read_file_bytes((b / "scores.json").string()));
  CHECK(sa["results"] == sb["results"]);
  CHECK(count_lines(b / "predictions.jsonl") == 12);
}
