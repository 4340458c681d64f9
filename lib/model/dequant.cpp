// Scalar reference decoders for ggml block formats, one function per type, written to follow
// ggml-quants.c dequantize_row_* operation for operation. Block layouts (ggml-common.h):
//   Q4_0 {f16 d; u8 qs[16]}                 x = (q - 8) * d        q: low nibbles 0..15, high 16..31
//   Q4_1 {f16 d, m; u8 qs[16]}              x = q * d + m
//   Q5_0 {f16 d; u8 qh[4]; u8 qs[16]}       x = (q | h<<4 - 16) * d, h = bit j of qh (j+16 for high)
//   Q5_1 {f16 d, m; u8 qh[4]; u8 qs[16]}    x = (q | h<<4) * d + m
//   Q8_0 {f16 d; i8 qs[32]}                 x = q * d
//   Q4_K {f16 d, dmin; u8 scales[12]; u8 qs[128]}           8 sub-blocks of 32, 6-bit scale/min
//   Q5_K {f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}
//   Q6_K {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}       16 sub-blocks of 16
#include "model/dequant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

// No fused multiply-add contraction here: the decoders must round each product and sum the way
// the reference (ggml's scalar code, gguf-py's numpy) does, so goldens compare bit for bit.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace cokv {

namespace {

struct TypeTraits {
  const char* name;
  int64_t block_size;  // 0: no such type
  size_t block_bytes;
  bool decoded;
};

// ggml_type_traits (ggml.c): every type ggml defines, indexed by its enum value.
constexpr TypeTraits kTraits[] = {
    {"F32", 1, 4, true},        {"F16", 1, 2, true},        {"Q4_0", 32, 18, true},
    {"Q4_1", 32, 20, true},     {"Q4_2 (removed)", 0, 0, false}, {"Q4_3 (removed)", 0, 0, false},
    {"Q5_0", 32, 22, true},     {"Q5_1", 32, 24, true},     {"Q8_0", 32, 34, true},
    {"Q8_1", 32, 36, false},    {"Q2_K", 256, 84, false},   {"Q3_K", 256, 110, false},
    {"Q4_K", 256, 144, true},   {"Q5_K", 256, 176, true},   {"Q6_K", 256, 210, true},
    {"Q8_K", 256, 292, false},  {"IQ2_XXS", 256, 66, false}, {"IQ2_XS", 256, 74, false},
    {"IQ3_XXS", 256, 98, false}, {"IQ1_S", 256, 50, false}, {"IQ4_NL", 32, 18, false},
    {"IQ3_S", 256, 110, false}, {"IQ2_S", 256, 82, false},  {"IQ4_XS", 256, 136, false},
    {"I8", 1, 1, false},        {"I16", 1, 2, false},       {"I32", 1, 4, false},
    {"I64", 1, 8, false},       {"F64", 1, 8, false},       {"IQ1_M", 256, 56, false},
    {"BF16", 1, 2, true},       {"Q4_0_4_4 (removed)", 0, 0, false}, {"Q4_0_4_8 (removed)", 0, 0, false},
    {"Q4_0_8_8 (removed)", 0, 0, false}, {"TQ1_0", 256, 54, false}, {"TQ2_0", 256, 66, false},
    {"IQ4_NL_4_4 (removed)", 0, 0, false}, {"IQ4_NL_4_8 (removed)", 0, 0, false},
    {"IQ4_NL_8_8 (removed)", 0, 0, false}, {"MXFP4", 32, 17, false}, {"NVFP4", 64, 36, false},
    {"Q1_0", 128, 18, false},
};
constexpr uint32_t kNumTraits = sizeof(kTraits) / sizeof(kTraits[0]);

const TypeTraits* traits(GgmlType t) {
  auto i = static_cast<uint32_t>(t);
  return i < kNumTraits && kTraits[i].block_size > 0 ? &kTraits[i] : nullptr;
}

const TypeTraits& traits_or_throw(GgmlType t) {
  const TypeTraits* tr = traits(t);
  if (!tr) fail("ggml type", "type", "a known ggml type", std::to_string(static_cast<uint32_t>(t)));
  return *tr;
}

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline float load_f16(const uint8_t* p) { return fp16_to_fp32(load_u16(p)); }

void dq_f32(const uint8_t* x, float* y, int64_t n) { std::memcpy(y, x, static_cast<size_t>(n) * 4); }

void dq_f16(const uint8_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = load_f16(x + 2 * i);
}

void dq_bf16(const uint8_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_fp32(load_u16(x + 2 * i));
}

void dq_q4_0(const uint8_t* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 18, y += 32) {
    const float d = load_f16(x);
    const uint8_t* qs = x + 2;
    for (int j = 0; j < 16; ++j) {
      const int x0 = (qs[j] & 0x0F) - 8;
      const int x1 = (qs[j] >> 4) - 8;
      y[j] = x0 * d;
      y[j + 16] = x1 * d;
    }
  }
}

void dq_q4_1(const uint8_t* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 20, y += 32) {
    const float d = load_f16(x);
    const float m = load_f16(x + 2);
    const uint8_t* qs = x + 4;
    for (int j = 0; j < 16; ++j) {
      const int x0 = qs[j] & 0x0F;
      const int x1 = qs[j] >> 4;
      y[j] = x0 * d + m;
      y[j + 16] = x1 * d + m;
    }
  }
}

void dq_q5_0(const uint8_t* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 22, y += 32) {
    const float d = load_f16(x);
    uint32_t qh;
    std::memcpy(&qh, x + 2, 4);
    const uint8_t* qs = x + 6;
    for (int j = 0; j < 16; ++j) {
      const uint8_t xh0 = ((qh >> (j + 0)) << 4) & 0x10;
      const uint8_t xh1 = ((qh >> (j + 12))) & 0x10;
      const int x0 = ((qs[j] & 0x0F) | xh0) - 16;
      const int x1 = ((qs[j] >> 4) | xh1) - 16;
      y[j] = x0 * d;
      y[j + 16] = x1 * d;
    }
  }
}

void dq_q5_1(const uint8_t* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 24, y += 32) {
    const float d = load_f16(x);
    const float m = load_f16(x + 2);
    uint32_t qh;
    std::memcpy(&qh, x + 4, 4);
    const uint8_t* qs = x + 8;
    for (int j = 0; j < 16; ++j) {
      const uint8_t xh0 = ((qh >> (j + 0)) << 4) & 0x10;
      const uint8_t xh1 = ((qh >> (j + 12))) & 0x10;
      const int x0 = (qs[j] & 0x0F) | xh0;
      const int x1 = (qs[j] >> 4) | xh1;
      y[j] = x0 * d + m;
      y[j + 16] = x1 * d + m;
    }
  }
}

void dq_q8_0(const uint8_t* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 34, y += 32) {
    const float d = load_f16(x);
    const int8_t* qs = reinterpret_cast<const int8_t*>(x + 2);
    for (int j = 0; j < 32; ++j) y[j] = qs[j] * d;
  }
}

// 6-bit scale and min of sub-block j from the 12 packed bytes (ggml get_scale_min_k4).
inline void scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

void dq_q4_k(const uint8_t* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 144) {
    const float d = load_f16(x);
    const float min = load_f16(x + 2);
    const uint8_t* scales = x + 4;
    const uint8_t* q = x + 16;
    int is = 0;
    uint8_t sc, m;
    for (int j = 0; j < 256; j += 64) {
      scale_min_k4(is + 0, scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      scale_min_k4(is + 1, scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
      q += 32;
      is += 2;
    }
  }
}

void dq_q5_k(const uint8_t* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 176) {
    const float d = load_f16(x);
    const float min = load_f16(x + 2);
    const uint8_t* scales = x + 4;
    const uint8_t* qh = x + 16;
    const uint8_t* ql = x + 48;
    int is = 0;
    uint8_t sc, m;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 256; j += 64) {
      scale_min_k4(is + 0, scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      scale_min_k4(is + 1, scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      ql += 32;
      is += 2;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
}

void dq_q6_k(const uint8_t* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 210) {
    const uint8_t* ql = x;
    const uint8_t* qh = x + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(x + 192);
    const float d = load_f16(x + 208);
    for (int n = 0; n < 256; n += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int8_t q1 = static_cast<int8_t>((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int8_t q2 = static_cast<int8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int8_t q3 = static_cast<int8_t>((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int8_t q4 = static_cast<int8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

}  // namespace

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      uint32_t e = 113;  // 127 - 15 + 1
      while (!(mant & 0x400)) {
        mant <<= 1;
        --e;
      }
      bits = sign | (e << 23) | ((mant & 0x3FF) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf, NaN (payload kept)
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = x & 0x80000000u;
  x ^= sign;
  uint16_t o;
  if (x >= 0x47800000u) {  // >= 65536 (or inf/NaN): inf, NaN keeps its top payload bits
    if (x > 0x7F800000u) {
      o = static_cast<uint16_t>(0x7C00u + ((x & 0x7FFFFFu) >> 13));
      if (o == 0x7C00u) ++o;
    } else {
      o = 0x7C00;
    }
  } else if (x < 0x38800000u) {  // subnormal or zero in fp16: let fp addition round (RNE)
    const uint32_t magic_bits = 126u << 23;
    float magic, v;
    std::memcpy(&magic, &magic_bits, 4);
    std::memcpy(&v, &x, 4);
    v += magic;
    uint32_t vb;
    std::memcpy(&vb, &v, 4);
    o = static_cast<uint16_t>(vb - magic_bits);
  } else {  // normal: rebias exponent, round mantissa to nearest even (carry may give inf)
    const uint32_t mant_odd = (x >> 13) & 1;
    x += (static_cast<uint32_t>(15 - 127) << 23) + 0xFFF;
    x += mant_odd;
    o = static_cast<uint16_t>(x >> 13);
  }
  return static_cast<uint16_t>(o | (sign >> 16));
}

float bf16_to_fp32(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void quantize_row_q8_0(const float* x, void* dst, int64_t n) {
  require(n % 32 == 0, "quantize_row_q8_0: " + std::to_string(n) + " values, not whole blocks of 32");
  auto* y = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / 32; ++b, x += 32, y += 34) {
    float amax = 0.f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.f, id = d != 0.f ? 1.f / d : 0.f;
    const uint16_t dh = fp32_to_fp16(d);
    std::memcpy(y, &dh, 2);
    for (int i = 0; i < 32; ++i) y[2 + i] = uint8_t(int8_t(std::round(x[i] * id)));
  }
}

uint16_t fp32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  x += 0x7FFFu + ((x >> 16) & 1);  // carry into the exponent rounds up to inf where it should
  return static_cast<uint16_t>(x >> 16);
}

bool ggml_type_known(uint32_t t) { return traits(static_cast<GgmlType>(t)) != nullptr; }

const char* ggml_type_name(GgmlType t) {
  const TypeTraits* tr = traits(t);
  return tr ? tr->name : "unknown";
}

bool ggml_type_supported(GgmlType t) {
  const TypeTraits* tr = traits(t);
  return tr && tr->decoded;
}

int64_t ggml_block_size(GgmlType t) { return traits_or_throw(t).block_size; }
size_t ggml_block_bytes(GgmlType t) { return traits_or_throw(t).block_bytes; }

size_t ggml_row_bytes(GgmlType t, int64_t n) {
  const TypeTraits& tr = traits_or_throw(t);
  if (n < 0 || n % tr.block_size != 0)
    fail(std::string(tr.name) + " row", "length", "a non-negative multiple of " + std::to_string(tr.block_size),
         std::to_string(n));
  return static_cast<size_t>(n / tr.block_size) * tr.block_bytes;
}

void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n) {
  ggml_row_bytes(t, n);  // validates n
  const auto* x = static_cast<const uint8_t*>(src);
  const int64_t nb = n / ggml_block_size(t);
  switch (t) {
    case GgmlType::F32: return dq_f32(x, dst, n);
    case GgmlType::F16: return dq_f16(x, dst, n);
    case GgmlType::BF16: return dq_bf16(x, dst, n);
    case GgmlType::Q4_0: return dq_q4_0(x, dst, nb);
    case GgmlType::Q4_1: return dq_q4_1(x, dst, nb);
    case GgmlType::Q5_0: return dq_q5_0(x, dst, nb);
    case GgmlType::Q5_1: return dq_q5_1(x, dst, nb);
    case GgmlType::Q8_0: return dq_q8_0(x, dst, nb);
    case GgmlType::Q4_K: return dq_q4_k(x, dst, nb);
    case GgmlType::Q5_K: return dq_q5_k(x, dst, nb);
    case GgmlType::Q6_K: return dq_q6_k(x, dst, nb);
    default: break;
  }
  fail("dequantize_row", "type", "one of F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K",
       ggml_type_name(t));
}

void dequantize_tensor_into(const GgufTensorInfo& info, float* dst, const std::string& file) {
  const std::string where = file.empty() ? std::string("tensor data") : file;
  if (!ggml_type_supported(info.type))
    fail(where, "tensor '" + info.name + "' type",
         "a type cokv can dequantize (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K)",
         ggml_type_name(info.type));
  if (info.ne.empty() || info.n_elements() == 0) return;
  const int64_t ne0 = info.ne[0];
  const int64_t n_rows = info.n_elements() / ne0;
  const size_t row_bytes = ggml_row_bytes(info.type, ne0);
  if (!info.data || row_bytes * static_cast<size_t>(n_rows) > info.n_bytes)
    fail(where, "tensor '" + info.name + "'", std::to_string(row_bytes * n_rows) + " bytes of data",
         std::to_string(info.n_bytes));
  const GgmlType t = info.type;
  const uint8_t* src = info.data;
  // Parallel only when it pays (a row of a small tensor is microseconds).
#pragma omp parallel for schedule(static) if (info.n_elements() >= (int64_t{1} << 16))
  for (int64_t r = 0; r < n_rows; ++r) dequantize_row(t, src + r * row_bytes, dst + r * ne0, ne0);
}

std::vector<float> dequantize_tensor(const GgufTensorInfo& info, const std::string& file) {
  std::vector<float> out(static_cast<size_t>(info.n_elements()));
  dequantize_tensor_into(info, out.data(), file);
  return out;
}

}  // namespace cokv
