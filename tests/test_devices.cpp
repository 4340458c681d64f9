// cokv-profile --devices: one queue of whole coalition batches feeding one CUDA backend per
// device gives the bytes of one device (scores, tables, exports, the journal's utilities). In
// cokv-tests it runs on two emulated devices (--backend cuda-emu); compiled into cokv-cuda-tests
// it runs on devices 0 and 1 of a GPU machine, and skips on a machine with one GPU.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/file_bytes.h"
#include "model_fixture.h"
#include "profile/profile_run.h"
#include "runtime/cuda_backend.h"
#include "profile_outputs.h"

namespace fs = std::filesystem;
using namespace cokv;

namespace {

#if COKV_EMU
constexpr BackendKind kKind = BackendKind::CudaEmulated;
int n_devices() { return cuda_emulated::device_count(); }
#else
constexpr BackendKind kKind = BackendKind::Cuda;
int n_devices() { return cuda_native::device_count(); }
#endif

fs::path tmp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("cokv-test-devices-" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A tiny SSV profile (the emulator is slow: one passkey record of at most 64 tokens, 1 sample x
// 2 chains x 4 slices x 2 coalitions in batches of 2: 8 batches besides the two base ones).
profile::ProfileOptions tiny(const fs::path& out, std::vector<int> devices) {
  profile::ProfileOptions o;
  o.backend.kind = kKind;
  o.devices = std::move(devices);
  o.longbench_dir = std::string(COKV_SOURCE_DIR) + "/tests/data/profile";
  o.dataset = "passkey";
  o.method = profile::ProfileMethod::Ssv;
  o.utility = Utility::Loglik;
  o.budgets = {16, 32};
  o.out_dir = out.string();
  o.samples = 1;
  o.chains = 2;
  o.batch = 2;
  o.max_length = 64;
  o.max_records = 1;
  o.threads = 1;
  return o;
}

// The journal's lines: its settings header, then "<key> <mask> <utility>" per evaluation.
std::vector<std::string> journal_lines(const fs::path& dir) {
  std::ifstream in(dir / "journal.txt");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("devices: a profile on two devices equals the one-device run byte for byte", "[cuda-backend][devices]") {
  if (n_devices() < 2) {
    WARN("fewer than two CUDA devices: the two-device profile is not run");
    return;
  }
  (void)cokv_test::default_model();  // the model must be there (scripts/setup)
  const fs::path one = tmp_dir("one"), two = tmp_dir("two");
  const auto r1 = profile::run_profile(tiny(one, {0}), nullptr);
  const auto r2 = profile::run_profile(tiny(two, {0, 1}), nullptr);

  cokv_test::check_same_results(one, two);
  // The journal: the same coalitions and utilities, in the same order (batches are reported in
  // order whichever device finished first).
  const auto j1 = journal_lines(one), j2 = journal_lines(two);
  CHECK(j1.size() == 1 + 4 * 1 * 2 * 2 + 2);
  CHECK(j1 == j2);

  // Both devices are named in the summary, and each run reports its peak device memory.
  const nlohmann::json& s2 = r2.summary;
  REQUIRE(s2["devices"].size() == 2);
  CHECK(s2["devices"][0]["index"] == 0);
  CHECK(s2["devices"][1]["index"] == 1);
  CHECK(r1.summary["devices"].size() == 1);
  CHECK(s2["memory"]["peak_device_bytes"].get<double>() > s2["memory"]["weight_bytes"].get<double>());
  fs::remove_all(one.parent_path());
}

TEST_CASE("devices: --devices is refused on the CPU backend and for repeated ordinals", "[devices]") {
  const fs::path out = tmp_dir("refused");
  auto o = tiny(out, {0, 1});
  o.backend.kind = BackendKind::Cpu;
  CHECK_THROWS_WITH(profile::run_profile(o, nullptr), Catch::Contains("--devices") && Catch::Contains("cuda"));
  o = tiny(out, {1, 1});
  CHECK_THROWS_WITH(profile::run_profile(o, nullptr), Catch::Contains("--devices") && Catch::Contains("distinct"));
  fs::remove_all(out.parent_path());
}
