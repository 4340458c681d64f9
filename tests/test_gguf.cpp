// GGUF reader tests: files built in memory by tests/gguf_writer.h (v2 and v3, every metadata
// type, nested arrays, alignment) parse back to what was written; each malformed case throws
// an Error naming the file and the field. Run: ./build/cokv-tests "[gguf]"
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "core/error.h"
#include "gguf_writer.h"
#include "model/dequant.h"
#include "model/gguf.h"

using namespace cokv;
using gguf_test::Bytes;
using gguf_test::Writer;
namespace gw = gguf_test;

namespace {

// Parses bytes and expects an Error whose message contains the file name and every needle.
void expect_error(const std::vector<uint8_t>& bytes, std::vector<std::string> needles) {
  needles.push_back("bad.gguf");
  try {
    GgufFile::from_buffer(bytes, "bad.gguf");
    FAIL("no error thrown; expected one mentioning " << needles.front());
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO("message: " << msg);
    for (const auto& n : needles) CHECK(msg.find(n) != std::string::npos);
  }
}

// A writer holding one key of every scalar type, arrays of each, and a nested array.
Writer all_types_writer(uint32_t version) {
  Writer w;
  w.version = version;
  w.kv<uint8_t>("t.u8", gw::U8, 200)
      .kv<int8_t>("t.i8", gw::I8, -100)
      .kv<uint16_t>("t.u16", gw::U16, 60000)
      .kv<int16_t>("t.i16", gw::I16, -30000)
      .kv<uint32_t>("t.u32", gw::U32, 4000000000u)
      .kv<int32_t>("t.i32", gw::I32, -2000000000)
      .kv<float>("t.f32", gw::F32, 0.15625f)
      .kv<uint8_t>("t.bool", gw::BOOL, 1)
      .kv_str("t.string", "héllo")
      .kv<uint64_t>("t.u64", gw::U64, 0xFFFFFFFFFFFFFFFFull)
      .kv<int64_t>("t.i64", gw::I64, -(int64_t{1} << 62))
      .kv<double>("t.f64", gw::F64, -1.0e300)
      .kv_str("t.empty_string", "");
  w.kv_strs("t.strings", {"a", "", "ccc"});
  w.kv_raw("t.i32s", gw::ARRAY, Bytes().put<uint32_t>(gw::I32).put<uint64_t>(3).put<int32_t>(-1).put<int32_t>(0).put<int32_t>(7));
  w.kv_raw("t.f32s", gw::ARRAY, Bytes().put<uint32_t>(gw::F32).put<uint64_t>(2).put<float>(1.5f).put<float>(-2.25f));
  w.kv_raw("t.u8s", gw::ARRAY, Bytes().put<uint32_t>(gw::U8).put<uint64_t>(2).put<uint8_t>(1).put<uint8_t>(255));
  w.kv_raw("t.bools", gw::ARRAY, Bytes().put<uint32_t>(gw::BOOL).put<uint64_t>(2).put<uint8_t>(0).put<uint8_t>(1));
  w.kv_raw("t.f64s", gw::ARRAY, Bytes().put<uint32_t>(gw::F64).put<uint64_t>(1).put<double>(3.25));
  w.kv_raw("t.empty", gw::ARRAY, Bytes().put<uint32_t>(gw::U16).put<uint64_t>(0));
  // [[1, 2], [], [[-5]]] as array of arrays (the inner ones: i16, u64, array of i64).
  Bytes nested;
  nested.put<uint32_t>(gw::ARRAY).put<uint64_t>(3);
  nested.put<uint32_t>(gw::I16).put<uint64_t>(2).put<int16_t>(1).put<int16_t>(2);
  nested.put<uint32_t>(gw::U64).put<uint64_t>(0);
  nested.put<uint32_t>(gw::ARRAY).put<uint64_t>(1).put<uint32_t>(gw::I64).put<uint64_t>(1).put<int64_t>(-5);
  w.kv_raw("t.nested", gw::ARRAY, nested);
  return w;
}

// A minimal valid file to break: one key and one tensor.
Writer small_writer() {
  Writer w;
  w.kv_str("general.architecture", "llama");
  w.tensor_f32("a", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  return w;
}

}  // namespace

TEST_CASE("gguf: every metadata type round-trips, v2 and v3", "[gguf]") {
  for (uint32_t version : {2u, 3u}) {
    INFO("version " << version);
    Writer w = all_types_writer(version);
    GgufFile f = GgufFile::from_buffer(w.build(), "mem.gguf");
    CHECK(f.version() == version);
    CHECK(f.path() == "mem.gguf");
    CHECK(f.metadata().size() == 21);
    CHECK(f.tensors().empty());
    CHECK(f.alignment() == 32);

    CHECK(f.get_int("t.u8") == 200);
    CHECK(f.value("t.u8").type == GgufValue::Type::U8);
    CHECK(f.get_int("t.i8") == -100);
    CHECK(f.get_int("t.u16") == 60000);
    CHECK(f.get_int("t.i16") == -30000);
    CHECK(f.get_int("t.u32") == 4000000000LL);
    CHECK(f.get_int("t.i32") == -2000000000LL);
    CHECK(f.get_float("t.f32") == 0.15625);
    CHECK(f.value("t.f32").type == GgufValue::Type::F32);
    CHECK(f.get_bool("t.bool") == true);
    CHECK(f.get_string("t.string") == "héllo");
    CHECK(std::get<uint64_t>(f.value("t.u64").v) == 0xFFFFFFFFFFFFFFFFull);
    CHECK(f.get_int("t.i64") == -(int64_t{1} << 62));
    CHECK(f.get_float("t.f64") == -1.0e300);
    CHECK(f.get_string("t.empty_string").empty());

    CHECK(f.get_string_array("t.strings") == std::vector<std::string>{"a", "", "ccc"});
    CHECK(f.get_int_array("t.i32s") == std::vector<int64_t>{-1, 0, 7});
    CHECK(f.get_int_array("t.u8s") == std::vector<int64_t>{1, 255});
    CHECK(f.get_float_array("t.f32s") == std::vector<float>{1.5f, -2.25f});
    CHECK(f.get_float_array("t.f64s") == std::vector<float>{3.25f});
    const auto& bools = std::get<std::vector<GgufValue>>(f.value("t.bools").v);
    REQUIRE(bools.size() == 2);
    CHECK(std::get<bool>(bools[0].v) == false);
    CHECK(std::get<bool>(bools[1].v) == true);
    CHECK(f.value("t.empty").array_type == GgufValue::Type::U16);
    CHECK(f.get_int_array("t.empty").empty());

    const GgufValue& n = f.value("t.nested");
    CHECK(n.type == GgufValue::Type::ARRAY);
    CHECK(n.array_type == GgufValue::Type::ARRAY);
    const auto& outer = std::get<std::vector<GgufValue>>(n.v);
    REQUIRE(outer.size() == 3);
    CHECK(outer[0].array_type == GgufValue::Type::I16);
    const auto& a0 = std::get<std::vector<GgufValue>>(outer[0].v);
    REQUIRE(a0.size() == 2);
    CHECK(std::get<int64_t>(a0[1].v) == 2);
    CHECK(std::get<std::vector<GgufValue>>(outer[1].v).empty());
    CHECK(outer[1].array_type == GgufValue::Type::U64);
    const auto& a2 = std::get<std::vector<GgufValue>>(outer[2].v);
    REQUIRE(a2.size() == 1);
    const auto& a20 = std::get<std::vector<GgufValue>>(a2[0].v);
    REQUIRE(a20.size() == 1);
    CHECK(std::get<int64_t>(a20[0].v) == -5);
  }
}

TEST_CASE("gguf: typed getters reject wrong types and missing keys, naming file and key", "[gguf]") {
  GgufFile f = GgufFile::from_buffer(all_types_writer(3).build(), "mem.gguf");
  CHECK_FALSE(f.has("nope"));
  CHECK_FALSE(f.find_int("nope").has_value());
  CHECK_FALSE(f.find_string("nope").has_value());
  CHECK(f.find_int("t.u8") == std::optional<int64_t>(200));
  CHECK_THROWS_WITH(f.get_int("nope"), Catch::Contains("mem.gguf") && Catch::Contains("nope") && Catch::Contains("missing"));
  CHECK_THROWS_WITH(f.get_int("t.string"), Catch::Contains("mem.gguf: t.string: expected an integer") && Catch::Contains("got string"));
  CHECK_THROWS_WITH(f.get_int("t.u64"), Catch::Contains("t.u64") && Catch::Contains("fits in int64"));
  CHECK_THROWS_WITH(f.get_float("t.u32"), Catch::Contains("t.u32: expected a float"));
  CHECK_THROWS_WITH(f.find_bool("t.u8"), Catch::Contains("t.u8: expected a bool"));
  CHECK_THROWS_WITH(f.get_string("t.i32s"), Catch::Contains("t.i32s: expected a string, got array of i32"));
  CHECK_THROWS_WITH(f.get_string_array("t.i32s"), Catch::Contains("expected an array of string, got array of i32"));
  CHECK_THROWS_WITH(f.get_int_array("t.strings"), Catch::Contains("t.strings: expected an array of integers"));
  CHECK_THROWS_WITH(f.get_float_array("t.i32s"), Catch::Contains("t.i32s: expected an array of f32"));
  CHECK_THROWS_WITH(f.tensor("w"), Catch::Contains("mem.gguf: tensor 'w'") && Catch::Contains("missing"));
  CHECK(f.find_tensor("w") == nullptr);
}

TEST_CASE("gguf: tensor infos, alignment and data", "[gguf]") {
  for (uint64_t align : {32ull, 64ull, 1ull, 256ull}) {
    INFO("alignment " << align);
    Writer w;
    w.alignment = align;
    if (align != 32) w.kv_u32("general.alignment", static_cast<uint32_t>(align));
    w.kv_str("general.name", "x");  // odd-length metadata so the data start needs padding
    w.tensor_f32("f", {3}, {1.f, -2.f, 3.5f});
    // Q8_0 [64, 2]: rows of two blocks; block k has d = k+1 (fp16) and qs[j] = j - 16.
    std::vector<uint8_t> q8;
    for (int k = 0; k < 4; ++k) {
      const uint16_t d = fp32_to_fp16(static_cast<float>(k + 1));
      q8.push_back(d & 0xFF);
      q8.push_back(d >> 8);
      for (int j = 0; j < 32; ++j) q8.push_back(static_cast<uint8_t>(static_cast<int8_t>(j - 16)));
    }
    w.tensor("blk.0.q", {64, 2}, 8, q8);
    w.tensor_f32("g.3d", {2, 1, 2}, {9, 8, 7, 6});
    GgufFile f = GgufFile::from_buffer(w.build(), "mem.gguf");
    CHECK(f.alignment() == align);
    CHECK(f.data_offset() % align == 0);
    REQUIRE(f.tensors().size() == 3);
    CHECK(f.tensors()[1].name == "blk.0.q");  // file order kept
    const GgufTensorInfo& q = f.tensor("blk.0.q");
    CHECK(q.type == GgmlType::Q8_0);
    CHECK(q.ne == std::vector<int64_t>{64, 2});
    CHECK(q.n_elements() == 128);
    CHECK(q.n_bytes == 4 * 34);
    CHECK(q.offset % align == 0);
    std::vector<float> v = dequantize_tensor(q, f.path());
    REQUIRE(v.size() == 128);
    for (int i = 0; i < 128; ++i) CHECK(v[i] == static_cast<float>((i / 32 + 1) * (i % 32 - 16)));
    CHECK(dequantize_tensor(f.tensor("f")) == std::vector<float>{1.f, -2.f, 3.5f});
    CHECK(f.tensor("g.3d").ne == std::vector<int64_t>{2, 1, 2});
    CHECK(dequantize_tensor(f.tensor("g.3d")) == std::vector<float>{9, 8, 7, 6});
  }
}

TEST_CASE("gguf: open() memory-maps a file on disk", "[gguf]") {
  const std::string path = std::string(COKV_BUILD_DIR) + "/test_gguf_open.gguf";
  std::vector<uint8_t> bytes = small_writer().build();
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  {
    GgufFile f = GgufFile::open(path);
    GgufFile moved = std::move(f);  // moving keeps tensor data pointers valid
    CHECK(moved.path() == path);
    CHECK(moved.get_string("general.architecture") == "llama");
    CHECK(dequantize_tensor(moved.tensor("a")) == std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8});
  }
  std::remove(path.c_str());
  CHECK_THROWS_WITH(GgufFile::open(path), Catch::Contains(path) && Catch::Contains("expected a readable GGUF file"));
  CHECK_THROWS_WITH(GgufFile::open(COKV_BUILD_DIR), Catch::Contains("expected a regular file"));
}

// ---- malformed files: one case each; messages name the file and the field ------------------

TEST_CASE("gguf malformed: wrong magic", "[gguf]") {
  Writer w = small_writer();
  w.magic = 0x46554748;  // "HGUF"
  expect_error(w.build(), {"header.magic", "expected \"GGUF\"", "\"HGUF\""});
}

TEST_CASE("gguf malformed: unsupported versions", "[gguf]") {
  for (uint32_t v : {0u, 1u, 4u}) {
    Writer w = small_writer();
    w.version = v;
    expect_error(w.build(), {"header.version", "expected 2 or 3", "got " + std::to_string(v)});
  }
  Writer w = small_writer();
  w.version = 3u << 24;  // a big-endian v3 file read little-endian
  expect_error(w.build(), {"header.version", "big-endian"});
}

TEST_CASE("gguf malformed: truncated anywhere", "[gguf]") {
  const std::vector<uint8_t> good = small_writer().build();
  REQUIRE_NOTHROW(GgufFile::from_buffer(good, "good.gguf"));
  // Every proper prefix is rejected with an Error (never a crash or an out-of-bounds read).
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    INFO("prefix of " << n << " bytes");
    CHECK_THROWS_AS(GgufFile::from_buffer(cut, "bad.gguf"), Error);
  }
  // Cut inside the value string "llama" (header 24, key 8 + 20, type 4, length 8, "ll").
  std::vector<uint8_t> cut(good.begin(), good.begin() + 66);
  expect_error(cut, {"general.architecture", "string value of at most 2 bytes", "length 5"});
  // Cut inside the tensor's offset field (tensor info at 69: name 8 + 1, n_dims 4, ne 16, type 4).
  std::vector<uint8_t> cut2(good.begin(), good.begin() + 106);
  expect_error(cut2, {"tensor 'a' offset", "8 bytes of offset at offset 102", "end of file at offset 106"});
  // Cut inside the tensor data: names the tensor.
  std::vector<uint8_t> short_data(good.begin(), good.end() - 4);
  expect_error(short_data, {"tensor 'a' data", "file truncated"});
}

TEST_CASE("gguf malformed: unknown metadata value type", "[gguf]") {
  Writer w = small_writer();
  w.kv_raw("general.weird", 13, Bytes().put<uint32_t>(0));
  expect_error(w.build(), {"general.weird", "expected a value type 0..12", "got 13"});
  Writer a = small_writer();
  a.kv_raw("general.arr", gw::ARRAY, Bytes().put<uint32_t>(77).put<uint64_t>(1));
  expect_error(a.build(), {"general.arr", "array element type", "got 77"});
}

TEST_CASE("gguf malformed: bool other than 0/1", "[gguf]") {
  Writer w = small_writer();
  w.kv<uint8_t>("general.flag", gw::BOOL, 2);
  expect_error(w.build(), {"general.flag", "0 or 1", "got 2"});
}

TEST_CASE("gguf malformed: unknown tensor type", "[gguf]") {
  for (uint32_t t : {4u, 31u, 200u}) {  // 4 and 31 were removed from ggml
    Writer w = small_writer();
    w.tensors[0].type = t;
    expect_error(w.build(), {"tensor 'a' type", "a ggml tensor type", "got " + std::to_string(t)});
  }
}

TEST_CASE("gguf malformed: a known type cokv cannot decode fails at dequantisation", "[gguf]") {
  Writer w;
  w.tensor("iq", {256}, 16 /* IQ2_XXS */, std::vector<uint8_t>(66, 0));
  GgufFile f = GgufFile::from_buffer(w.build(), "iq.gguf");  // parses: size is known
  CHECK_THROWS_WITH(dequantize_tensor(f.tensor("iq"), f.path()),
                    Catch::Contains("iq.gguf: tensor 'iq' type") && Catch::Contains("got IQ2_XXS"));
}

TEST_CASE("gguf malformed: n_dims out of range", "[gguf]") {
  Writer w = small_writer();
  w.tensors[0].ne = {1, 1, 1, 1, 8};
  expect_error(w.build(), {"tensor 'a' n_dims", "expected 1 to 4", "got 5"});
  Writer z = small_writer();
  z.tensors[0].ne = {};
  expect_error(z.build(), {"tensor 'a' n_dims", "got 0"});
}

TEST_CASE("gguf malformed: negative and overflowing dimensions", "[gguf]") {
  Writer w = small_writer();
  w.tensors[0].ne = {4, static_cast<uint64_t>(-2)};
  expect_error(w.build(), {"tensor 'a' ne[1]", "non-negative", "got -2"});
  Writer o = small_writer();
  o.tensors[0].ne = {uint64_t{1} << 32, uint64_t{1} << 32};
  expect_error(o.build(), {"tensor 'a' ne[1]", "product fits in int64"});
}

TEST_CASE("gguf malformed: row length not a multiple of the block size", "[gguf]") {
  Writer w;
  w.tensor("q", {48, 1}, 2 /* Q4_0 */, std::vector<uint8_t>(27, 0));
  expect_error(w.build(), {"tensor 'q' ne[0]", "multiple of 32", "Q4_0", "got 48"});
}

TEST_CASE("gguf malformed: misaligned offset", "[gguf]") {
  Writer w = small_writer();
  w.tensors[0].offset = 8;
  expect_error(w.build(), {"tensor 'a' offset", "multiple of the alignment 32", "got 8"});
}

TEST_CASE("gguf malformed: tensor data past the end of the file", "[gguf]") {
  Writer w = small_writer();
  w.tensors[0].offset = 1024;
  std::vector<uint8_t> b = w.build();
  b.resize(b.size() - 1024 + 32);  // drop the data the offset points at
  expect_error(b, {"tensor 'a' data", "within the file", "offset 1024"});
  Writer huge = small_writer();
  huge.tensors[0].offset = 0xFFFFFFFFFFFFFFE0ull;  // offset + size would wrap
  expect_error(huge.build(), {"tensor 'a' data", "within the file"});
}

TEST_CASE("gguf malformed: overlapping tensors", "[gguf]") {
  Writer w = small_writer();
  w.tensor_f32("b", {8}, {0, 0, 0, 0, 0, 0, 0, 0});
  w.tensors[1].offset = 0;  // same bytes as 'a'
  expect_error(w.build(), {"offset", "does not overlap"});
}

TEST_CASE("gguf malformed: duplicate keys and tensor names", "[gguf]") {
  Writer w = small_writer();
  w.kv_str("general.architecture", "qwen2");
  expect_error(w.build(), {"general.architecture", "appears once", "duplicate"});
  Writer t = small_writer();
  t.tensor_f32("a", {2}, {1, 2});
  expect_error(t.build(), {"tensor 'a'", "appears once", "duplicate"});
}

TEST_CASE("gguf malformed: absurd counts and lengths", "[gguf]") {
  Writer s;
  s.kv_raw("general.name", gw::STRING, Bytes().put<uint64_t>(uint64_t{1} << 40).put<uint32_t>(0));
  expect_error(s.build(), {"general.name", "string value of at most", "length 1099511627776"});
  Writer k;
  k.kvs.put<uint64_t>(uint64_t{1} << 62);  // a key length
  k.kvs.raw(std::vector<uint8_t>(32, 0));   // enough bytes that kv_count itself is plausible
  k.n_kv = 1;
  expect_error(k.build(), {"metadata[0].key", "key of at most"});
  Writer a;
  a.kv_raw("big.array", gw::ARRAY, Bytes().put<uint32_t>(gw::STRING).put<uint64_t>(uint64_t{1} << 50));
  expect_error(a.build(), {"big.array", "array length the rest of the file can hold"});
  Writer nk = small_writer();
  nk.n_kv_override = uint64_t{1} << 40;
  expect_error(nk.build(), {"header.kv_count", "what the file can hold"});
  Writer nt = small_writer();
  nt.n_tensors_override = uint64_t{1} << 40;
  expect_error(nt.build(), {"header.tensor_count", "what the file can hold"});
  Writer tn = small_writer();
  tn.tensors[0].name = "a";
  std::vector<uint8_t> b = tn.build();
  // tensor name length is right after the header and the metadata
  const size_t name_len_at = 24 + tn.kvs.b.size();
  uint64_t huge = uint64_t{1} << 33;
  std::memcpy(b.data() + name_len_at, &huge, 8);
  expect_error(b, {"tensor[0].name", "tensor name of at most"});
}

TEST_CASE("gguf malformed: nesting beyond the depth limit", "[gguf]") {
  Bytes deep;
  for (int i = 0; i < 40; ++i) deep.put<uint32_t>(gw::ARRAY).put<uint64_t>(1);
  deep.put<uint32_t>(gw::U8).put<uint64_t>(0);
  Writer w;
  w.kv_raw("deep", gw::ARRAY, deep);
  expect_error(w.build(), {"deep", "nested at most 16"});
}

TEST_CASE("gguf malformed: bad general.alignment", "[gguf]") {
  for (uint32_t a : {0u, 3u, 48u}) {
    Writer w = small_writer();
    w.kv_u32("general.alignment", a);
    expect_error(w.build(), {"general.alignment", "power of two", "got " + std::to_string(a)});
  }
  Writer s = small_writer();
  s.kv_str("general.alignment", "32");
  expect_error(s.build(), {"general.alignment", "got string"});
}
