// Outputs are never half-written: every writer goes through a temporary and a rename (or an
// all-or-nothing append), so a full disk leaves the previous good file in place, no temporary
// behind, and an error naming the file with errno's text.
//   - each lib writer under RLIMIT_FSIZE (writes past the limit fail with EFBIG: no privileges
//     needed, runs everywhere), in a forked child;
//   - cokv-profile and cokv-eval on a small tmpfs filled to several levels (ENOSPC; needs root
//     or unprivileged user namespaces to mount, skipped otherwise).
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/npy.h"
#include "core/paths.h"
#include "export/exports.h"
#include "kv/allocation.h"
#include "kv/budget_table.h"
#include "profile/journal.h"
#include "profile/synthetic.h"
#include "report/eval_report.h"
#include "report/gnuplot.h"
#include "report/heatmap.h"
#include "sandbox.h"
#include "scratch.h"

namespace fs = std::filesystem;
using namespace cokv;

namespace {

fs::path scratch(const std::string& name) { return cokv_test::scratch_dir("outputs", name); }

// Every regular file under dir with its bytes.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files[fs::relative(e.path(), dir).string()] = read_file_bytes(e.path().string());
  return files;
}

// The failures a child finds, printed to stderr; 0 when there are none.
struct ChildChecks {
  int failures = 0;
  void expect(bool ok, const std::string& what) {
    if (!ok) {
      std::fprintf(stderr, "FAILED: %s\n", what.c_str());
      ++failures;
    }
  }
  // `write` must fail naming `file` and the errno text, leaving dir exactly as `before`.
  void expect_kept(const std::function<void()>& write, const std::string& file, const std::string& errno_text,
                   const fs::path& dir, const std::map<std::string, std::string>& before) {
    std::string msg = "(no error)";
    try {
      write();
    } catch (const Error& e) {
      msg = e.what();
    }
    expect(msg.find(file) != std::string::npos, file + ": the error names the file: " + msg);
    if (!errno_text.empty()) expect(msg.find(errno_text) != std::string::npos, file + ": errno in: " + msg);
    const auto after = snapshot(dir);
    expect(after == before, file + ": the folder changed (a cut file or a temporary left behind)");
  }
};

BudgetTable smol_table(double shift) {
  BudgetTable t;
  t.model = {"SmolLM2-135M-Instruct", "llama", 30, 9, 3, 64, std::string(64, 'c')};
  t.method = {{"name", "cokv-ssv"}};
  for (int p = 0; p < 90; ++p) t.scores.push_back(std::sin(p * 0.7 + shift));
  t.score_stderr = std::vector<double>(90, 0.01);
  for (int mean : {64, 128}) t.tables.push_back({double(mean), 10, allocate_cokv(t.scores, mean, 8, 10), {}});
  return t;
}

}  // namespace

TEST_CASE("outputs: every writer keeps the previous file when a write fails (EFBIG)", "[outputs]") {
  const fs::path dir = scratch("efbig");
  // Good outputs first: what a finished cokv-profile and cokv-eval leave.
  const BudgetTable good = smol_table(0);
  const std::string table = (dir / "task.cokv-ssv.budget.json").string();
  write_budget_table(table, good);
  write_npy_twin(table, good);
  export_all(good, (dir / "exports").string());
  write_file_bytes((dir / "scores.json").string(), std::string(3000, ' ') + "{}\n");
  const bool plots = gnuplot_available();
  EvalTable et;
  et.datasets = {"d"};
  et.rows = {make_row("full", 0), make_row("uniform", 16), make_row("uniform", 32)};
  et.records["d"] = 1;
  et.add("full", 0, "d", "r1", 0.5, 100, 1000);
  et.add("uniform", 16, "d", "r1", 0.25, 10, 100);
  et.add("uniform", 32, "d", "r1", 0.375, 20, 200);
  et.finish();
  if (plots) {
    write_heatmap(good.scores, 30, 3, (dir / "h.png").string(), (dir / "h.svg").string());
    write_eval_plots(et, dir.string(), false);
  }
  {
    AppendFile preds((dir / "predictions.jsonl").string(), AppendFile::Mode::Truncate);
    preds.append("{\"pred\": \"a\"}\n", false);
  }
  profile::TableGame game = profile::TableGame::random(4, 3);
  const nlohmann::json settings = {{"test", "outputs"}};
  const std::string journal = (dir / "journal.txt").string();
  {
    profile::JournaledGame g(game, journal, settings, profile::JournalMode::fresh);
    std::vector<profile::EvalKey> keys = {{"ssv", 0, 0, 0, 0}};
    std::vector<profile::Coalition> c = {{1, 0, 1, 0}};
    std::vector<double> u(1);
    g.evaluate(keys, c, u);
  }
  const auto before = snapshot(dir);
  REQUIRE(before.size() >= 12);

  const int rc = cokv_test::run_forked([&] {
    ChildChecks ck;
    const BudgetTable other = smol_table(1);  // different content: a write would show
    cokv_test::limit_file_size(64);           // every output is larger
    const std::string efbig = std::strerror(EFBIG);
    ck.expect_kept([&] { write_budget_table(table, other); }, table, efbig, dir, before);
    ck.expect_kept([&] { write_npy_twin(table, other); }, ".scores.npy", efbig, dir, before);
    ck.expect_kept([&] { export_all(other, (dir / "exports").string()); }, "headkv_scores.json", efbig, dir, before);
    ck.expect_kept([&] { write_kv_compress(other, (dir / "exports" / "kv_compress_bias.npz").string()); },
                   "kv_compress_bias.npz", efbig, dir, before);
    ck.expect_kept([&] { npy::save((dir / "exports" / "lukv_curve.npy").string(), npy::make<float>({99}, std::vector<float>(99, 1))); },
                   "lukv_curve.npy", efbig, dir, before);
    ck.expect_kept([&] { write_file_bytes((dir / "scores.json").string(), std::string(4000, 'x')); }, "scores.json",
                   efbig, dir, before);
    ck.expect_kept(
        [&] {
          AppendFile preds((dir / "predictions.jsonl").string(), AppendFile::Mode::Keep);
          preds.append(std::string(200, 'p') + "\n", false);
        },
        "predictions.jsonl", efbig, dir, before);
    ck.expect_kept(
        [&] {
          profile::JournaledGame g(game, journal, settings, profile::JournalMode::resume);
          std::vector<profile::EvalKey> keys = {{"ssv", 0, 0, 0, 0}, {"ssv", 0, 0, 1, 0}, {"ssv", 0, 0, 2, 0}};
          std::vector<profile::Coalition> c = {{1, 0, 1, 0}, {0, 1, 1, 0}, {1, 1, 1, 1}};
          std::vector<double> u(3);
          g.evaluate(keys, c, u);
        },
        "journal.txt", efbig, dir, before);
    if (plots) {  // gnuplot inherits the limit: its image is cut or missing, ours stays
      cokv_test::limit_file_size(4096);  // room for the script and data, not for the images
      ck.expect_kept([&] { write_heatmap(other.scores, 30, 3, (dir / "h.png").string(), (dir / "h.svg").string()); },
                     "h.", "", dir, before);
      ck.expect_kept([&] { write_eval_plots(et, dir.string(), true); }, "score_vs_budget", "", dir, before);
    }
    return ck.failures;
  });
  CHECK(rc == 0);
  if (!plots) WARN("gnuplot is not installed: plot outputs not tested");
}

TEST_CASE("outputs: a failed append is cut back and a good one follows it", "[outputs]") {
  const fs::path dir = scratch("append");
  const std::string path = (dir / "log.txt").string();
  {
    AppendFile f(path, AppendFile::Mode::Truncate);
    f.append("line 1\n", true);
  }
  // The limit falls in the middle of the second append: the part that fit is removed.
  const int rc = cokv_test::run_forked([&] {
    cokv_test::limit_file_size(10);
    AppendFile f(path, AppendFile::Mode::Keep);
    try {
      f.append("line 2 is long\n", false);
    } catch (const Error& e) {
      return std::string(e.what()).find("as it was before") != std::string::npos ? 0 : 2;
    }
    return 1;
  });
  CHECK(rc == 0);
  CHECK(read_file_bytes(path) == "line 1\n");
  AppendFile f(path, AppendFile::Mode::Keep);
  f.append("line 2\n", false);
  CHECK(read_file_bytes(path) == "line 1\nline 2\n");
  // Nothing but a regular file is read: a FIFO is refused at once, never waited on.
  const std::string fifo = (dir / "fifo").string();
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THROWS_WITH(read_file_bytes(fifo), Catch::Contains(fifo) && Catch::Contains("FIFO"));
  CHECK_THROWS_WITH(AppendFile(fifo, AppendFile::Mode::Keep), Catch::Contains(fifo));
}

namespace {

const std::string kProfileFixture = std::string(COKV_SOURCE_DIR) + "/tests/data/profile";
const std::string kEvalFixture = std::string(COKV_SOURCE_DIR) + "/tests/data/eval";

// Runs a binary; returns its exit code (-1: timeout or signal) and its stderr.
int run_app(const std::vector<std::string>& args, const fs::path& err, std::string& err_text) {
  auto c = cokv_test::spawn(args, "", err.string());
  const int st = c.wait(std::chrono::seconds(240));
  err_text = fs::exists(err) ? read_file_bytes(err.string()) : "";
  return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Whether a file an app wrote is whole: JSON parses, a PNG ends with IEND, an SVG with </svg>,
// a .npy/.npz loads, text ends with a newline.
bool complete(const std::string& name, const std::string& bytes) {
  auto ends = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (bytes.empty()) return false;
  if (ends(".json") || ends(".jsonl")) {
    std::istringstream in(bytes);
    std::string line;
    if (ends(".json")) return nlohmann::json::accept(bytes);
    while (std::getline(in, line))
      if (!nlohmann::json::accept(line)) return false;
    return bytes.back() == '\n';
  }
  if (ends(".png")) return bytes.size() > 8 && bytes.compare(bytes.size() - 8, 8, std::string("IEND\xae\x42\x60\x82", 8)) == 0;
  if (ends(".svg")) return bytes.find("</svg>") != std::string::npos;
  if (ends(".npy") || ends(".npz")) return bytes.compare(0, 6, "\x93NUMPY") == 0 || bytes.compare(0, 2, "PK") == 0;
  return bytes.back() == '\n';
}

// In a child, on a fresh small tmpfs at `mnt`: the app's first run must succeed; then with the
// disk filled to leave 0, 8 KiB and 64 KiB free, a rerun must succeed or fail with exit 1 naming a
// file and "No space left on device"; the file it names must be exactly the first run's, every
// other file whole (rewritten or not), and no temporary left behind. `hit` collects the files
// the full disk stopped. Returns the failures.
int full_disk_reruns(const fs::path& mnt, const std::vector<std::string>& first, const std::vector<std::string>& rerun,
                     const fs::path& out, std::set<std::string>& hit) {
  ChildChecks ck;
  const fs::path err = mnt.parent_path() / "app-stderr.txt";  // outside the full disk
  std::string text;
  int rc = run_app(first, err, text);
  ck.expect(rc == 0, "first run: exit " + std::to_string(rc) + ": " + text);
  if (rc != 0) return ck.failures;
  const auto good = snapshot(out);
  const std::string enospc = std::strerror(ENOSPC);
  for (size_t free_bytes : {size_t(0), size_t(8192), size_t(65536)}) {
    cokv_test::fill_fs(mnt / "filler", free_bytes);
    rc = run_app(rerun, err, text);
    fs::remove(mnt / "filler");
    const std::string at = "free " + std::to_string(free_bytes) + ": ";
    const auto now = snapshot(out);
    if (rc != 0) {
      ck.expect(rc == 1, at + "exit code 1, got " + std::to_string(rc) + ": " + text);
      ck.expect(text.find(enospc) != std::string::npos || text.find("gnuplot wrote no complete image") != std::string::npos,
                at + "the error says the disk is full: " + text);
      for (const auto& [name, bytes] : good)
        if (text.find((out / name).string() + ":") != std::string::npos) {
          hit.insert(name);
          ck.expect(now.count(name) && now.at(name) == bytes, at + name + " (the file that failed) changed");
        }
    }
    for (const auto& [name, bytes] : now) {
      ck.expect(name.size() < 4 || name.compare(name.size() - 4, 4, ".tmp") != 0, at + "temporary left: " + name);
      ck.expect(complete(name, bytes), at + name + " is not whole");
    }
    for (const auto& [name, bytes] : good) ck.expect(now.count(name) > 0, at + name + " disappeared");
  }
  return ck.failures;
}

}  // namespace

TEST_CASE("outputs: cokv-profile and cokv-eval on a full disk keep their previous outputs", "[outputs][model]") {
  const std::string model = default_model_path();
  REQUIRE(fs::exists(model));
  const fs::path mnt = fs::path(COKV_BUILD_DIR) / "test_tmp" / "outputs" / "smallfs";
  fs::remove_all(mnt);
  const std::string bin = COKV_BUILD_DIR;
  std::set<std::string> profile_hit, eval_hit;
  const int rc = cokv_test::run_in_small_fs(mnt, 8 << 20, [&] {
    const fs::path pout = mnt / "profile", eout = mnt / "eval";
    std::vector<std::string> p = {bin + "/cokv-profile", "--model", model, "--longbench", kProfileFixture,
                                  "--category", "synthetic", "--method", "ssv", "--budgets", "16,32",
                                  "--samples", "1", "--max-records", "1", "--max-length", "96",
                                  "--threads", "1", "--out", pout.string()};
    std::vector<std::string> pr = p;
    pr.push_back("--resume");  // replays the journal: only the outputs are written again
    int failures = full_disk_reruns(mnt, p, pr, pout, profile_hit);
    std::vector<std::string> e = {bin + "/cokv-eval", "run", "--model", model, "--longbench", kEvalFixture,
                                  "--datasets", "trec", "--methods", "full,uniform", "--budgets", "16,32",
                                  "--split", "all", "--max-records", "1", "--max-new", "4", "--out",
                                  eout.string()};
    failures += full_disk_reruns(mnt, e, e, eout, eval_hit);
    for (const auto& f : profile_hit) std::fprintf(stderr, "profile output hit by a full disk: %s\n", f.c_str());
    for (const auto& f : eval_hit) std::fprintf(stderr, "eval output hit by a full disk: %s\n", f.c_str());
    if (profile_hit.size() < 2) std::fprintf(stderr, "FAILED: fewer than 2 profile outputs hit\n"), ++failures;
    if (eval_hit.empty()) std::fprintf(stderr, "FAILED: no eval output hit\n"), ++failures;
    return failures;
  });
  if (rc == 77) COKV_SKIP("cannot mount a small tmpfs here (needs root or unprivileged user namespaces)");
  CHECK(rc == 0);
}
