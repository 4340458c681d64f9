// Fuzz target: the default model's BPE tokenizer (lib/model/tokenizer.*, pretokenize.*) on
// arbitrary bytes. Input: one flag byte (bit 0: add BOS, bit 1: parse special tokens), then
// the text. Checks: encode never throws; every id is in the vocabulary; decode never throws;
// valid UTF-8 comes back byte for byte when the vocabulary has a token for each of its bytes
// (invalid UTF-8 becomes U+FFFD, and a byte without a token is dropped, both as llama.cpp
// does: SmolLM2 has none for 0x04 0x06 0x13 0x14 0x16 0x1d, which the first run of this
// target found). The model is the one scripts/setup fetched ($COKV_MODEL).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/paths.h"
#include "fuzz_common.h"
#include "model/gguf.h"
#include "model/pretokenize.h"
#include "model/tokenizer.h"

namespace {

std::unique_ptr<cokv::Tokenizer> g_tok;
bool g_byte_known[256];  // the vocabulary has the byte's own token

// Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF), as Python's decoder.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (int k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 2) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += size_t(len);
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string path = cokv::default_model_path();
  if (!std::filesystem::exists(path)) {
    std::fprintf(stderr, "fuzz_tokenizer: the default model is missing (scripts/setup fetches it): %s\n",
                 path.c_str());
    std::exit(1);
  }
  g_tok = std::make_unique<cokv::Tokenizer>(cokv::Tokenizer::from_gguf(cokv::GgufFile::open(path)));
  for (int b = 0; b < 256; ++b) g_byte_known[b] = g_tok->find_token(cokv::byte_to_unicode()[size_t(b)]) >= 0;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool add_bos = data[0] & 1, parse_special = data[0] & 2;
  const std::string_view text = cokv_fuzz::as_text(data + 1, size - 1);
  const auto ids = g_tok->encode(text, add_bos, parse_special);
  for (int32_t id : ids)
    if (id < 0 || id >= g_tok->n_vocab()) cokv_fuzz::property_failed("encode gave an id outside the vocabulary");
  const std::string back = g_tok->decode(ids, false);
  (void)g_tok->decode(ids, true);
  bool known = true;
  for (char c : text) known = known && g_byte_known[static_cast<unsigned char>(c)];
  if (known && valid_utf8(text)) {
    const std::string bos = add_bos && g_tok->bos() >= 0 ? g_tok->token_piece(g_tok->bos()) : std::string();
    if (back != bos + std::string(text)) cokv_fuzz::property_failed("valid UTF-8 did not decode back to itself");
  }
  return 0;
}
