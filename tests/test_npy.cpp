// .npy/.npz: round trips, byte parity with np.save (golden files from
// scripts/dev/make_npy_golden.py, numpy 2.x), and clear errors on malformed input.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/npy.h"

namespace fs = std::filesystem;
using namespace cokv;

static std::string golden(const std::string& name) {
  return std::string(COKV_SOURCE_DIR) + "/tests/data/npy/" + name;
}

static fs::path tmp_dir() {
  fs::path d = fs::temp_directory_path() / ("cokv-test-npy-" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// The same formulas as make_npy_golden.py.
static npy::Array golden_array(const std::string& name) {
  if (name == "f4_30x3") {
    std::vector<float> v(90);
    for (int i = 0; i < 90; ++i) v[i] = float(i * 0.25 - 7.5);
    return npy::make<float>({30, 3}, v);
  }
  if (name == "i4_30x3") {
    std::vector<int32_t> v(90);
    for (int i = 0; i < 90; ++i) v[i] = i * 7 - 100;
    return npy::make<int32_t>({30, 3}, v);
  }
  if (name == "f8_vec5") return npy::make<double>({5}, {0.1, -2.5, 3.0e10, 1e-300, 0.0});
  if (name == "i8_2x3x4") {
    std::vector<int64_t> v(24);
    for (int i = 0; i < 24; ++i) v[i] = int64_t(i) * 1000000007 - 5;
    return npy::make<int64_t>({2, 3, 4}, v);
  }
  if (name == "f4_scalar") return npy::make<float>({}, {3.5f});
  if (name == "f4_empty") return npy::make<float>({0, 3}, {});
  if (name == "i4_1000") {
    std::vector<int32_t> v(1000);
    for (int i = 0; i < 1000; ++i) v[i] = i % 17;
    return npy::make<int32_t>({1000}, v);
  }
  throw std::logic_error("unknown golden " + name);
}

TEST_CASE("npy: our encoding is byte-identical to np.save", "[npy]") {
  for (const char* name : {"f4_30x3", "i4_30x3", "f8_vec5", "i8_2x3x4", "f4_scalar", "f4_empty", "i4_1000"}) {
    INFO(name);
    const std::string want = read_file_bytes(golden(std::string(name) + ".npy"));
    const std::string got = npy::encode(golden_array(name));
    REQUIRE(got.size() == want.size());
    REQUIRE(got == want);
    // Data starts on a 64-byte boundary.
    const size_t data_bytes = golden_array(name).bytes.size();
    REQUIRE((got.size() - data_bytes) % 64 == 0);
  }
}

TEST_CASE("npy: numpy's files decode to the expected values", "[npy]") {
  auto a = npy::load(golden("f4_30x3.npy"));
  REQUIRE(a.dtype == npy::Dtype::f4);
  REQUIRE(a.shape == std::vector<int64_t>{30, 3});
  auto v = a.values<float>();
  REQUIRE(v[0] == -7.5f);
  REQUIRE(v[89] == float(89 * 0.25 - 7.5));
  auto d = npy::load(golden("f8_vec5.npy")).values<double>();
  REQUIRE(d == std::vector<double>{0.1, -2.5, 3.0e10, 1e-300, 0.0});
  auto s = npy::load(golden("f4_scalar.npy"));
  REQUIRE(s.shape.empty());
  REQUIRE(s.values<float>() == std::vector<float>{3.5f});
  auto e = npy::load(golden("f4_empty.npy"));
  REQUIRE(e.shape == std::vector<int64_t>{0, 3});
  REQUIRE(e.numel() == 0);
  auto l = npy::load(golden("i8_2x3x4.npy")).values<int64_t>();
  REQUIRE(l[23] == int64_t(23) * 1000000007 - 5);
  // Asking for the wrong type names the dtypes.
  REQUIRE_THROWS_WITH(a.values<int32_t>("scores.npy"),
                      Catch::Contains("scores.npy") && Catch::Contains("'<i4'") && Catch::Contains("'<f4'"));
}

TEST_CASE("npy: save/load round trip for every dtype", "[npy]") {
  auto dir = tmp_dir();
  for (const char* name : {"f4_30x3", "i4_30x3", "f8_vec5", "i8_2x3x4", "f4_scalar", "f4_empty"}) {
    const auto a = golden_array(name);
    const std::string p = (dir / (std::string(name) + ".npy")).string();
    npy::save(p, a);
    const auto b = npy::load(p);
    REQUIRE(b.dtype == a.dtype);
    REQUIRE(b.shape == a.shape);
    REQUIRE(b.bytes == a.bytes);
  }
  fs::remove_all(dir);
}

TEST_CASE("npy: malformed files are refused naming file and field", "[npy]") {
  REQUIRE_THROWS_WITH(npy::load(golden("bad_fortran.npy")),
                      Catch::Contains("bad_fortran.npy") && Catch::Contains("fortran_order"));
  REQUIRE_THROWS_WITH(npy::load(golden("bad_bigendian.npy")), Catch::Contains("bad_bigendian.npy") &&
                                                                  Catch::Contains("descr") &&
                                                                  Catch::Contains("'>f4'"));
  const std::string good = read_file_bytes(golden("f4_30x3.npy"));
  REQUIRE_THROWS_WITH(npy::decode("hello world", "x.npy"),
                      Catch::Contains("x.npy") && Catch::Contains("magic"));
  REQUIRE_THROWS_WITH(
      npy::decode(good.substr(0, good.size() - 4), "short.npy"),
      Catch::Contains("short.npy") && Catch::Contains("360 bytes") && Catch::Contains("got 356"));
  std::string v9 = good;
  v9[6] = 9;
  REQUIRE_THROWS_WITH(npy::decode(v9, "v9.npy"), Catch::Contains("format version"));
  std::string badhdr = good;
  badhdr.replace(badhdr.find("'shape'"), 7, "'shope'");
  REQUIRE_THROWS_WITH(npy::decode(badhdr, "h.npy"),
                      Catch::Contains("h.npy") && Catch::Contains("npy header"));
  REQUIRE_THROWS_WITH(npy::load(golden("does_not_exist.npy")), Catch::Contains("does_not_exist.npy"));
}

TEST_CASE("npy: crc32 matches zlib's check value", "[npy]") {
  REQUIRE(npy::crc32("123456789", 9) == 0xCBF43926u);
  REQUIRE(npy::crc32("", 0) == 0u);
}

TEST_CASE("npz: reads np.savez output and round-trips ours", "[npy]") {
  auto m = npy::load_npz(golden("members.npz"));
  REQUIRE(m.size() == 2);
  REQUIRE(m.at("bias").shape == std::vector<int64_t>{30, 3, 1});
  REQUIRE(m.at("bias").bytes == golden_array("f4_30x3").bytes);
  REQUIRE(m.at("pos_bins").values<int32_t>() == std::vector<int32_t>{0});

  auto dir = tmp_dir();
  const std::string p = (dir / "ours.npz").string();
  npy::save_npz(p, {{"bias", m.at("bias")}, {"pos_bins", m.at("pos_bins")}});
  auto back = npy::load_npz(p);
  REQUIRE(back.size() == 2);
  REQUIRE(back.at("bias").bytes == m.at("bias").bytes);
  REQUIRE(back.at("pos_bins").dtype == npy::Dtype::i4);
  // Members are stored: the raw .npy bytes appear verbatim inside the archive.
  const std::string z = read_file_bytes(p);
  REQUIRE(z.find(npy::encode(m.at("bias"))) != std::string::npos);
  // A flipped data byte fails the CRC check, naming the member.
  std::string corrupt = z;
  corrupt[z.find(npy::encode(m.at("bias"))) + 200] ^= 0x55;
  write_file_bytes(p, corrupt);
  REQUIRE_THROWS_WITH(npy::load_npz(p), Catch::Contains("bias.npy") && Catch::Contains("crc32"));
  fs::remove_all(dir);

  REQUIRE_THROWS_WITH(npy::load_npz(golden("bad_compressed.npz")),
                      Catch::Contains("bad_compressed.npz") && Catch::Contains("stored"));
  REQUIRE_THROWS_WITH(npy::load_npz(golden("f4_30x3.npy")),
                      Catch::Contains("f4_30x3.npy") && Catch::Contains("zip"));
}
