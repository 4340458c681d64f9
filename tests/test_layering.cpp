// The lib/ folders form one bottom-to-top order; a file may include its own folder and folders
// below it, never one above. The order is written here and in README.md ("Layout"); this test
// reads every #include "folder/..." of lib/ and apps/ and fails naming the file and line of each
// include that goes up (or names a folder outside the order).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

// Bottom to top. apps/ sits above everything. kernels/ (top level, not under lib/) is the CUDA
// kernels, which include only core/error.h; lib/runtime/cuda/ includes them.
const std::vector<std::string> kOrder = {"core", "kernels", "model",  "data",    "kv",  "runtime",
                                         "export", "report", "eval", "profile", "apps"};

int rank_of(const std::string& folder) {
  for (size_t i = 0; i < kOrder.size(); ++i)
    if (kOrder[i] == folder) return int(i);
  return -1;
}

// "file:line: <folder> includes <target> (above it)" for every violation under root/lib and
// root/apps.
std::vector<std::string> layering_violations(const fs::path& root) {
  std::vector<std::string> out;
  const std::regex inc(R"(^\s*#\s*include\s*"([A-Za-z0-9_]+)/[^"]+")");
  for (const char* top : {"lib", "apps"}) {
    if (!fs::is_directory(root / top)) continue;
    for (const auto& e : fs::recursive_directory_iterator(root / top)) {
      if (!e.is_regular_file()) continue;
      const std::string ext = e.path().extension().string();
      if (ext != ".h" && ext != ".cpp" && ext != ".cuh" && ext != ".cu" && ext != ".inc") continue;
      const fs::path rel = fs::relative(e.path(), root);
      const std::string folder = std::string(top) == "apps" ? "apps" : rel.begin()->string() == "lib"
                                                                           ? std::next(rel.begin())->string()
                                                                           : "";
      const int own = rank_of(folder);
      std::ifstream in(e.path());
      std::string line;
      for (int n = 1; std::getline(in, line); ++n) {
        std::smatch m;
        if (!std::regex_search(line, m, inc)) continue;
        const std::string target = m[1];
        const int r = rank_of(target);
        const std::string where = rel.generic_string() + ":" + std::to_string(n) + ": ";
        if (own < 0)
          out.push_back(where + "folder '" + folder + "' is not in the layer order");
        else if (r < 0)
          out.push_back(where + "includes '" + target + "/', a folder not in the layer order");
        else if (r > own)
          out.push_back(where + folder + " includes " + target + "/ (above it)");
      }
    }
  }
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

}  // namespace

TEST_CASE("layering: no lib/ or apps/ file includes a folder above its own", "[layering]") {
  const auto v = layering_violations(COKV_SOURCE_DIR);
  INFO(joined(v));
  CHECK(v.empty());
}

TEST_CASE("layering: the check sees an upward include, and the README states the order", "[layering]") {
  const fs::path root = fs::path(COKV_BUILD_DIR) / "test-scratch" / "layering";
  fs::remove_all(root);
  fs::create_directories(root / "lib" / "kv");
  fs::create_directories(root / "lib" / "core");
  std::ofstream(root / "lib" / "kv" / "a.h") << "#pragma once\n#include \"core/x.h\"\n #include \"runtime/prefill.h\"\n";
  std::ofstream(root / "lib" / "core" / "x.h") << "#include <vector>\n#include \"wild/y.h\"\n";
  const auto v = layering_violations(root);
  REQUIRE(v.size() == 2);
  CHECK_THAT(joined(v), Catch::Contains("lib/kv/a.h:3: kv includes runtime/ (above it)"));
  CHECK_THAT(joined(v), Catch::Contains("lib/core/x.h:2: includes 'wild/'"));

  std::ifstream readme(fs::path(COKV_SOURCE_DIR) / "README.md");
  const std::string text((std::istreambuf_iterator<char>(readme)), std::istreambuf_iterator<char>());
  std::string order;
  for (const auto& f : kOrder) order += (order.empty() ? "" : " < ") + f;
  INFO("README.md should state the layer order as: " << order);
  CHECK_THAT(text, Catch::Contains(order));
}
