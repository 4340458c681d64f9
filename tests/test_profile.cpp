// cokv-profile end to end on the real default model and the tiny LongBench-format fixture in
// tests/data/profile (2 synthetic datasets, 4 records of ~250 tokens each; see its README):
// the budget file, .npy twins, exports and heatmap; a kill -9 mid-run then --resume gives
// bit-identical scores.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/npy.h"
#include "core/sha256.h"
#include "kv/budget_table.h"
#include "model_fixture.h"
#include "profile/profile_run.h"
#include "report/gnuplot.h"
#include "report/heatmap.h"
#include "scratch.h"

namespace fs = std::filesystem;
using namespace cokv;
using nlohmann::json;

namespace {

const std::string kFixture = std::string(COKV_SOURCE_DIR) + "/tests/data/profile";

fs::path tmp_dir(const std::string& name) { return cokv_test::scratch_dir("profile", name); }

json read_json(const fs::path& p) {
  std::ifstream in(p);
  REQUIRE(in);
  return json::parse(in);
}

int count_lines(const fs::path& p) {
  std::ifstream in(p);
  int n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

profile::ProfileOptions tiny(const std::string& method, const fs::path& out) {
  profile::ProfileOptions o;
  o.longbench_dir = kFixture;
  o.category = "synthetic";
  o.method = profile::parse_profile_method(method);
  o.utility = Utility::Loglik;
  o.budgets = {16, 32};
  o.out_dir = out.string();
  o.samples = 2;
  o.chains = 2;
  o.batch = 16;
  o.max_length = 96;  // ~126 tokens with the chat template: CI time
  o.chat = longbench::ChatPolicy::LongBench;  // the fixture's datasets ask for the chat template
  o.max_records = 1;
  o.threads = 1;  // a loaded CI machine runs one thread several times faster
  return o;
}

void check_table_files(const profile::ProfileResult& r, const Model& m, const fs::path& out) {
  const int L = m.cfg.n_layers, G = m.cfg.n_kv_heads, H = m.cfg.n_heads, n = L * G;
  // The file validates on read and matches the model (shape and file hash).
  const BudgetTable t = read_budget_table(r.table_path);
  check_against_model(t, m.cfg, sha256_file_hex(m.path), r.table_path);
  CHECK(t.model.file_sha256.size() == 64);
  CHECK_NOTHROW(check_against_model(t, L, G, r.table_path, H, t.model.file_sha256));
  REQUIRE(t.tables.size() == 2);
  for (const auto& lv : t.tables) {
    int64_t sum = 0;
    for (int b : lv.budgets) {
      CHECK(b >= t.window);
      sum += b;
    }
    CHECK(sum == int64_t(n * lv.mean_budget));
    const auto a = npy::load(r.table_path.substr(0, r.table_path.size() - 5) + ".budgets." +
                             std::to_string(int(lv.mean_budget)) + ".npy");
    CHECK(a.shape == std::vector<int64_t>{L, G});
    CHECK(a.values<int32_t>() == std::vector<int32_t>(lv.budgets.begin(), lv.budgets.end()));
  }
  const auto sc = npy::load(r.table_path.substr(0, r.table_path.size() - 5) + ".scores.npy");
  CHECK(sc.shape == std::vector<int64_t>{L, G});
  // Exports parse back with the model's shapes.
  const json hk = read_json(out / "exports" / "headkv_scores.json");
  CHECK(hk.size() == size_t(L * H));
  CHECK(hk.contains(std::to_string(L - 1) + "-" + std::to_string(H - 1)));
  CHECK(count_lines(out / "exports" / "duo_attention" / "full_attention_heads.tsv") == L);
  const auto lukv = npy::load((out / "exports" / "lukv_curve.npy").string());
  CHECK(lukv.shape == std::vector<int64_t>{99, L, G});
  const auto kvc = npy::load_npz((out / "exports" / "kv_compress_bias.npz").string());
  CHECK(kvc.at("bias").shape == std::vector<int64_t>{L, G, 1});
  CHECK_NOTHROW(read_json(out / "exports" / "layer_budgets.json"));
  // Heatmap, summary, journal.
  if (gnuplot_available()) {
    const std::string stem = r.table_path.substr(0, r.table_path.size() - 12);  // drop ".budget.json"
    CHECK(fs::file_size(stem + ".scores.png") > 100);
    CHECK(fs::file_size(stem + ".scores.svg") > 100);
  }
  const json s = read_json(out / "summary.json");
  CHECK(s["records"] == 2);  // 1 per dataset x 2 datasets
  CHECK(s["memory"]["prepared_samples_bytes"].get<double>() > 0);
  CHECK(fs::exists(out / "summary.md"));
}

}  // namespace

TEST_CASE("cokv-profile ssv end to end on the tiny fixture", "[profile][model]") {
  const Model& m = cokv_test::default_model();
  const fs::path out = tmp_dir("ssv");
  const auto r = profile::run_profile(tiny("ssv", out), nullptr);
  CHECK(fs::path(r.table_path).filename() == "synthetic.cokv-ssv.budget.json");
  check_table_files(r, m, out);
  const json s = read_json(out / "summary.json");
  // 4 slices x 2 samples x 2 chains x 2 (S and N\S) + the 2 base coalitions, all computed.
  CHECK(s["evaluations"]["computed"] == 4 * 2 * 2 * 2 + 2);
  CHECK(count_lines(out / "journal.txt") == 1 + 4 * 2 * 2 * 2 + 2);
  // The full cache explains the gold answers better than the window alone.
  CHECK(s["utility_full"].get<double>() > s["utility_empty"].get<double>());
  CHECK(r.table.tables[0].alpha.has_value());
  // The convergence statement: 2 samples per chain cannot reach the 1/n target; the samples
  // still needed follow MAE ~ 1/sqrt(samples) from the last check, and the table says so too.
  const json& c = s["convergence"];
  const double mae = s["chain_mae"].get<double>(), target = 1.0 / m.cfg.n_kv_players();
  CHECK(c["target"].get<double>() == Approx(target));
  CHECK(c["met"] == false);
  CHECK(c["further_samples_per_chain"].get<int64_t>() ==
        int64_t(std::ceil(2.0 * (mae / target) * (mae / target))) - 2);
  CHECK(c["further_evaluations"].get<int64_t>() == c["further_samples_per_chain"].get<int64_t>() * 16);
  CHECK(c["further_seconds"].get<double>() > 0);
  CHECK_THAT(s["convergence_statement"].get<std::string>(), Catch::Contains("not converged"));
  CHECK(r.table.method["convergence"]["met"] == false);
  if (gnuplot_available()) CHECK(fs::file_size(out / "synthetic.cokv-ssv.convergence.png") > 100);
  // A fresh run refuses to overwrite the journal.
  CHECK_THROWS_WITH(profile::run_profile(tiny("ssv", out), nullptr), Catch::Contains("journal"));
}

TEST_CASE("cokv-profile baklava and taskkv end to end on the tiny fixture", "[profile][model]") {
  const Model& m = cokv_test::default_model();
  for (const std::string method : {"baklava", "taskkv"}) {
    {
      INFO("method " << method);
      const fs::path out = tmp_dir(method);
      auto o = tiny(method, out);
      o.budgets = {32, 64};
      const auto r = profile::run_profile(o, nullptr);
      check_table_files(r, m, out);
      if (method == "taskkv") {
        CHECK(r.table.sink == 16);
        // One heterogeneous head per layer (f(r) = 1 for 3 heads), and it has the largest budget.
        const auto het = r.table.method["heterogeneous"].get<std::vector<int>>();
        for (int il = 0; il < m.cfg.n_layers; ++il) {
          int nh = 0;
          for (int g = 0; g < m.cfg.n_kv_heads; ++g) nh += het[il * m.cfg.n_kv_heads + g];
          CHECK(nh == 1);
        }
      } else {
        CHECK(r.table.method["search"]["candidates"].size() == 9);  // floors 8, 16, 32 at mean 32
        for (double s : r.table.scores) CHECK(s >= 0);
      }
    }
  }
}

TEST_CASE("cokv-profile killed with SIGKILL resumes to bit-identical scores", "[profile][model]") {
  const std::string bin = std::string(COKV_BUILD_DIR) + "/cokv-profile";
  REQUIRE(fs::exists(bin));
  const fs::path a = tmp_dir("resume_a"), b = tmp_dir("resume_b");
  auto args = [&](const fs::path& out, const std::string& batch) {
    return std::vector<std::string>{
        bin,   "--longbench",   kFixture, "--category",   "synthetic", "--method",
        "ssv", "--utility",     "loglik", "--budgets",    "16,32",     "--samples",
        "3",   "--max-records", "1",      "--max-length", "96",        "--threads",
        "1",   "--batch",       batch,    "--out",        out.string()};
  };
  auto spawn = [](std::vector<std::string> v) {
    const pid_t pid = fork();
    if (pid == 0) {
      std::vector<char*> argv;
      for (auto& s : v) argv.push_back(s.data());
      argv.push_back(nullptr);
      const int fd = ::open("/dev/null", O_WRONLY);
      dup2(fd, 2);
      dup2(fd, 1);
      execv(argv[0], argv.data());
      _exit(127);
    }
    return pid;
  };
  auto wait_rc = [](pid_t pid) {
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
  };
  // Uninterrupted reference.
  int st = wait_rc(spawn(args(a, "4")));
  REQUIRE(WIFEXITED(st));
  REQUIRE(WEXITSTATUS(st) == 0);
  // Killed once the journal holds a few evaluations.
  const pid_t pid = spawn(args(b, "4"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(b / "journal.txt") && count_lines(b / "journal.txt") >= 8) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  st = wait_rc(pid);
  REQUIRE(WIFSIGNALED(st));
  CHECK_FALSE(fs::exists(b / "scores.json"));
  const int journaled = count_lines(b / "journal.txt");
  CHECK(journaled >= 8);
  // Resume with another batch size: the journal replays, the rest is computed.
  auto rargs = args(b, "5");
  rargs.push_back("--resume");
  st = wait_rc(spawn(rargs));
  REQUIRE(WIFEXITED(st));
  REQUIRE(WEXITSTATUS(st) == 0);
  const json sa = read_json(a / "scores.json"), sb = read_json(b / "scores.json");
  CHECK(sa["values_hex"] == sb["values_hex"]);
  const json sum = read_json(b / "summary.json");
  // Every complete journal line but the header replays (a line cut by the kill is dropped).
  CHECK(sum["evaluations"]["replayed"].get<int>() >= journaled - 2);
  CHECK(sum["evaluations"]["replayed"].get<int>() <= journaled - 1);
  CHECK(sum["evaluations"]["replayed"].get<int>() + sum["evaluations"]["computed"].get<int>() ==
        4 * 3 * 2 * 2 + 2);
}
