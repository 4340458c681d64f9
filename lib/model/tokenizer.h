// Byte-level BPE tokenizer built from GGUF metadata (tokenizer.ggml.*), with the
// pre-tokenizer the file names (tokenizer.ggml.pre: smollm, llama-bpe, ...), special tokens
// recognised in text, and decoding back to UTF-8. Must match llama.cpp token for token
// (tests/data/reference/tokens.json holds llama.cpp's ids for the default model).
//
// What it mirrors from llama.cpp (src/llama-vocab.cpp, src/unicode.cpp):
// - special tokens (control, user-defined, unknown) are cut out of the text first, longest
//   token text first, each one at every occurrence; with parse_special=false only
//   user-defined tokens are (control tokens in text are then ordinary text);
// - each remaining text fragment goes through the pre-tokenizer regexes in sequence, then
//   GPT-2 byte->unicode mapping, then BPE merges by rank (lowest first, leftmost on ties);
// - invalid UTF-8 bytes are tokenized as U+FFFD (as llama.cpp does), so such text does not
//   round-trip; nor does a byte whose own token the vocabulary lacks: llama.cpp drops it
//   (SmolLM2 has no token for 0x04 0x06 0x13 0x14 0x16 0x1d; found by fuzz/fuzz_tokenizer);
// - decode concatenates token pieces without llama.cpp's optional "clean spaces" pass.
// Only tokenizer.ggml.model == "gpt2" (byte-level BPE) is supported.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/gguf.h"

namespace cokv {

// Token types as GGUF stores them (tokenizer.ggml.token_type; llama.cpp llama_token_type).
enum class TokenType : int32_t {
  Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

// Everything the tokenizer is built from, as plain data: from_gguf() fills it from the
// tokenizer.ggml.* keys, model/hf_tokenizer.h from a folder's tokenizer.json (+ config
// files); tests build small ones by hand.
struct TokenizerSpec {
  std::string source = "<tokenizer spec>";  // file name for error messages
  std::string model = "gpt2";               // tokenizer.ggml.model; "metaspace-bpe": see below
  std::string pre;                          // tokenizer.ggml.pre ("" = llama.cpp "default")
  std::vector<std::string> tokens;          // tokenizer.ggml.tokens (byte-level strings)
  std::vector<int32_t> token_types;         // tokenizer.ggml.token_type (empty = all normal)
  std::vector<std::string> merges;          // tokenizer.ggml.merges ("left right"), rank = index
  std::optional<int64_t> bos_id, eos_id, eot_id, eom_id;  // tokenizer.ggml.*_token_id
  std::optional<bool> add_bos;              // tokenizer.ggml.add_bos_token
  // tokenizer.json only: the pre-tokenizer as its split regexes in order (replacing the list
  // `pre` names when non-empty), model.ignore_merges, and extra end-of-generation ids
  // (generation_config.json eos_token_id).
  std::vector<std::string> pre_regexes;
  bool ignore_merges = false;
  std::vector<int64_t> extra_stop_ids;
  // llama.cpp's rule (GGUF): tokens whose text is an end-of-generation marker (<|im_end|>,
  // <|eot_id|>, ...) are forced to control and are stops. tokenizer.json says itself which
  // tokens are special and generation_config.json which ids stop, so it turns this off.
  bool eog_by_text = true;
  // BOS/EOS when the spec has none: llama.cpp's gpt2 default (11) for GGUF, none (-1) for
  // tokenizer.json.
  int32_t missing_special_id = 11;
  // model "metaspace-bpe" (tokenizer.json BPE over characters, SentencePiece style: spaces are
  // "▁", no regex splits). metaspace_prepend says when "▁" is put before a raw text fragment:
  // "normalizer" (always: a Prepend normalizer), "always" / "first" (a Metaspace pre-tokenizer:
  // unless the fragment starts with "▁"; "first": only the fragment at the start of the
  // input) or "never". metaspace_split: words split before each "▁". byte_fallback: characters
  // outside the vocab become their UTF-8 bytes' <0xXX> tokens (else unk_id).
  std::string metaspace_prepend = "normalizer";
  bool metaspace_split = false;
  bool byte_fallback = false;
  std::optional<int64_t> unk_id;
};
// Reads the tokenizer.ggml.* keys (throws Error naming the file and key if one is missing or
// of the wrong type).
TokenizerSpec tokenizer_spec_from_gguf(const GgufFile& f);

class Tokenizer {
 public:
  static Tokenizer from_gguf(const GgufFile& f);  // from_spec(tokenizer_spec_from_gguf(f))
  static Tokenizer from_spec(const TokenizerSpec& spec);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // add_bos: prepend BOS (the model's tokenizer.ggml.add_bos_token decides the default
  // through add_bos_default()). parse_special: control tokens written in the text (e.g.
  // "<|im_start|>") become their ids, as llama.cpp does with parse_special=true.
  // Thread-safe (the per-word BPE cache is guarded).
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = true) const;
  std::vector<int32_t> encode(std::string_view text) const;  // add_bos_default(), parse special
  // Decodes to UTF-8; skip_special drops control (and unknown) tokens (BOS, <|im_end|>, ...).
  // Throws Error on an id outside [0, n_vocab).
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  std::string token_piece(int32_t id) const;  // decoded bytes of one token (specials as text)
  const std::string& token_text(int32_t id) const;  // the vocab string (byte-level form)

  int n_vocab() const;
  int32_t bos() const;  // -1 if the model has none
  int32_t eos() const;  // -1 if the model has none
  bool add_bos_default() const;
  bool is_control(int32_t id) const;
  TokenType token_type(int32_t id) const;
  // End-of-generation tokens, sorted: EOS, tokenizer.ggml.eot/eom ids, generation_config.json's
  // eos ids, and (GGUF: eog_by_text) the EOT-like tokens present in the vocab (<|im_end|>, <|eot_id|>, <|end_of_text|>, <|endoftext|>,
  // <|eom_id|>, <|end|>, <end_of_turn>, ...). llama.cpp's EOG set also contains FIM tokens
  // (<reponame>, <|file_sep|>...); those are not stops here.
  const std::vector<int32_t>& stop_tokens() const;
  bool is_stop(int32_t id) const;
  int32_t find_token(std::string_view text) const;  // -1 if absent
  const std::string& pre_name() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Chat templates as code paths (no Jinja): chosen from tokenizer.chat_template.
enum class ChatStyle { None, ChatML, Llama3 };
struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};
struct ChatTemplate {
  ChatStyle style = ChatStyle::None;
  // ChatML templates that inject a system turn when the first message is not a system one
  // (SmolLM2: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"),
  // extracted from the template text; empty when the template injects none.
  std::string default_system;
  // Renders the conversation as the model's Jinja template would; add_generation_prompt
  // appends the assistant header.
  //   ChatML: [<|im_start|>system\n{default_system}<|im_end|>\n] then per message
  //           <|im_start|>{role}\n{content}<|im_end|>\n; prompt <|im_start|>assistant\n
  //   Llama3: per message <|start_header_id|>{role}<|end_header_id|>\n\n{trim(content)}<|eot_id|>;
  //           prompt <|start_header_id|>assistant<|end_header_id|>\n\n. The template's leading
  //           bos_token is NOT written (as llama.cpp's built-in llama3 template): encode with
  //           add_bos_default() (true for Llama-3) to get it.
  //   None:   the contents joined by "\n\n" (no markers), for base models.
  std::string apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt = true) const;
  std::string apply_user(const std::string& user) const { return apply({{"user", user}}, true); }
};
ChatTemplate chat_template_from_string(const std::string& jinja);
ChatTemplate chat_template_from_gguf(const GgufFile& f);  // None if the key is absent

}  // namespace cokv
