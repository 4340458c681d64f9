// Byte-level BPE tokenizer built from GGUF metadata (tokenizer.ggml.*), with the
// pre-tokenizer the file names (tokenizer.ggml.pre: smollm, llama-bpe, ...), special tokens
// recognised in text, and decoding back to UTF-8. Must match llama.cpp token for token.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/gguf.h"

namespace cokv {

class Tokenizer {
 public:
  static Tokenizer from_gguf(const GgufFile& f);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // add_bos: prepend BOS (the model's tokenizer.ggml.add_bos_token decides the default
  // through add_bos_default()). parse_special: control tokens written in the text (e.g.
  // "<|im_start|>") become their ids, as llama.cpp does with parse_special=true.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = true) const;
  std::vector<int32_t> encode(std::string_view text) const;  // add_bos_default(), parse special
  // Decodes to UTF-8; skip_special drops control tokens (BOS, <|im_end|>, ...).
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  std::string token_piece(int32_t id) const;  // decoded bytes of one token

  int n_vocab() const;
  int32_t bos() const;
  int32_t eos() const;
  bool add_bos_default() const;
  bool is_control(int32_t id) const;
  // End-of-generation tokens: EOS plus EOT-like control tokens (<|im_end|>, <|eot_id|>, ...).
  const std::vector<int32_t>& stop_tokens() const;
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
  std::string default_system;  // ChatML templates that inject a system turn when none is given
  // Renders the conversation; add_generation_prompt appends the assistant header.
  std::string apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt = true) const;
  std::string apply_user(const std::string& user) const { return apply({{"user", user}}, true); }
};
ChatTemplate chat_template_from_gguf(const GgufFile& f);

}  // namespace cokv
