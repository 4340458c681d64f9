#include <catch2/catch.hpp>

#include "core/error.h"

TEST_CASE("fail() names where, field and expectation", "[core]") {
  try {
    cokv::fail("model.gguf", "llama.block_count", "a positive integer", "0");
    FAIL("fail() returned");
  } catch (const cokv::Error& e) {
    REQUIRE(std::string(e.what()) == "model.gguf: llama.block_count: expected a positive integer, got 0");
  }
}
