// Test helper: writes a GGUF llama model as a Hugging Face folder, the way a checkpoint on the
// hub looks (so the HF loader can be checked against the GGUF loader on the same model):
//   config.json            from the GGUF config (older format: rope_theta at the top level)
//   model-0000{1,2}-of-00002.safetensors + model.safetensors.index.json
//                          every tensor dequantised and rounded to bf16 (as hub checkpoints are
//                          stored), under its HF name, Q/K rows permuted back from llama.cpp's
//                          adjacent RoPE pairs to the half-split layout
//   tokenizer.json         vocab, merges and added tokens (control -> special, user-defined ->
//                          not special) from tokenizer.ggml.*, the pre-tokenizer sequence the
//                          GGUF's tokenizer.ggml.pre stands for (smollm: Digits + ByteLevel)
//   tokenizer_config.json  bos/eos text, add_bos_token, chat_template
//   generation_config.json eos_token_id
// The folder is written once into `dir` (a stamp file records the source), via a temporary
// folder renamed into place so concurrent test processes never see half of it.
#pragma once
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

#include "core/error.h"
#include "model/config.h"
#include "model/dequant.h"
#include "model/gguf.h"

namespace hf_test {

namespace detail {

using json = nlohmann::json;
namespace fs = std::filesystem;

// HF row of GGUF row r inside a head of D rows: llama.cpp's permute maps HF (s, j) -> GGUF 2j + s.
inline int64_t hf_row_of(int64_t r, int64_t D) {
  const int64_t h = r / D, k = r % D, j = k / 2, s = k % 2;
  return h * D + s * (D / 2) + j;
}

struct Out {
  std::string hf_name, gguf_name;
  int64_t rows, cols;  // row-major [rows, cols]
  int64_t permute_heads_dim = 0;  // head dim D for Q/K rows, 0: none
};

inline std::vector<Out> tensor_plan(const cokv::GgufFile& f, const cokv::ModelConfig& c) {
  std::vector<Out> plan;
  auto add = [&](const std::string& hf, const std::string& gg, int64_t permute = 0) {
    const auto& t = f.tensor(gg);
    const int64_t cols = t.ne[0], rows = t.n_elements() / cols;
    plan.push_back({hf, gg, rows, cols, permute});
  };
  add("model.embed_tokens.weight", "token_embd.weight");
  for (int il = 0; il < c.n_layers; ++il) {
    const std::string h = "model.layers." + std::to_string(il) + ".", g = "blk." + std::to_string(il) + ".";
    add(h + "input_layernorm.weight", g + "attn_norm.weight");
    add(h + "self_attn.q_proj.weight", g + "attn_q.weight", c.head_dim);
    add(h + "self_attn.k_proj.weight", g + "attn_k.weight", c.head_dim);
    add(h + "self_attn.v_proj.weight", g + "attn_v.weight");
    add(h + "self_attn.o_proj.weight", g + "attn_output.weight");
    add(h + "post_attention_layernorm.weight", g + "ffn_norm.weight");
    add(h + "mlp.gate_proj.weight", g + "ffn_gate.weight");
    add(h + "mlp.up_proj.weight", g + "ffn_up.weight");
    add(h + "mlp.down_proj.weight", g + "ffn_down.weight");
  }
  add("model.norm.weight", "output_norm.weight");
  if (!c.tied_embeddings) add("lm_head.weight", "output.weight");
  return plan;
}

// One shard: header then bf16 data, streamed (no whole-file buffer).
inline void write_shard(const cokv::GgufFile& f, const std::vector<Out>& plan, size_t b, size_t e, const fs::path& path,
                        json& weight_map) {
  json h = json::object();
  uint64_t off = 0;
  for (size_t i = b; i < e; ++i) {
    const Out& o = plan[i];
    const uint64_t n = uint64_t(o.rows * o.cols) * 2;
    std::vector<int64_t> shape = o.rows == 1 ? std::vector<int64_t>{o.cols} : std::vector<int64_t>{o.rows, o.cols};
    h[o.hf_name] = {{"dtype", "BF16"}, {"shape", shape}, {"data_offsets", {off, off + n}}};
    weight_map[o.hf_name] = path.filename().string();
    off += n;
  }
  std::string text = h.dump();
  while (text.size() % 8) text += ' ';
  std::ofstream out(path, std::ios::binary);
  const uint64_t len = text.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out.write(text.data(), std::streamsize(text.size()));
  std::vector<float> row;
  std::vector<uint16_t> bf;
  for (size_t i = b; i < e; ++i) {
    const Out& o = plan[i];
    const auto& t = f.tensor(o.gguf_name);
    std::vector<float> all(size_t(o.rows * o.cols));
    cokv::dequantize_tensor_into(t, all.data(), f.path());
    bf.resize(all.size());
    for (int64_t r = 0; r < o.rows; ++r) {
      const int64_t dst = o.permute_heads_dim ? hf_row_of(r, o.permute_heads_dim) : r;
      for (int64_t k = 0; k < o.cols; ++k) bf[size_t(dst * o.cols + k)] = cokv::fp32_to_bf16(all[size_t(r * o.cols + k)]);
    }
    out.write(reinterpret_cast<const char*>(bf.data()), std::streamsize(bf.size() * 2));
  }
  if (!out) throw cokv::Error(path.string() + ": write failed");
}

inline json pre_tokenizer_for(const std::string& pre) {
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  if (pre == "smollm")
    return {{"type", "Sequence"},
            {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level}}};
  if (pre == "gpt2" || pre == "gpt-2") return byte_level;
  throw cokv::Error("hf_from_gguf: no tokenizer.json pre-tokenizer written for tokenizer.ggml.pre '" + pre + "'");
}

inline void write_tokenizer(const cokv::GgufFile& f, const fs::path& dir) {
  const auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  const auto types = f.get_int_array("tokenizer.ggml.token_type");
  json vocab = json::object(), added = json::array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    vocab[tokens[i]] = i;
    if (types[i] == 3 || types[i] == 4)
      added.push_back({{"id", i}, {"content", tokens[i]}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                       {"normalized", false}, {"special", types[i] == 3}});
  }
  const json tj = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
                   {"normalizer", nullptr}, {"pre_tokenizer", pre_tokenizer_for(f.get_string("tokenizer.ggml.pre"))},
                   {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}}},
                   {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
                   {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
                              {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
                              {"ignore_merges", false}, {"vocab", vocab}, {"merges", f.get_string_array("tokenizer.ggml.merges")}}}};
  std::ofstream(dir / "tokenizer.json") << tj.dump();
  const int64_t bos = f.get_int("tokenizer.ggml.bos_token_id"), eos = f.get_int("tokenizer.ggml.eos_token_id");
  const json tc = {{"bos_token", tokens[size_t(bos)]}, {"eos_token", tokens[size_t(eos)]},
                   {"add_bos_token", f.find_bool("tokenizer.ggml.add_bos_token").value_or(false)},
                   {"chat_template", f.get_string("tokenizer.chat_template")}, {"tokenizer_class", "GPT2Tokenizer"}};
  std::ofstream(dir / "tokenizer_config.json") << tc.dump(1);
  std::ofstream(dir / "generation_config.json") << json{{"bos_token_id", bos}, {"eos_token_id", eos}}.dump(1);
}

inline void write_config(const cokv::ModelConfig& c, const fs::path& dir) {
  const json cj = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", c.hidden},
                   {"intermediate_size", c.ffn}, {"num_hidden_layers", c.n_layers}, {"num_attention_heads", c.n_heads},
                   {"num_key_value_heads", c.n_kv_heads}, {"head_dim", c.head_dim}, {"hidden_act", "silu"},
                   {"max_position_embeddings", c.n_ctx_train}, {"rms_norm_eps", c.norm_eps}, {"rope_theta", c.rope_base},
                   {"rope_scaling", nullptr}, {"tie_word_embeddings", c.tied_embeddings}, {"vocab_size", c.n_vocab},
                   {"torch_dtype", "bfloat16"}, {"_name_or_path", c.name}};
  std::ofstream(dir / "config.json") << cj.dump(1);
}

}  // namespace detail

// Writes (or reuses) the folder; returns its path.
inline std::string write_hf_folder(const std::string& gguf_path, const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string stamp = gguf_path + " " + std::to_string(fs::file_size(gguf_path)) + " hf_from_gguf v1";
  const fs::path d(dir), stamp_file = d / "cokv-test-source.txt";
  if (fs::exists(stamp_file)) {
    std::ifstream s(stamp_file);
    std::string got((std::istreambuf_iterator<char>(s)), {});
    if (got == stamp) return dir;
  }
  fs::remove_all(d);  // stale (another source or writer version)
  const fs::path tmp = d.string() + ".tmp." + std::to_string(getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  const cokv::GgufFile f = cokv::GgufFile::open(gguf_path);
  const cokv::ModelConfig c = cokv::config_from_gguf(f);
  const auto plan = detail::tensor_plan(f, c);
  detail::json weight_map = detail::json::object();
  const size_t half = plan.size() / 2;
  detail::write_shard(f, plan, 0, half, tmp / "model-00001-of-00002.safetensors", weight_map);
  detail::write_shard(f, plan, half, plan.size(), tmp / "model-00002-of-00002.safetensors", weight_map);
  std::ofstream(tmp / "model.safetensors.index.json") << detail::json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump(1);
  detail::write_config(c, tmp);
  detail::write_tokenizer(f, tmp);
  std::ofstream(tmp / "cokv-test-source.txt") << stamp;
  std::error_code ec;
  fs::rename(tmp, d, ec);
  if (ec) fs::remove_all(tmp);  // another process put its copy in place first
  return dir;
}

}  // namespace hf_test
