// Shared by tests that need the real default model (fetched by scripts/setup).
#pragma once
#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>

#include "core/paths.h"
#include "runtime/model.h"

namespace cokv_test {

// Loads the default model once per test process.
inline const cokv::Model& default_model() {
  static std::unique_ptr<cokv::Model> m;
  if (!m) {
    const std::string path = cokv::default_model_path();
    INFO("default model (run scripts/setup): " << path);
    REQUIRE(std::filesystem::exists(path));
    m = cokv::Model::load(path);
  }
  return *m;
}

}  // namespace cokv_test
