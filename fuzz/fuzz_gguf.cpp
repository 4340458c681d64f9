// Fuzz target: the GGUF reader (lib/model/gguf.*) on arbitrary bytes, then what the model loader
// reads from a file that opened: the config, the tokenizer and chat template, and every
// tensor's dequantisation. Seeds: the default model's header, shrunk (fuzz/make_seeds.cpp),
// and the test suite's small GGUF images.
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "fuzz_common.h"
#include "model/config.h"
#include "model/dequant.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const cokv::GgufFile f = cokv::GgufFile::from_buffer(std::vector<uint8_t>(data, data + size), "fuzz.gguf");
    for (const auto& [key, value] : f.metadata()) (void)cokv::gguf_type_name(value.type);
    for (const auto& t : f.tensors()) {
      if (t.n_elements() < 0) cokv_fuzz::property_failed("a tensor with a negative element count opened");
      if (cokv::ggml_type_supported(t.type)) (void)cokv::dequantize_tensor(t, f.path());
    }
    try {
      (void)cokv::config_from_gguf(f);
    } catch (const cokv::Error&) {
    }
    try {
      (void)cokv::chat_template_from_gguf(f);
    } catch (const cokv::Error&) {
    }
    const cokv::Tokenizer tok = cokv::Tokenizer::from_gguf(f);
    (void)tok.decode(tok.encode("Hello, world! <|im_start|>", true));
  } catch (const cokv::Error&) {
  }
  return 0;
}
