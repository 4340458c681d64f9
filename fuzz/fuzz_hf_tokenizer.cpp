// Fuzz target: a Hugging Face folder's tokenizer files (lib/model/hf_tokenizer.*) as the model
// loader reads them, then the tokenizer built from them on fixed texts. The input is
// tokenizer.json, optionally followed by a NUL byte and tokenizer_config.json, and another NUL
// and generation_config.json (a NUL cannot occur in valid JSON text, so it splits cleanly;
// a file left out is absent from the folder). Checked: an error is a cokv::Error naming one of
// the folder's files; a tokenizer that builds encodes to ids in range and decodes its own ids.
// Seeds: the tiny checkpoints' tokenizer files (byte-level and SentencePiece-style BPE), whole
// and with the vocabulary cut to its first 128 ids (fuzz/make_seeds.cpp).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "fuzz_common.h"
#include "model/hf_tokenizer.h"
#include "model/tokenizer.h"

namespace {

const char* const kFiles[] = {"tokenizer.json", "tokenizer_config.json", "generation_config.json"};

// Splits the input at NUL bytes into the folder's files.
void write_folder(std::string_view in) {
  for (const char* name : kFiles) {
    if (in.data() == nullptr) {
      cokv_fuzz::remove_in_dir(name);
      continue;
    }
    const size_t nul = in.find('\0');
    cokv_fuzz::write_in_dir(name, in.substr(0, nul));
    in = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  write_folder(size ? cokv_fuzz::as_text(data, size) : std::string_view("", 0));
  const std::string& dir = cokv_fuzz::input_dir();
  std::optional<cokv::Tokenizer> tok;
  try {
    tok = cokv::Tokenizer::from_spec(cokv::tokenizer_spec_from_hf(dir));
    (void)cokv::chat_template_from_hf(dir);
  } catch (const cokv::Error& e) {
    if (!cokv_fuzz::names_file(e.what(), dir)) cokv_fuzz::property_failed("an error that does not name the folder's file");
    return 0;
  }
  for (const char* text : {"Hello, world! 123 <|im_start|>user\nCaf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87  \t\n", "", " a"}) {
    for (const bool bos : {false, true}) {
      std::vector<int32_t> ids;
      try {
        ids = tok->encode(text, bos, true);
      } catch (const cokv::Error&) {  // a pre-tokenizer regex over PCRE2's match limit
        continue;
      }
      for (int32_t id : ids)
        if (id < 0 || id >= tok->n_vocab()) cokv_fuzz::property_failed("an id outside the vocabulary");
      (void)tok->decode(ids);
      (void)tok->decode(ids, true);
    }
  }
  return 0;
}
