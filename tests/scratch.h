// A fresh, empty folder for one test's files under the build tree: test_tmp/<suite>/<name>.
#pragma once
#include <filesystem>
#include <string>

namespace cokv_test {

inline std::filesystem::path scratch_dir(const std::string& suite, const std::string& name) {
  const std::filesystem::path d = std::filesystem::path(COKV_BUILD_DIR) / "test_tmp" / suite / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

}  // namespace cokv_test
