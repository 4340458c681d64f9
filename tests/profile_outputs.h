// Comparing two cokv-profile output folders file by file: a sharded, multi-device or resumed
// run must leave the bytes a plain run leaves.
#pragma once
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "core/file_bytes.h"

namespace cokv_test {

// Every result file (tables, twins, scores.json, the exports), relative to `dir`, sorted; the
// journal, the summaries, shard journals and plots (times, paths, temp names) are left out.
inline std::vector<std::string> result_files(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string rel = std::filesystem::relative(e.path(), dir).generic_string();
    const std::string ext = e.path().extension().string();
    if (rel.find("journal") != std::string::npos || rel.find("summary") != std::string::npos ||
        rel.rfind("shards/", 0) == 0 || ext == ".png" || ext == ".svg")
      continue;
    out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The same result files in both folders, byte for byte.
inline void check_same_results(const std::filesystem::path& a, const std::filesystem::path& b) {
  const auto fa = result_files(a), fb = result_files(b);
  CHECK(fa == fb);
  CHECK(fa.size() > 10);  // table, twins, scores.json, the exports
  for (const auto& f : fa) {
    INFO(f);
    if (std::filesystem::exists(b / f))
      CHECK(cokv::read_file_bytes((a / f).string()) == cokv::read_file_bytes((b / f).string()));
  }
}

}  // namespace cokv_test
