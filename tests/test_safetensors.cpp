// Safetensors reader: layout, every malformed-header error (naming file and tensor), a
// fuzz-style sweep of random header mutations (each must load or throw cokv::Error, never
// crash or read outside the buffer), and the sharded folder set with its index errors.
//   ./build/cokv-tests "[safetensors]"
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>

#include "core/error.h"
#include "model/safetensors.h"
#include "safetensors_writer.h"

using namespace cokv;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::vector<st_test::Tensor> three() {
  return {st_test::f32("a", {2, 3}, {1, 2, 3, 4, 5, 6}), {"b", "BF16", {4}, {0, 0x3F, 0, 0x40, 0, 0xC0, 0x80, 0x3F}},
          {"c", "I64", {1}, {7, 0, 0, 0, 0, 0, 0, 0}}};
}

void expect_error(const std::vector<uint8_t>& img, std::vector<std::string> needles) {
  needles.push_back("test.safetensors");
  try {
    SafetensorsFile::from_buffer(img, "test.safetensors");
    FAIL("no error");
  } catch (const Error& e) {
    INFO("message: " << e.what());
    for (const auto& n : needles) CHECK(std::string(e.what()).find(n) != std::string::npos);
  }
}

// The image with its header replaced by h (data unchanged).
std::vector<uint8_t> with_header(const json& h) { return st_test::image(h.dump(), three()); }

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::path(COKV_BUILD_DIR) / "test-tmp" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST_CASE("safetensors: header, dtypes, shapes and data", "[safetensors]") {
  const auto f = SafetensorsFile::from_buffer(st_test::image(three()), "test.safetensors");
  REQUIRE(f.tensors().size() == 3);
  const SafetensorsTensor* a = f.find("a");
  REQUIRE(a);
  CHECK(a->dtype == "F32");
  CHECK(a->shape == std::vector<int64_t>{2, 3});
  CHECK(a->n_elements() == 6);
  float v5;
  std::memcpy(&v5, a->data + 5 * 4, 4);
  CHECK(v5 == 6.f);
  CHECK(f.find("b")->begin == 24);
  CHECK(f.find("b")->data[1] == 0x3F);
  CHECK(f.find("missing") == nullptr);
  CHECK(f.metadata().at("format") == "pt");
  CHECK(safetensors_weight_type("BF16") == GgmlType::BF16);
  CHECK(safetensors_weight_type("F16") == GgmlType::F16);
  CHECK_FALSE(safetensors_weight_type("I64").has_value());
  CHECK(safetensors_dtype_size("F8_E4M3") == 1);
  CHECK(safetensors_dtype_size("F12") == 0);
}

TEST_CASE("safetensors: malformed headers give errors naming the file and the tensor", "[safetensors]") {
  const auto good = st_test::image(three());
  expect_error(std::vector<uint8_t>(good.begin(), good.begin() + 5), {"header length", "5 bytes"});
  {
    auto img = good;
    img[0] = 0xFF, img[1] = 0xFF, img[2] = 0x01;  // 130815 > file
    expect_error(img, {"header length", "at most the file size minus 8", "truncated"});
  }
  {
    auto img = good;
    img[7] = 0x7F;  // absurd length
    expect_error(img, {"header length", "at most 100000000"});
  }
  expect_error(std::vector<uint8_t>(good.begin(), good.begin() + 60), {"header length"});  // truncated in the header
  expect_error(st_test::image("{\"a\": ", three()), {"header", "valid JSON"});
  expect_error(st_test::image("[1, 2]", {}), {"header", "a JSON object", "array"});
  expect_error(st_test::image(std::string(20, '[') + std::string(20, ']'), {}), {"header", "nested"});
  json h = st_test::header_of(three());
  {
    json x = h;
    x["b"]["dtype"] = "BF17";
    expect_error(with_header(x), {"tensor 'b' dtype", "\"BF17\""});
  }
  {
    json x = h;
    x["a"].erase("data_offsets");
    expect_error(with_header(x), {"tensor 'a' data_offsets", "missing"});
  }
  {
    json x = h;
    x["a"]["shape"] = {2, -3};
    expect_error(with_header(x), {"tensor 'a' shape", "non-negative"});
  }
  {
    json x = h;
    x["a"]["shape"] = {2, 4};  // 32 bytes claimed, 24 stored
    expect_error(with_header(x), {"tensor 'a' data_offsets", "8 x 4 bytes for F32 [2, 4]", "24 bytes"});
  }
  {
    json x = h;
    x["c"]["data_offsets"] = {32, 48};  // beyond the 40-byte data section
    expect_error(with_header(x), {"tensor 'c' data_offsets", "the data section's 40 bytes"});
  }
  {
    json x = h;
    x["c"]["data_offsets"] = {40, 32};
    expect_error(with_header(x), {"tensor 'c' data_offsets", "begin <= end"});
  }
  {
    json x = h;
    x["b"]["data_offsets"] = {20, 28};  // overlaps a (0..24)
    x["c"]["data_offsets"] = {28, 36};
    expect_error(with_header(x), {"tensor 'b' data_offsets", "overlap with tensor 'a'"});
  }
  {
    json x = h;
    x["b"]["data_offsets"] = {26, 34};  // a gap after a
    x["c"]["data_offsets"] = {32, 40};
    expect_error(with_header(x), {"tensor 'b'", "no gaps"});
  }
  {
    auto img = good;
    img.insert(img.end(), 8, 0);  // bytes no tensor claims
    expect_error(img, {"data section", "40 bytes", "got 48"});
  }
  {
    json x = h;
    x["__metadata__"] = {{"k", 3}};
    expect_error(with_header(x), {"__metadata__.k", "a string"});
  }
}

TEST_CASE("safetensors: random header mutations give an Error or a valid file, never a crash", "[safetensors]") {
  const auto good = st_test::image(three());
  const size_t header_end = 8 + size_t(good[0] | (good[1] << 8));
  std::mt19937 rng(12345);
  const std::string interesting = "{}[]\",:0123456789-e. \\\x01\xFFtn";
  int errors = 0, loaded = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::vector<uint8_t> img = good;
    const int n_mut = 1 + int(rng() % 4);
    for (int k = 0; k < n_mut; ++k) {
      const size_t at = rng() % std::max<size_t>(1, std::min(img.size(), header_end + 16));
      switch (rng() % 6) {
        case 0: if (at < img.size()) img[at] ^= uint8_t(1u << (rng() % 8)); break;
        case 1: if (at < img.size()) img[at] = uint8_t(interesting[rng() % interesting.size()]); break;
        case 2: img.resize(rng() % (img.size() + 1)); break;
        case 3: if (at < img.size()) img.erase(img.begin() + long(at)); break;
        case 4: img.insert(img.begin() + long(std::min(at, img.size())), uint8_t(interesting[rng() % interesting.size()])); break;
        case 5: if (img.size() >= 8) img[rng() % 8] = uint8_t(rng()); break;  // the length field
      }
    }
    try {
      const auto f = SafetensorsFile::from_buffer(img, "fuzz.safetensors");
      ++loaded;
      uint64_t n = 0;  // every tensor lies inside the image's data section
      for (int i = 7; i >= 0; --i) n = (n << 8) | img[size_t(i)];
      for (const auto& t : f.tensors()) {
        REQUIRE(t.begin <= t.end);
        REQUIRE(t.end <= img.size() - 8 - n);
        REQUIRE(size_t(t.end - t.begin) == size_t(t.n_elements()) * safetensors_dtype_size(t.dtype));
      }
    } catch (const Error&) {
      ++errors;
    } catch (const std::exception& e) {
      FAIL("mutation " << iter << ": a " << typeid(e).name() << " instead of cokv::Error: " << e.what());
    }
  }
  CHECK(errors > 3000);  // most mutations break the file
  CHECK(errors + loaded == 4000);
  WARN("safetensors fuzz: " << errors << " errors, " << loaded << " loadable mutations of 4000");
}

TEST_CASE("safetensors folder: single file, index + shards, and their errors", "[safetensors]") {
  const auto ts = three();
  {
    const fs::path d = temp_dir("st_single");
    st_test::write((d / "model.safetensors").string(), st_test::image(ts));
    const auto s = SafetensorsSet::open_folder(d.string());
    const std::string* file = nullptr;
    REQUIRE(s.find("b", &file));
    CHECK(*file == (d / "model.safetensors").string());
    CHECK(s.paths().size() == 1);
  }
  const fs::path d = temp_dir("st_sharded");
  auto write_shards = [&] {
    st_test::write((d / "s-1.safetensors").string(), st_test::image({ts[0]}));
    st_test::write((d / "s-2.safetensors").string(), st_test::image({ts[1], ts[2]}));
  };
  auto write_index = [&](const json& wm) {
    std::ofstream((d / "model.safetensors.index.json").string()) << json{{"metadata", {{"total_size", 40}}}, {"weight_map", wm}}.dump();
  };
  const json wm = {{"a", "s-1.safetensors"}, {"b", "s-2.safetensors"}, {"c", "s-2.safetensors"}};
  write_shards();
  write_index(wm);
  {
    const auto s = SafetensorsSet::open_folder(d.string());
    const std::string* file = nullptr;
    REQUIRE(s.find("c", &file));
    CHECK(*file == (d / "s-2.safetensors").string());
    CHECK(s.find("a")->shape == std::vector<int64_t>{2, 3});
    CHECK(s.paths() == std::vector<std::string>{(d / "s-1.safetensors").string(), (d / "s-2.safetensors").string()});
  }
  auto expect = [&](std::vector<std::string> needles) {
    try {
      SafetensorsSet::open_folder(d.string());
      FAIL("no error");
    } catch (const Error& e) {
      INFO("message: " << e.what());
      for (const auto& n : needles) CHECK(std::string(e.what()).find(n) != std::string::npos);
    }
  };
  fs::remove(d / "s-2.safetensors");
  expect({"model.safetensors.index.json", "missing shard", "s-2.safetensors", "tensor 'b'"});
  write_shards();
  write_index({{"a", "s-1.safetensors"}, {"b", "s-1.safetensors"}, {"c", "s-2.safetensors"}});
  expect({"s-1.safetensors", "tensor 'b'", "maps it to this shard", "missing"});
  write_index({{"a", "s-1.safetensors"}, {"c", "s-2.safetensors"}});
  expect({"s-2.safetensors", "tensor 'b'", "weight_map", "not listed"});
  write_index({{"a", "../s-1.safetensors"}});
  expect({"weight_map.a", "a file name in the folder"});
  fs::remove(d / "model.safetensors.index.json");
  expect({"model.safetensors or model.safetensors.index.json"});
}
