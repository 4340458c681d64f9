// Dequantisation of ggml tensor types to fp32, one scalar reference decoder per type
// (block layouts as in ggml-common.h, arithmetic as in ggml-quants.c dequantize_row_*).
// Decoded: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K. Every other ggml
// type is known by name and size (so files holding them parse) but not decoded.
// Row lengths must be multiples of the type's block size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/gguf.h"

namespace cokv {

bool ggml_type_known(uint32_t t);            // a type ggml defines (block size known)
const char* ggml_type_name(GgmlType t);      // "Q4_1", ...; "unknown" for others
bool ggml_type_supported(GgmlType t);        // true for the types dequantize_row handles
int64_t ggml_block_size(GgmlType t);         // elements per block (1 for F32/F16/BF16); throws if unknown
size_t ggml_block_bytes(GgmlType t);         // bytes per block; throws if unknown
size_t ggml_row_bytes(GgmlType t, int64_t n);  // throws if n is not a multiple of the block size

// Decodes n values (n a multiple of the block size) from src into dst. Throws for an
// unsupported type or a bad n.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);

// Decodes a whole tensor (OpenMP over rows); throws (file, tensor name) for unsupported types.
std::vector<float> dequantize_tensor(const GgufTensorInfo& info, const std::string& file = {});
// Same into caller memory of info.n_elements() floats.
void dequantize_tensor_into(const GgufTensorInfo& info, float* dst, const std::string& file = {});

// Encodes n values (a multiple of 32) as Q8_0 blocks with ggml's reference rule
// (quantize_row_q8_0_ref: d = max|x| / 127 stored in fp16, q = roundf(x / d)).
void quantize_row_q8_0(const float* src, void* dst, int64_t n);

float fp16_to_fp32(uint16_t h);   // exact, NaN payloads kept
uint16_t fp32_to_fp16(float f);   // round to nearest even (as numpy's astype(float16))
float bf16_to_fp32(uint16_t h);   // exact
uint16_t fp32_to_bf16(float f);   // round to nearest even (as torch's .to(bfloat16)); NaN stays NaN

}  // namespace cokv
