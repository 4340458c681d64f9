// The tokenizer and chat template of a Hugging Face folder:
//   tokenizer.json         model (BPE: vocab, merges, ignore_merges, byte_fallback), added_tokens
//                          (special -> control, others user-defined), normalizer, pre_tokenizer
//                          (Sequence of Split regexes, ByteLevel, Digits; or Metaspace), post_processor
//                          (TemplateProcessing: whether BOS is prepended)
//   tokenizer_config.json  bos_token / eos_token, add_bos_token, chat_template
//   generation_config.json eos_token_id (int or list): extra end-of-generation ids
//   chat_template.jinja    the chat template, where newer transformers save it
// Two tokenizer families are understood: byte-level BPE (GPT-2 byte mapping: Llama-3, Qwen2,
// SmolLM2) and SentencePiece-style BPE over characters with "▁" for spaces and <0xXX> byte
// fallback (Llama-2 / Mistral vocabularies; normalizer Prepend+Replace or a Metaspace
// pre-tokenizer). Anything else (WordPiece, Unigram, other normalizers, lstrip/rstrip added
// tokens, a template that appends EOS) is refused naming the field.
//
// One deviation, shared with llama.cpp: Qwen2's NFC normalizer is not applied (text already in
// NFC, which almost all text is, tokenizes identically).
#pragma once
#include <string>

#include "model/tokenizer.h"

namespace cokv {

TokenizerSpec tokenizer_spec_from_hf(const std::string& dir);
ChatTemplate chat_template_from_hf(const std::string& dir);  // None when the folder has no template

}  // namespace cokv
