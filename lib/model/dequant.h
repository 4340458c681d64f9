// Dequantisation of ggml tensor types to fp32, one scalar reference decoder per type
// (layouts as in ggml-quants.c). Row lengths must be multiples of the type's block size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/gguf.h"

namespace cokv {

const char* ggml_type_name(GgmlType t);
bool ggml_type_supported(GgmlType t);        // true for the types dequantize_row handles
int64_t ggml_block_size(GgmlType t);         // elements per block (1 for F32/F16/BF16)
size_t ggml_block_bytes(GgmlType t);         // bytes per block
size_t ggml_row_bytes(GgmlType t, int64_t n);  // throws if n is not a multiple of the block size

// Decodes n values (n a multiple of the block size) from src into dst.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);

// Decodes a whole tensor; throws (file, tensor name) for unsupported types.
std::vector<float> dequantize_tensor(const GgufTensorInfo& info, const std::string& file = {});

float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
float bf16_to_fp32(uint16_t h);

}  // namespace cokv
