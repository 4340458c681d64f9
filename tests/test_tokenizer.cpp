// Tokenizer and chat-template tests. Parity data: tests/data/reference/{tokens,chat}.json,
// made by llama.cpp (llama-cpp-python) and jinja2 from the default model; see the README there.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/paths.h"
#include "model/gguf.h"
#include "model/pretokenize.h"
#include "model/tokenizer.h"

using namespace cokv;
using nlohmann::json;

namespace {

json load_json(const std::string& name) {
  const std::string path = std::string(COKV_SOURCE_DIR) + "/tests/data/reference/" + name;
  std::ifstream in(path);
  REQUIRE(in.good());
  return json::parse(in);
}

const GgufFile& model_file() {
  static const GgufFile f = [] {
    const std::string path = default_model_path();
    INFO("default model missing (run scripts/setup): " << path);
    REQUIRE(std::filesystem::exists(path));
    return GgufFile::open(path);
  }();
  return f;
}

const Tokenizer& model_tokenizer() {
  static const Tokenizer t = Tokenizer::from_gguf(model_file());
  return t;
}

std::string case_bytes(const json& c) {
  if (c.contains("text")) return c["text"].get<std::string>();
  const std::string hex = c["hex"].get<std::string>();
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

std::string show(const std::string& s) { return json(s).dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

TEST_CASE("reference data is about the default model", "[tokenizer]") {
  const json ref = load_json("tokens.json");
  const Tokenizer& tok = model_tokenizer();
  CHECK(ref["tokenizer_pre"] == tok.pre_name());
  CHECK(ref["bos"].get<int>() == tok.bos());
  CHECK(ref["eos"].get<int>() == tok.eos());
  CHECK(ref["add_bos_token"].get<bool>() == tok.add_bos_default());
  CHECK(ref["cases"].size() >= 60);
}

TEST_CASE("encode matches llama.cpp token for token", "[tokenizer]") {
  const json ref = load_json("tokens.json");
  const Tokenizer& tok = model_tokenizer();
  REQUIRE(ref["add_special"].get<bool>());  // llama.cpp add_special = our add_bos_default()
  for (const auto& c : ref["cases"]) {
    const std::string s = case_bytes(c);
    INFO(c["name"].get<std::string>() << ": " << show(s));
    CHECK(tok.encode(s) == c["ids"].get<std::vector<int32_t>>());
    const auto ids_ns = c.value("ids_no_special", c["ids"]).get<std::vector<int32_t>>();
    CHECK(tok.encode(s, tok.add_bos_default(), /*parse_special=*/false) == ids_ns);
  }
}

TEST_CASE("other pre-tokenizers match llama.cpp on the same vocab", "[tokenizer]") {
  const json ref = load_json("tokens.json");
  REQUIRE(ref.contains("by_pre"));
  std::map<std::string, std::string> texts;
  for (const auto& c : ref["cases"])
    if (c.contains("text")) texts[c["name"]] = c["text"];
  for (const auto& [pre, cases] : ref["by_pre"]["ids"].items()) {
    TokenizerSpec spec = tokenizer_spec_from_gguf(model_file());
    spec.pre = pre;
    const Tokenizer tok = Tokenizer::from_spec(spec);
    for (const auto& [name, ids] : cases.items()) {
      INFO("pre " << pre << ", case " << name << ": " << show(texts.at(name)));
      CHECK(tok.encode(texts.at(name), false, true) == ids.get<std::vector<int32_t>>());
    }
  }
}

TEST_CASE("decode(encode(s)) == s wherever llama.cpp round-trips", "[tokenizer]") {
  const json ref = load_json("tokens.json");
  const Tokenizer& tok = model_tokenizer();
  int n_roundtrip = 0;
  for (const auto& c : ref["cases"]) {
    const std::string s = case_bytes(c);
    INFO(c["name"].get<std::string>() << ": " << show(s));
    const std::string back = tok.decode(tok.encode(s));
    // llama.cpp reads invalid UTF-8 bytes as U+FFFD: those (and only those) do not round-trip.
    CHECK((back == s) == c["llama_roundtrip"].get<bool>());
    if (back == s) ++n_roundtrip;
    if (!c.contains("text")) {
      std::string fixed;
      REQUIRE(sanitize_utf8(s, fixed));
      CHECK(back == fixed);
      CHECK(back.find("\xEF\xBF\xBD") != std::string::npos);
    }
  }
  CHECK(n_roundtrip >= 60);
}

TEST_CASE("special tokens in text: parsed or left as text", "[tokenizer]") {
  const Tokenizer& tok = model_tokenizer();
  const int32_t im_start = tok.find_token("<|im_start|>");
  const int32_t im_end = tok.find_token("<|im_end|>");
  REQUIRE(im_start >= 0);
  REQUIRE(im_end >= 0);
  CHECK(tok.is_control(im_start));
  const std::string s = "<|im_start|>user\nHi<|im_end|>\n";
  const auto on = tok.encode(s, false, true);
  const auto off = tok.encode(s, false, false);
  REQUIRE(on.size() >= 4);
  CHECK(on.front() == im_start);
  CHECK(std::count(on.begin(), on.end(), im_end) == 1);
  CHECK(std::count(off.begin(), off.end(), im_start) == 0);
  CHECK(std::count(off.begin(), off.end(), im_end) == 0);
  CHECK(off.size() > on.size());  // the markers spelled out as ordinary pieces
  CHECK(tok.decode(on) == s);
  CHECK(tok.decode(off) == s);
  CHECK(tok.decode(on, /*skip_special=*/true) == "user\nHi\n");
  CHECK(tok.decode(off, true) == s);  // nothing special to skip
  CHECK(tok.token_piece(im_end) == "<|im_end|>");
  // add_bos prepends BOS even when the model does not ask for it
  const auto with_bos = tok.encode("Hi", true);
  CHECK(with_bos.front() == tok.bos());
  CHECK(std::vector<int32_t>(with_bos.begin() + 1, with_bos.end()) == tok.encode("Hi", false));
  CHECK_THROWS_AS(tok.decode({tok.n_vocab()}), Error);
  CHECK_THROWS_AS(tok.decode({-1}), Error);
}

TEST_CASE("stop tokens of the default model", "[tokenizer]") {
  const Tokenizer& tok = model_tokenizer();
  const auto& stops = tok.stop_tokens();
  const int32_t im_end = tok.find_token("<|im_end|>");
  const int32_t eot = tok.find_token("<|endoftext|>");
  CHECK(std::count(stops.begin(), stops.end(), tok.eos()) == 1);
  CHECK(std::count(stops.begin(), stops.end(), im_end) == 1);
  CHECK(std::count(stops.begin(), stops.end(), eot) == 1);
  CHECK(tok.is_stop(im_end));
  CHECK_FALSE(tok.is_stop(tok.find_token("<|im_start|>")));
  CHECK_FALSE(tok.is_stop(tok.encode("Hello", false)[0]));
  CHECK(std::is_sorted(stops.begin(), stops.end()));
}

TEST_CASE("BPE applies merges by rank, leftmost first on ties", "[tokenizer]") {
  TokenizerSpec spec;
  spec.pre = "gpt2";
  spec.tokens = {"a", "b", "c", "ab", "bc", "abc", "aa", "<eos>"};
  spec.token_types = {1, 1, 1, 1, 1, 1, 1, 3};
  spec.eos_id = 7;
  spec.bos_id = 7;
  spec.merges = {"a b", "b c", "ab c"};
  const Tokenizer t1 = Tokenizer::from_spec(spec);
  CHECK(t1.encode("abc", false) == std::vector<int32_t>{5});     // a b -> ab, ab c -> abc
  CHECK(t1.encode("bc", false) == std::vector<int32_t>{4});
  spec.merges = {"b c", "a b", "ab c"};
  const Tokenizer t2 = Tokenizer::from_spec(spec);
  CHECK(t2.encode("abc", false) == std::vector<int32_t>{0, 4});  // b c first; no "a bc" merge
  spec.merges = {"a a"};
  const Tokenizer t3 = Tokenizer::from_spec(spec);
  CHECK(t3.encode("aaa", false) == std::vector<int32_t>{6, 0});  // leftmost pair merges first
  CHECK(t3.encode("aaaa", false) == std::vector<int32_t>{6, 6});
  CHECK(t3.decode(t3.encode("aaa<eos>a")) == "aaa<eos>a");
  CHECK(t3.encode("a<eos>", false) == std::vector<int32_t>{0, 7});
  // a character outside the vocab has no byte token here: dropped, as llama.cpp drops it
  CHECK(t3.encode("az", false) == std::vector<int32_t>{0});
}

TEST_CASE("tokenizer input errors name the field", "[tokenizer]") {
  TokenizerSpec spec;
  spec.source = "tiny.gguf";
  spec.tokens = {"a", "b"};
  spec.pre = "no-such-pre";
  try {
    (void)Tokenizer::from_spec(spec);
    FAIL("unknown pre-tokenizer accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("tiny.gguf: tokenizer.ggml.pre") == 0);
    CHECK(std::string(e.what()).find("smollm") != std::string::npos);
  }
  spec.pre = "gpt2";
  spec.tokens = {"a", "a"};
  CHECK_THROWS_WITH(Tokenizer::from_spec(spec), Catch::Contains("unique token strings"));
  spec.tokens = {"a", "b"};
  spec.model = "llama";
  CHECK_THROWS_WITH(Tokenizer::from_spec(spec), Catch::Contains("tokenizer.ggml.model"));
  spec.model = "gpt2";
  spec.bos_id = 5;
  CHECK_THROWS_WITH(Tokenizer::from_spec(spec), Catch::Contains("bos_token_id"));
}

TEST_CASE("ChatML rendering equals the model's Jinja template", "[tokenizer]") {
  const json ref = load_json("chat.json");
  const ChatTemplate tmpl = chat_template_from_gguf(model_file());
  REQUIRE(tmpl.style == ChatStyle::ChatML);
  CHECK(tmpl.default_system == "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  CHECK(chat_template_from_string(ref["chat_template"].get<std::string>()).default_system == tmpl.default_system);
  for (const auto& c : ref["conversations"]) {
    std::vector<ChatMessage> msgs;
    for (const auto& m : c["messages"]) msgs.push_back({m["role"], m["content"]});
    INFO(c["name"].get<std::string>() << " add_generation_prompt=" << c["add_generation_prompt"]);
    CHECK(tmpl.apply(msgs, c["add_generation_prompt"].get<bool>()) == c["rendered"].get<std::string>());
  }
  CHECK(tmpl.apply_user("What is the capital of France?") ==
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n");
}

TEST_CASE("ChatML without an injected system turn; escaped newlines in the template", "[tokenizer]") {
  // Generic ChatML (no default system message)
  const ChatTemplate plain = chat_template_from_string(
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
      "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}");
  CHECK(plain.style == ChatStyle::ChatML);
  CHECK(plain.default_system.empty());
  CHECK(plain.apply_user("hi") == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  // Qwen-style default written with an escaped newline
  const ChatTemplate qwen = chat_template_from_string(
      "{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba "
      "Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}");
  CHECK(qwen.default_system == "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  CHECK(qwen.apply({{"system", "S"}, {"user", "U"}}, false) ==
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n");
}

TEST_CASE("Llama-3 rendering", "[tokenizer]") {
  // Meta-Llama-3-8B-Instruct's template
  const std::string jinja =
      "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
      "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
      "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
      "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
  const ChatTemplate t = chat_template_from_string(jinja);
  REQUIRE(t.style == ChatStyle::Llama3);
  const std::vector<ChatMessage> msgs = {{"system", "You are a pirate."}, {"user", "  Where is the treasure?\n"}};
  // hand-written from the template (bos_token left to the tokenizer's add_bos)
  CHECK(t.apply(msgs, true) ==
        "<|start_header_id|>system<|end_header_id|>\n\nYou are a pirate.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhere is the treasure?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n");
  CHECK(t.apply(msgs, false).find("assistant") == std::string::npos);
  CHECK(chat_template_from_string("{{ messages }}").style == ChatStyle::None);
  CHECK(ChatTemplate{}.apply({{"system", "a"}, {"user", "b"}}) == "a\n\nb");
}

TEST_CASE("encoding a long text is fast", "[tokenizer]") {
  const Tokenizer& tok = model_tokenizer();
  const json ref = load_json("tokens.json");
  std::string text;
  for (const auto& c : ref["cases"])
    if (c.contains("text")) text += c["text"].get<std::string>() + "\n";
  const std::string base = text;
  while (text.size() < 120000) text += base;
  const auto t0 = std::chrono::steady_clock::now();
  const auto ids = tok.encode(text);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(ids.size() << " tokens in " << s << " s");
  CHECK(ids.size() > 30000);
  CHECK(s < 1.0);
  CHECK(tok.decode(ids) == text);
}
