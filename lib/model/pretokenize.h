// Pre-tokenizer of byte-level BPE: the regex splits llama.cpp applies before BPE, chosen by
// tokenizer.ggml.pre, plus the GPT-2 byte<->unicode mapping and UTF-8 helpers.
//
// llama.cpp (src/llama-vocab.cpp, llm_tokenizer_bpe) keeps a list of regexes per pre-tokenizer
// type and applies them in sequence: each regex splits every piece left by the previous one,
// keeping both the matches and the unmatched gaps as pieces, and a piece's end is the end of
// the subject (lookaheads do not see past it). We do the same with PCRE2 (UTF + UCP).
// \s is rewritten to the Unicode White_Space set that llama.cpp's tables use (PCRE2's \s
// would miss U+0085), and the GPT-2 expression gets llama.cpp's implicit trailing "|\s+"
// (its hand-written matcher, unicode_regex_split_custom_gpt2, takes leftover whitespace).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cokv {

class PreTokenizer {
 public:
  // name: tokenizer.ggml.pre ("" or "default" = llama.cpp's default list). Throws Error
  // (naming `where`) for an unknown name.
  PreTokenizer(const std::string& name, const std::string& where);
  // An explicit list of split regexes, applied in order (a tokenizer.json pre-tokenizer
  // sequence); `name` is for messages. Throws Error (naming `where`) if one does not compile.
  PreTokenizer(const std::vector<std::string>& regexes, bool ignore_merges, const std::string& name,
               const std::string& where);
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Splits valid UTF-8 text into words, appended to out as [begin, end) byte offsets.
  void split(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& out) const;
  // llama.cpp's ignore_merges (Llama-3 family): a word found whole in the vocab is one token.
  bool ignore_merges() const;
  const std::string& name() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Names of the pre-tokenizers this build knows (for messages and tests).
std::vector<std::string> known_pretokenizers();
// The GPT-2 split (tokenizer.json's ByteLevel pre-tokenizer with use_regex), as llama.cpp's
// and Hugging Face's tokenizers apply it.
const char* gpt2_split_regex();

// GPT-2 byte-level mapping: byte b <-> one code point, as UTF-8 (printable bytes map to
// themselves, the rest to U+0100 + n).
const std::array<std::string, 256>& byte_to_unicode();
// Inverse of byte_to_unicode for one code point; -1 if cp is not an image of a byte.
int unicode_to_byte(uint32_t cp);

// llama.cpp's lenient UTF-8 decoder (unicode_cpts_from_utf8): an invalid lead or
// continuation byte yields U+FFFD and consumes one byte. Returns the text re-encoded, so
// invalid input becomes valid UTF-8 with U+FFFD where llama.cpp puts it. Fast path: returns
// false and leaves `fixed` untouched when text is already valid.
bool sanitize_utf8(std::string_view text, std::string& fixed);
void append_utf8(uint32_t cp, std::string& out);
// Decodes one code point at text[pos] (valid UTF-8 assumed); advances pos.
uint32_t next_codepoint(std::string_view text, size_t& pos);

}  // namespace cokv
