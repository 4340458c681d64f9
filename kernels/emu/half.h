// The emulator's fp16 and bf16 types: storage of 16 bits, conversions that round to nearest
// even as the CUDA intrinsics do (__float2half, __float2bfloat16), NaN kept NaN. Arithmetic
// goes through float, which is what the kernels do anyway (fp32 accumulation).
#pragma once
#include <cstdint>
#include <cstring>

namespace cokv::emu {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t float_to_bf16_bits(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
inline float bf16_bits_to_float(uint16_t b) { return bits_float(uint32_t(b) << 16); }

// fp32 -> fp16, round to nearest even, overflow to infinity, subnormals exact.
inline uint16_t float_to_half_bits(float f) {
  uint32_t u = float_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  u &= 0x7fffffffu;
  uint16_t h;
  if (u >= 0x47800000u) {  // |f| >= 65536 (or inf/NaN): every such value is inf in fp16
    h = u > 0x7f800000u ? 0x7e00 : 0x7c00;
  } else if (u < 0x38800000u) {  // below fp16's smallest normal 2^-14: subnormal or zero
    // Adding 0.5 aligns the 10 subnormal mantissa bits at the bottom of the float's mantissa;
    // the float addition does the round-to-nearest-even.
    const float magic = bits_float(126u << 23);
    h = uint16_t(float_bits(bits_float(u) + magic) - float_bits(magic));
  } else {
    const uint32_t odd = (u >> 13) & 1u;
    u += (uint32_t(15 - 127) << 23) + 0xfffu + odd;  // rebias the exponent, round half to even
    h = uint16_t(u >> 13);                           // a carry into the exponent gives inf
  }
  return uint16_t(h | sign);
}

inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    const float v = float(mant) * bits_float(uint32_t(127 - 24) << 23);
    return bits_float(float_bits(v) | sign);
  }
  if (exp == 31) return bits_float(sign | 0x7f800000u | (mant << 13));
  return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

namespace cuda {  // the CUDA names, seen unqualified by emulated code (emu.h)

struct __half {
  uint16_t x;
  __half() = default;
  __half(float f) : x(float_to_half_bits(f)) {}
  operator float() const { return half_bits_to_float(x); }
};

struct __nv_bfloat16 {
  uint16_t x;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : x(float_to_bf16_bits(f)) {}
  operator float() const { return bf16_bits_to_float(x); }
};

inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline float __half2float(__half h) { return half_bits_to_float(h.x); }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return bf16_bits_to_float(b.x); }

}  // namespace cuda

}  // namespace cokv::emu
