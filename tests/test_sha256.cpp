// SHA-256 against the FIPS 180-4 example vectors, across chunk boundaries, on both the
// portable and (when compiled in) SHA-NI paths; file hashing against a known digest.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/sha256.h"

using namespace cokv;

static std::string hash_with(const std::string& s, bool portable, size_t chunk) {
  Sha256 h;
  h.force_portable = portable;
  for (size_t i = 0; i < s.size(); i += chunk) h.update(s.data() + i, std::min(chunk, s.size() - i));
  return h.hex_digest();
}

TEST_CASE("sha256: FIPS 180-4 vectors", "[core][sha256]") {
  const std::string abc = "abc";
  const std::string two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  const std::string four =
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqr"
      "stnopqrstu";
  const std::string million(1000000, 'a');
  for (bool portable : {true, false}) {
    INFO("portable=" << portable << " hw=" << sha256_has_hw());
    for (size_t chunk : {size_t(1), size_t(63), size_t(64), size_t(1000), size_t(1 << 20)}) {
      INFO("chunk=" << chunk);
      REQUIRE(hash_with("", portable, chunk + 1) ==
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
      REQUIRE(hash_with(abc, portable, chunk) ==
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
      REQUIRE(hash_with(two, portable, chunk) ==
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
      REQUIRE(hash_with(four, portable, chunk) ==
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    }
    REQUIRE(hash_with(million, portable, 4096) ==
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
  // Padding edge cases: lengths around the 55/56/64 boundaries, both paths agree.
  for (size_t n = 50; n < 140; ++n) {
    const std::string s(n, char('a' + n % 26));
    REQUIRE(hash_with(s, true, 7) == hash_with(s, false, 64));
  }
}

TEST_CASE("sha256: files are hashed streaming, errors name the path", "[core][sha256]") {
  const auto p =
      (std::filesystem::temp_directory_path() / ("cokv-sha-" + std::to_string(::getpid()))).string();
  std::string content(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = char((i * 131) ^ (i >> 9));
  write_file_bytes(p, content);
  REQUIRE(sha256_file_hex(p) == hash_with(content, true, 65536));
  std::filesystem::remove(p);
  REQUIRE_THROWS_WITH(sha256_file_hex(p), Catch::Contains(p));
}
