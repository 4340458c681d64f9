// Dequantisation tests: per type, hand-built blocks with known values (packed here the way
// ggml's quantize_row_*_ref packs them, so the test is the inverse path), and golden random
// blocks decoded by gguf-py (tests/data/dequant, scripts/dev/make_dequant_golden.py) compared
// bit for bit. Run: ./build/cokv-tests "[dequant]"
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/dequant.h"

using namespace cokv;

namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void put_f16(std::vector<uint8_t>& b, float v) {
  const uint16_t h = fp32_to_fp16(v);
  REQUIRE(fp16_to_fp32(h) == v);  // test values are exact in fp16
  b.push_back(h & 0xFF);
  b.push_back(h >> 8);
}

std::vector<float> decode(GgmlType t, const std::vector<uint8_t>& blocks, int64_t n) {
  REQUIRE(blocks.size() == ggml_row_bytes(t, n));
  std::vector<float> y(static_cast<size_t>(n), NAN);
  dequantize_row(t, blocks.data(), y.data(), n);
  return y;
}

// Packs 8 six-bit scales and mins into 12 bytes (ggml quantize_row_q4_K_ref).
std::vector<uint8_t> pack_scales_k4(const int sc[8], const int mn[8]) {
  std::vector<uint8_t> s(12, 0);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = static_cast<uint8_t>(sc[j]);
      s[j + 4] = static_cast<uint8_t>(mn[j]);
    } else {
      s[j + 4] = static_cast<uint8_t>((sc[j] & 0xF) | ((mn[j] & 0xF) << 4));
      s[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      s[j - 0] |= static_cast<uint8_t>((mn[j] >> 4) << 6);
    }
  }
  return s;
}

const int kSc[8] = {1, 2, 3, 63, 17, 32, 48, 5};  // high bits exercised in sub-blocks 4..7
const int kMn[8] = {0, 1, 63, 2, 33, 4, 16, 60};

}  // namespace

TEST_CASE("dequant: type table", "[dequant]") {
  CHECK(ggml_block_size(GgmlType::Q4_1) == 32);
  CHECK(ggml_block_bytes(GgmlType::Q4_1) == 20);
  CHECK(ggml_block_bytes(GgmlType::Q6_K) == 210);
  CHECK(ggml_block_bytes(GgmlType::Q8_1) == 36);  // ggml-common.h (gguf-py's 40 is stale)
  CHECK(ggml_row_bytes(GgmlType::Q8_0, 576) == 18 * 34);
  CHECK(ggml_row_bytes(GgmlType::F16, 3) == 6);
  CHECK(std::string(ggml_type_name(GgmlType::Q5_K)) == "Q5_K");
  CHECK(ggml_type_supported(GgmlType::BF16));
  CHECK_FALSE(ggml_type_supported(GgmlType::Q2_K));
  CHECK(ggml_type_known(16));   // IQ2_XXS: known, not decoded
  CHECK_FALSE(ggml_type_known(4));
  CHECK_FALSE(ggml_type_known(1000));
  CHECK_THROWS_WITH(ggml_row_bytes(GgmlType::Q4_0, 40), Catch::Contains("multiple of 32") && Catch::Contains("got 40"));
  std::vector<float> y(256);
  std::vector<uint8_t> x(84, 0);
  CHECK_THROWS_WITH(dequantize_row(GgmlType::Q2_K, x.data(), y.data(), 256), Catch::Contains("got Q2_K"));
}

TEST_CASE("dequant: F16, BF16 and F32 known values", "[dequant]") {
  CHECK(fp16_to_fp32(0x3C00) == 1.0f);
  CHECK(fp16_to_fp32(0xC000) == -2.0f);
  CHECK(fp16_to_fp32(0x7BFF) == 65504.0f);
  CHECK(fp16_to_fp32(0x0400) == std::ldexp(1.0f, -14));  // smallest normal
  CHECK(fp16_to_fp32(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(fp16_to_fp32(0x03FF) == std::ldexp(1023.0f, -24));
  CHECK(std::signbit(fp16_to_fp32(0x8000)));
  CHECK(fp16_to_fp32(0x7C00) == INFINITY);
  CHECK(fp16_to_fp32(0xFC00) == -INFINITY);
  CHECK(std::isnan(fp16_to_fp32(0x7E00)));
  CHECK(bf16_to_fp32(0x3F80) == 1.0f);
  CHECK(bf16_to_fp32(0xC040) == -3.0f);
  // fp32 -> fp16 -> fp32 is the identity on every finite half.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00) continue;
    if (fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h))) != h) FAIL("round trip of half " << h);
  }
  CHECK(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);  // tie -> even
  CHECK(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);
  CHECK(fp32_to_fp16(65520.0f) == 0x7C00);  // rounds up to inf

  std::vector<uint8_t> b;
  for (float v : {1.0f, -0.5f, 3.0f}) put_f16(b, v);
  CHECK(decode(GgmlType::F16, b, 3) == std::vector<float>{1.0f, -0.5f, 3.0f});
  std::vector<uint8_t> bf = {0x80, 0x3F, 0x40, 0xC0};
  CHECK(decode(GgmlType::BF16, bf, 2) == std::vector<float>{1.0f, -3.0f});
  std::vector<float> f = {1.25f, -7.0f};
  std::vector<uint8_t> fb(8);
  std::memcpy(fb.data(), f.data(), 8);
  CHECK(decode(GgmlType::F32, fb, 2) == f);
}

TEST_CASE("dequant: Q4_0 known block", "[dequant]") {
  // d = 0.5; low nibble of byte j is element j, high nibble element j + 16.
  std::vector<uint8_t> b;
  put_f16(b, 0.5f);
  for (int j = 0; j < 16; ++j) b.push_back(static_cast<uint8_t>(j | ((15 - j) << 4)));
  auto y = decode(GgmlType::Q4_0, b, 32);
  for (int j = 0; j < 16; ++j) {
    CHECK(y[j] == (j - 8) * 0.5f);
    CHECK(y[j + 16] == (15 - j - 8) * 0.5f);
  }
  CHECK(y[0] == -4.0f);
  CHECK(y[16] == 3.5f);
}

TEST_CASE("dequant: Q4_1 known block", "[dequant]") {
  std::vector<uint8_t> b;
  put_f16(b, 0.25f);
  put_f16(b, -1.0f);
  for (int j = 0; j < 16; ++j) b.push_back(static_cast<uint8_t>(j | ((15 - j) << 4)));
  auto y = decode(GgmlType::Q4_1, b, 32);
  for (int j = 0; j < 16; ++j) {
    CHECK(y[j] == j * 0.25f - 1.0f);
    CHECK(y[j + 16] == (15 - j) * 0.25f - 1.0f);
  }
}

TEST_CASE("dequant: Q5_0 and Q5_1 known blocks", "[dequant]") {
  // 5-bit values q[i] = (7 * i + 3) % 32; bit 4 of element i lives in bit i of qh.
  int q[32];
  uint32_t qh = 0;
  std::vector<uint8_t> qs(16);
  for (int i = 0; i < 32; ++i) {
    q[i] = (7 * i + 3) % 32;
    if (q[i] & 16) qh |= 1u << i;
  }
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
  uint8_t qhb[4];
  std::memcpy(qhb, &qh, 4);

  std::vector<uint8_t> b0;
  put_f16(b0, 2.0f);
  b0.insert(b0.end(), qhb, qhb + 4);
  b0.insert(b0.end(), qs.begin(), qs.end());
  auto y0 = decode(GgmlType::Q5_0, b0, 32);
  for (int i = 0; i < 32; ++i) CHECK(y0[i] == (q[i] - 16) * 2.0f);

  std::vector<uint8_t> b1;
  put_f16(b1, 0.5f);
  put_f16(b1, 3.0f);
  b1.insert(b1.end(), qhb, qhb + 4);
  b1.insert(b1.end(), qs.begin(), qs.end());
  auto y1 = decode(GgmlType::Q5_1, b1, 32);
  for (int i = 0; i < 32; ++i) CHECK(y1[i] == q[i] * 0.5f + 3.0f);
}

TEST_CASE("dequant: Q8_0 known blocks", "[dequant]") {
  std::vector<uint8_t> b;
  for (int blk = 0; blk < 2; ++blk) {
    put_f16(b, blk == 0 ? 0.125f : -4.0f);
    for (int j = 0; j < 32; ++j) b.push_back(static_cast<uint8_t>(static_cast<int8_t>(j * 8 - 128)));
  }
  auto y = decode(GgmlType::Q8_0, b, 64);
  for (int j = 0; j < 32; ++j) {
    CHECK(y[j] == (j * 8 - 128) * 0.125f);
    CHECK(y[32 + j] == (j * 8 - 128) * -4.0f);
  }
}

TEST_CASE("dequant: Q4_K known block", "[dequant]") {
  // Element e: sub-block s = e / 32, 4-bit value L[e] = (e * 5 + 1) % 16.
  int L[256];
  for (int e = 0; e < 256; ++e) L[e] = (e * 5 + 1) % 16;
  std::vector<uint8_t> b;
  put_f16(b, 1.0f);   // d
  put_f16(b, 0.5f);   // dmin
  auto sc = pack_scales_k4(kSc, kMn);
  b.insert(b.end(), sc.begin(), sc.end());
  for (int j = 0; j < 256; j += 64)
    for (int l = 0; l < 32; ++l) b.push_back(static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4)));
  auto y = decode(GgmlType::Q4_K, b, 256);
  for (int e = 0; e < 256; ++e) {
    const int s = e / 32;
    INFO("element " << e);
    CHECK(y[e] == static_cast<float>(kSc[s] * L[e]) - 0.5f * kMn[s]);
  }
}

TEST_CASE("dequant: Q5_K known block", "[dequant]") {
  int L[256];  // 5-bit values
  for (int e = 0; e < 256; ++e) L[e] = (e * 11 + 7) % 32;
  std::vector<uint8_t> b;
  put_f16(b, 0.25f);
  put_f16(b, 2.0f);
  auto sc = pack_scales_k4(kSc, kMn);
  b.insert(b.end(), sc.begin(), sc.end());
  // ggml quantize_row_q5_K_ref: bit 4 of sub-block 2k / 2k+1 goes to qh bits 2k / 2k+1.
  std::vector<uint8_t> qh(32, 0), ql(128, 0);
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0, q = 0; n < 256; n += 64, q += 32) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j], l2 = L[n + j + 32];
      if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
      if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
      ql[q + j] = static_cast<uint8_t>(l1 | (l2 << 4));
    }
    m1 <<= 2;
    m2 <<= 2;
  }
  b.insert(b.end(), qh.begin(), qh.end());
  b.insert(b.end(), ql.begin(), ql.end());
  auto y = decode(GgmlType::Q5_K, b, 256);
  for (int e = 0; e < 256; ++e) {
    const int s = e / 32;
    INFO("element " << e);
    CHECK(y[e] == 0.25f * static_cast<float>(kSc[s] * L[e]) - 2.0f * kMn[s]);
  }
}

TEST_CASE("dequant: Q6_K known block", "[dequant]") {
  int L[256];  // 6-bit values, value - 32 is the signed quant
  for (int e = 0; e < 256; ++e) L[e] = (e * 13 + 5) % 64;
  int8_t scales[16];
  for (int i = 0; i < 16; ++i) scales[i] = static_cast<int8_t>((i % 2 ? -1 : 1) * (i * 7 + 1));
  // ggml quantize_row_q6_K_ref packing.
  std::vector<uint8_t> ql(128, 0), qh(64, 0);
  for (int j = 0, o = 0, h = 0; j < 256; j += 128, o += 64, h += 32) {
    for (int l = 0; l < 32; ++l) {
      const int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
      ql[o + l] = static_cast<uint8_t>(q1 | (q3 << 4));
      ql[o + l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
      qh[h + l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                       ((L[j + l + 96] >> 4) << 6));
    }
  }
  std::vector<uint8_t> b = ql;
  b.insert(b.end(), qh.begin(), qh.end());
  for (int8_t s : scales) b.push_back(static_cast<uint8_t>(s));
  put_f16(b, 0.25f);
  REQUIRE(b.size() == 210);
  auto y = decode(GgmlType::Q6_K, b, 256);
  for (int e = 0; e < 256; ++e) {
    INFO("element " << e);
    CHECK(y[e] == 0.25f * scales[e / 16] * (L[e] - 32));
  }
}

TEST_CASE("dequant: gguf-py golden random blocks, bit for bit", "[dequant]") {
  const std::string dir = std::string(COKV_SOURCE_DIR) + "/tests/data/dequant/";
  std::ifstream mf(dir + "manifest.json");
  REQUIRE(mf.good());
  nlohmann::json m = nlohmann::json::parse(mf);
  REQUIRE(m["types"].size() == 11);
  for (const auto& t : m["types"]) {
    const std::string name = t["type"];
    INFO("type " << name);
    const auto type = static_cast<GgmlType>(t["ggml_type"].get<uint32_t>());
    CHECK(name == ggml_type_name(type));
    const int64_t n = t["n"];
    auto raw = read_file(dir + t["raw"].get<std::string>());
    auto exp_bytes = read_file(dir + t["expected"].get<std::string>());
    REQUIRE(raw.size() == ggml_row_bytes(type, n));
    REQUIRE(exp_bytes.size() == static_cast<size_t>(n) * 4);
    auto y = decode(type, raw, n);
    int64_t mismatches = 0;
    for (int64_t i = 0; i < n; ++i) {
      uint32_t want, got;
      std::memcpy(&want, exp_bytes.data() + 4 * i, 4);
      std::memcpy(&got, &y[i], 4);
      if (want != got && mismatches++ < 5) {
        float wf;
        std::memcpy(&wf, &want, 4);
        UNSCOPED_INFO("element " << i << ": want " << wf << " got " << y[i]);
      }
    }
    CHECK(mismatches == 0);
  }
  // fp32 -> fp16 rounding against numpy.
  const auto& r = m["fp32_to_fp16"];
  auto in = read_file(dir + r["input"].get<std::string>());
  auto out = read_file(dir + r["expected"].get<std::string>());
  const int64_t n = r["n"];
  REQUIRE(in.size() == static_cast<size_t>(n) * 4);
  REQUIRE(out.size() == static_cast<size_t>(n) * 2);
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    float x;
    uint16_t want;
    std::memcpy(&x, in.data() + 4 * i, 4);
    std::memcpy(&want, out.data() + 2 * i, 2);
    if (fp32_to_fp16(x) != want && bad++ < 5) UNSCOPED_INFO("fp32_to_fp16(" << x << ") want " << want);
  }
  CHECK(bad == 0);
}
