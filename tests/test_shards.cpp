// A profile split into shards and merged equals the unsharded run byte for byte (scores, tables,
// exports); so does a 2-rank mpirun run; a merge refuses shards of another run, naming the field
// and the file, and lists what is missing with the command that computes it; re-running a shard
// computes nothing new.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/file_bytes.h"
#include "core/mpi.h"
#include "model_fixture.h"
#include "profile/profile_run.h"
#include "profile_outputs.h"
#include "scratch.h"

namespace fs = std::filesystem;
using namespace cokv;
using nlohmann::json;

namespace {

const std::string kFixture = std::string(COKV_SOURCE_DIR) + "/tests/data/profile";

fs::path tmp_dir(const std::string& name) { return cokv_test::scratch_dir("shards", name); }

profile::ProfileOptions tiny(const fs::path& out) {
  profile::ProfileOptions o;
  o.longbench_dir = kFixture;
  o.category = "synthetic";
  o.method = profile::ProfileMethod::Ssv;
  o.utility = Utility::Loglik;
  o.budgets = {16, 32};
  o.out_dir = out.string();
  o.samples = 3;
  o.chains = 2;
  o.batch = 4;
  o.max_length = 96;
  o.max_records = 1;
  o.threads = 1;
  return o;
}

using cokv_test::check_same_results;

std::string shard_path(const fs::path& dir, int i, int n) {
  return (dir / profile::shard_journal_name(uint32_t(i), uint32_t(n))).string();
}

}  // namespace

TEST_CASE("shards: 3 shards merged equal the unsharded run; bad and missing shards", "[profile][shards][model]") {
  (void)cokv_test::default_model();  // the model must be there (scripts/setup)
  const fs::path single = tmp_dir("single"), shards = tmp_dir("parts");
  profile::run_profile(tiny(single), nullptr);
  for (int i = 0; i < 3; ++i) {
    auto o = tiny(shards);
    o.shard_index = uint32_t(i), o.shard_count = 3;
    o.command_line = "cokv-profile ... --shard " + std::to_string(i) + "/3 --out " + shards.string();
    const auto r = profile::run_profile(o, nullptr);
    CHECK(r.table_path.empty());
    CHECK(r.summary["evaluations"]["other_shards"].get<int>() > 0);
  }
  const fs::path merged = tmp_dir("merged");
  const std::vector<std::string> all = {shard_path(shards, 2, 3), shard_path(shards, 0, 3), shard_path(shards, 1, 3)};
  const auto m = profile::merge_profile(all, merged.string(), {}, nullptr);
  check_same_results(single, merged);
  const json s = json::parse(read_file_bytes((merged / "summary.json").string()));
  CHECK(s["evaluations"]["computed"] == 0);  // every coalition came from the shards
  CHECK(s["evaluations"]["replayed"] == 4 * 3 * 2 * 2 + 2);
  // Convergence across shards: the merged summary states it, with the cost at the shards' rate.
  CHECK(s["convergence"]["met"] == false);
  CHECK(s["convergence"]["further_seconds"].get<double>() > 0);
  CHECK(s["evaluations_per_s"].get<double>() > 0);

  // Re-running a shard is idempotent: nothing new is computed, the journal does not change.
  {
    const std::string before = read_file_bytes(shard_path(shards, 1, 3));
    auto o = tiny(shards);
    o.shard_index = 1, o.shard_count = 3, o.resume = true;
    const auto r = profile::run_profile(o, nullptr);
    CHECK(r.summary["evaluations"]["computed"] == 0);
    // Only the recorded paths line is appended again.
    CHECK(read_file_bytes(shard_path(shards, 1, 3)).substr(0, before.size()) == before);
  }

  // A missing shard: listed with the command that computes it.
  CHECK_THROWS_WITH(profile::merge_profile({shard_path(shards, 0, 3), shard_path(shards, 2, 3)},
                                           tmp_dir("missing").string(), {}, nullptr),
                    Catch::Contains("shard 1/3") && Catch::Contains("--shard 1/3"));
  // A shard cut short (its last records lost): resume command named.
  {
    const fs::path cut = tmp_dir("cut");
    std::string text = read_file_bytes(shard_path(shards, 2, 3));
    text.resize(text.rfind('\n', text.size() - 2) + 1);  // drop the last line
    write_file_bytes(shard_path(cut, 2, 3), text);
    CHECK_THROWS_WITH(profile::merge_profile({shard_path(shards, 0, 3), shard_path(shards, 1, 3), shard_path(cut, 2, 3)},
                                             tmp_dir("cut-merged").string(), {}, nullptr),
                      Catch::Contains("shard 2/3") && Catch::Contains("--shard 2/3 --out") && Catch::Contains("--resume"));
  }
  // A shard of another seed: refused, naming the field and the file.
  {
    const fs::path other = tmp_dir("other-seed");
    auto o = tiny(other);
    o.seed = 7, o.shard_index = 1, o.shard_count = 3;
    profile::run_profile(o, nullptr);
    CHECK_THROWS_WITH(profile::merge_profile({shard_path(shards, 0, 3), shard_path(other, 1, 3), shard_path(shards, 2, 3)},
                                             tmp_dir("bad").string(), {}, nullptr),
                      Catch::Contains(shard_path(other, 1, 3)) && Catch::Contains("seed"));
  }
  // A shard of another model: its hash differs.
  {
    std::string text = read_file_bytes(shard_path(shards, 1, 3));
    const size_t at = text.find("\"model_sha256\":\"") + 16;
    text[at] = text[at] == 'a' ? 'b' : 'a';
    const fs::path edited = tmp_dir("other-model");
    write_file_bytes(shard_path(edited, 1, 3), text);
    CHECK_THROWS_WITH(profile::merge_profile({shard_path(shards, 0, 3), shard_path(edited, 1, 3), shard_path(shards, 2, 3)},
                                             tmp_dir("bad2").string(), {}, nullptr),
                      Catch::Contains(shard_path(edited, 1, 3)) && Catch::Contains("model_sha256"));
  }
  // Tolerance mode cannot be sharded.
  auto tol = tiny(tmp_dir("tol"));
  tol.samples = 0, tol.shard_index = 0, tol.shard_count = 2;
  CHECK_THROWS_WITH(profile::run_profile(tol, nullptr), Catch::Contains("--shard") && Catch::Contains("--samples"));
}

TEST_CASE("shards: a 2-rank mpirun run equals the single-process run", "[profile][shards][mpi][model]") {
  if (!MpiSession::built_with_mpi() || std::system("command -v mpirun > /dev/null 2>&1") != 0) {
    WARN("this build has no MPI or mpirun is missing (scripts/setup installs Open MPI): skipped");
    return;
  }
  const std::string bin = std::string(COKV_BUILD_DIR) + "/cokv-profile";
  REQUIRE(fs::exists(bin));
  const fs::path single = tmp_dir("mpi-single"), ranks = tmp_dir("mpi-ranks");
  profile::run_profile(tiny(single), nullptr);
  const std::string cmd =
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
      "mpirun -np 2 '" + bin + "' --longbench '" + kFixture +
      "' --category synthetic --method ssv --utility loglik --budgets 16,32 --samples 3 --max-records 1 "
      "--max-length 96 --threads 1 --batch 4 --out '" + ranks.string() + "' > '" + ranks.string() +
      ".log' 2>&1";
  INFO(cmd);
  const int rc = std::system(cmd.c_str());
  INFO(read_file_bytes(ranks.string() + ".log"));
  REQUIRE(rc == 0);
  CHECK(fs::exists(ranks / "shards" / profile::shard_journal_name(1, 2)));
  check_same_results(single, ranks);
}
