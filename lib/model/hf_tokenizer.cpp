// tokenizer.json (+ tokenizer_config.json, generation_config.json, chat_template.jinja) ->
// TokenizerSpec / ChatTemplate. See hf_tokenizer.h for what is understood.
#include "model/hf_tokenizer.h"

#include <cctype>
#include <filesystem>
#include <map>
#include <unordered_set>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_bytes.h"
#include "model/pretokenize.h"

namespace cokv {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

const char* const kMetaspace = "\xE2\x96\x81";  // U+2581 "▁"

json read_json(const std::string& path) {
  try {
    return json::parse(read_file_bytes(path));
  } catch (const json::exception& e) {
    fail(path, "file", "valid JSON", e.what());
  }
}

// An optional JSON file of the folder; null when absent.
json read_optional(const std::string& dir, const char* name) {
  const fs::path p = fs::path(dir) / name;
  return fs::exists(p) ? read_json(p.string()) : json();
}

std::string type_of(const json& j) { return j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : ""; }

// Escapes a literal for PCRE2 (Split with a String pattern).
std::string regex_quote(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// What the normalizer / pre-tokenizer / decoder pieces say about the tokenizer family.
struct Shape {
  std::vector<std::string> regexes;  // byte-level splits in order
  bool byte_level = false;           // a ByteLevel pre-tokenizer: GPT-2 byte mapping
  bool metaspace = false;            // "▁" for spaces (normalizer Replace or Metaspace)
  std::string prepend = "never";
  bool split = false;
};

void read_pre(const json& p, const std::string& where, const std::string& field, Shape& s) {
  const std::string t = type_of(p);
  if (t == "Sequence") {
    if (!p.contains("pretokenizers") || !p["pretokenizers"].is_array()) fail(where, field + ".pretokenizers", "an array", "missing");
    for (size_t i = 0; i < p["pretokenizers"].size(); ++i)
      read_pre(p["pretokenizers"][i], where, field + ".pretokenizers[" + std::to_string(i) + "]", s);
  } else if (t == "Split") {
    const json& pat = p.value("pattern", json());
    std::string re;
    if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string()) re = pat["Regex"].get<std::string>();
    else if (pat.is_object() && pat.contains("String") && pat["String"].is_string()) re = regex_quote(pat["String"].get<std::string>());
    else fail(where, field + ".pattern", "{\"Regex\": ...} or {\"String\": ...}", pat.dump());
    if (p.value("behavior", std::string()) != "Isolated")
      fail(where, field + ".behavior", "\"Isolated\" (matches and gaps become pieces)", p.value("behavior", json()).dump());
    if (p.value("invert", false)) fail(where, field + ".invert", "false", "true");
    s.regexes.push_back(re);
  } else if (t == "ByteLevel") {
    if (p.value("add_prefix_space", false)) fail(where, field + ".add_prefix_space", "false", "true");
    s.byte_level = true;
    if (p.value("use_regex", true)) s.regexes.push_back(gpt2_split_regex());
  } else if (t == "Digits") {
    s.regexes.push_back(p.value("individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
  } else if (t == "Metaspace") {
    if (p.value("replacement", std::string(kMetaspace)) != kMetaspace)
      fail(where, field + ".replacement", "\"\u2581\"", p.value("replacement", json()).dump());
    s.metaspace = true;
    s.prepend = p.value("prepend_scheme", std::string(p.value("add_prefix_space", true) ? "always" : "never"));
    if (s.prepend != "always" && s.prepend != "first" && s.prepend != "never")
      fail(where, field + ".prepend_scheme", "always, first or never", "\"" + s.prepend + "\"");
    s.split = p.value("split", true);
  } else {
    fail(where, field + ".type", "Sequence, Split, ByteLevel, Digits or Metaspace", p.is_null() ? "null" : "\"" + t + "\"");
  }
}

// null, NFC (not applied: see hf_tokenizer.h), or the SentencePiece pair Prepend("▁") +
// Replace(" " -> "▁").
void read_normalizer(const json& n, const std::string& where, Shape& s) {
  if (n.is_null()) return;
  const std::string t = type_of(n);
  if (t == "NFC") return;
  if (t == "Sequence" && n.contains("normalizers") && n["normalizers"].is_array()) {
    bool prepend = false, replace = false;
    for (const auto& e : n["normalizers"]) {
      const std::string et = type_of(e);
      if (et == "NFC") continue;
      if (et == "Prepend" && e.value("prepend", std::string()) == kMetaspace) prepend = true;
      else if (et == "Replace" && e.value("pattern", json()).value("String", std::string()) == " " &&
               e.value("content", std::string()) == kMetaspace)
        replace = true;
      else fail(where, "normalizer.normalizers", "NFC, Prepend(\"\u2581\") and Replace(\" \" -> \"\u2581\")", e.dump());
    }
    if (!replace) fail(where, "normalizer", "Replace(\" \" -> \"\u2581\") beside Prepend", n.dump());
    s.metaspace = true;
    s.prepend = prepend ? "normalizer" : "never";
    s.split = false;
    return;
  }
  fail(where, "normalizer.type", "null, NFC or a SentencePiece Prepend + Replace sequence", "\"" + t + "\"");
}

// BOS from the post-processor: TemplateProcessing's single template starting with a special
// token. A special token after the sequence (an appended EOS) is refused: cokv never appends.
std::optional<std::string> template_bos(const json& pp, const std::string& where) {
  const std::string t = type_of(pp);
  if (t == "Sequence" && pp.contains("processors") && pp["processors"].is_array()) {
    std::optional<std::string> bos;
    for (const auto& p : pp["processors"])
      if (auto b = template_bos(p, where)) bos = b;
    return bos;
  }
  if (t != "TemplateProcessing") return std::nullopt;
  const json& single = pp.value("single", json::array());
  std::optional<std::string> bos;
  bool seen_sequence = false;
  for (const auto& piece : single) {
    if (piece.contains("Sequence")) { seen_sequence = true; continue; }
    if (!piece.contains("SpecialToken")) continue;
    if (seen_sequence)
      fail(where, "post_processor.single", "no special token after the text (cokv does not append EOS)", piece.dump());
    bos = piece["SpecialToken"].value("id", std::string());
  }
  return bos;
}

// A token written as a string or as {"content": "..."} (tokenizer_config.json); nullopt if null.
std::optional<std::string> token_text(const json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return std::nullopt;
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  fail(where, key, "a token string or {\"content\": ...}", v.dump());
}

std::vector<int64_t> id_list(const json& j, const char* key, const std::string& where) {
  std::vector<int64_t> out;
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return out;
  const json& v = j[key];
  if (v.is_number_integer()) return {v.get<int64_t>()};
  if (v.is_array())
    for (const auto& e : v) {
      if (!e.is_number_integer()) fail(where, key, "an id or a list of ids", v.dump());
      out.push_back(e.get<int64_t>());
    }
  else fail(where, key, "an id or a list of ids", v.dump());
  return out;
}

// vocab + added_tokens -> dense token list with types.
void read_vocab(const json& tj, const std::string& where, bool metaspace, TokenizerSpec& spec) {
  const json& model = tj["model"];
  if (!model.contains("vocab") || !model["vocab"].is_object()) fail(where, "model.vocab", "an object from tokens to ids", "missing");
  std::map<int64_t, std::pair<std::string, int32_t>> by_id;  // id -> (text, type)
  auto put = [&](const std::string& text, int64_t id, int32_t type, const std::string& field) {
    if (id < 0 || id > (int64_t{1} << 24)) fail(where, field, "an id in [0, 2^24)", std::to_string(id));
    auto [it, fresh] = by_id.emplace(id, std::pair{text, type});
    if (!fresh) {
      if (it->second.first != text)
        fail(where, field, "one token per id", "id " + std::to_string(id) + " for '" + it->second.first + "' and '" + text + "'");
      it->second.second = type;  // an added token's type wins over the vocab's
    }
  };
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
    if (!it.value().is_number_integer()) fail(where, "model.vocab['" + it.key() + "']", "an integer id", it.value().dump());
    const std::string& t = it.key();
    const bool byte_token = metaspace && t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' &&
                            std::isxdigit(static_cast<unsigned char>(t[3])) && std::isxdigit(static_cast<unsigned char>(t[4]));
    put(t, it.value().get<int64_t>(), int32_t(byte_token ? TokenType::Byte : TokenType::Normal), "model.vocab['" + t + "']");
  }
  if (tj.contains("added_tokens") && tj["added_tokens"].is_array())
    for (const auto& a : tj["added_tokens"]) {
      const std::string content = a.value("content", std::string());
      const std::string field = "added_tokens['" + content + "']";
      if (!a.contains("id") || !a["id"].is_number_integer()) fail(where, field + ".id", "an integer id", a.dump());
      for (const char* k : {"lstrip", "rstrip", "single_word"})
        if (a.value(k, false)) fail(where, field + "." + k, "false (not supported)", "true");
      const bool special = a.value("special", false);
      put(content, a["id"].get<int64_t>(), int32_t(special ? TokenType::Control : TokenType::UserDefined), field);
    }
  const int64_t n = by_id.empty() ? 0 : by_id.rbegin()->first + 1;
  if (int64_t(by_id.size()) != n) {
    int64_t hole = 0;
    while (by_id.count(hole)) ++hole;
    fail(where, "model.vocab", "ids 0.." + std::to_string(n - 1) + " without gaps", "no token with id " + std::to_string(hole));
  }
  for (auto& [id, e] : by_id) {
    spec.tokens.push_back(e.first);
    spec.token_types.push_back(e.second);
  }
}

void read_merges(const json& model, const std::string& where, TokenizerSpec& spec) {
  if (!model.contains("merges")) return;
  if (!model["merges"].is_array()) fail(where, "model.merges", "an array", model["merges"].type_name());
  spec.merges.reserve(model["merges"].size());
  for (const auto& m : model["merges"]) {
    if (m.is_string()) spec.merges.push_back(m.get<std::string>());  // "left right"
    else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())  // tokenizers >= 0.20
      spec.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    else fail(where, "model.merges", "\"left right\" strings or [left, right] pairs", m.dump());
  }
  // As Hugging Face's BPE builder: a merge must join into a vocab token (it refuses the file
  // otherwise), or the tokenizer would emit an id for a text that has none.
  const std::unordered_set<std::string_view> vocab(spec.tokens.begin(), spec.tokens.end());
  for (size_t i = 0; i < spec.merges.size(); ++i) {
    const std::string& mg = spec.merges[i];
    const size_t sp = mg.find(' ', 1);
    if (sp == std::string::npos) continue;  // never matches (as llama.cpp)
    const std::string join = mg.substr(0, sp) + mg.substr(sp + 1);
    if (!vocab.count(join))
      fail(where, "model.merges[" + std::to_string(i) + "]", "a pair that joins into a token of model.vocab",
           "\"" + mg + "\", joining into \"" + join + "\", which is not in it");
  }
}

int64_t id_of(const TokenizerSpec& spec, const std::string& text, const std::string& where, const std::string& field) {
  for (size_t i = 0; i < spec.tokens.size(); ++i)
    if (spec.tokens[i] == text) return int64_t(i);
  fail(where, field, "a token of the vocabulary", "'" + text + "'");
}

}  // namespace

namespace {

TokenizerSpec spec_from_json(const std::string& dir, const std::string& where, const json& tj) {
  if (!tj.is_object() || !tj.contains("model") || !tj["model"].is_object()) fail(where, "model", "an object", "missing");
  const json& model = tj["model"];
  if (type_of(model) != "BPE" && !(type_of(model).empty() && model.contains("merges")))
    fail(where, "model.type", "\"BPE\"", "\"" + type_of(model) + "\"");
  if (model.contains("dropout") && !model["dropout"].is_null() && !(model["dropout"].is_number() && model["dropout"].get<double>() == 0.0))
    fail(where, "model.dropout", "null (deterministic BPE)", model["dropout"].dump());
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(k) && model[k].is_string() && !model[k].get<std::string>().empty())
      fail(where, std::string("model.") + k, "null", model[k].dump());

  Shape shape;
  read_normalizer(tj.value("normalizer", json()), where, shape);
  if (tj.contains("pre_tokenizer") && !tj["pre_tokenizer"].is_null()) read_pre(tj["pre_tokenizer"], where, "pre_tokenizer", shape);
  if (shape.byte_level == shape.metaspace)
    fail(where, "pre_tokenizer", "either a ByteLevel pre-tokenizer (byte-level BPE) or SentencePiece's \u2581 (Metaspace or a Replace normalizer)",
         shape.byte_level ? "both" : "neither");

  TokenizerSpec spec;
  spec.source = where;
  spec.missing_special_id = -1;
  spec.eog_by_text = false;
  spec.model = shape.byte_level ? "gpt2" : "metaspace-bpe";
  spec.pre = "tokenizer.json";
  spec.pre_regexes = shape.regexes;
  if (shape.byte_level && spec.pre_regexes.empty()) spec.pre_regexes.push_back(R"([\s\S]+)");  // no split: the fragment is one word
  spec.ignore_merges = model.value("ignore_merges", false);
  spec.metaspace_prepend = shape.prepend;
  spec.metaspace_split = shape.split;
  spec.byte_fallback = model.value("byte_fallback", false);
  read_vocab(tj, where, shape.metaspace, spec);
  read_merges(model, where, spec);
  if (model.contains("unk_token") && model["unk_token"].is_string())
    spec.unk_id = id_of(spec, model["unk_token"].get<std::string>(), where, "model.unk_token");

  // BOS / EOS: tokenizer_config.json names them; generation_config.json (and config.json) give ids.
  const std::string tc_path = (fs::path(dir) / "tokenizer_config.json").string();
  const json tc = read_optional(dir, "tokenizer_config.json");
  const json gc = read_optional(dir, "generation_config.json");
  const json cc = read_optional(dir, "config.json");
  const std::string gc_path = (fs::path(dir) / "generation_config.json").string();
  if (auto b = token_text(tc, "bos_token", tc_path)) spec.bos_id = id_of(spec, *b, tc_path, "bos_token");
  if (auto e = token_text(tc, "eos_token", tc_path)) spec.eos_id = id_of(spec, *e, tc_path, "eos_token");
  for (const json* j : {&gc, &cc}) {
    const auto bos = id_list(*j, "bos_token_id", gc_path), eos = id_list(*j, "eos_token_id", gc_path);
    if (!spec.bos_id && !bos.empty()) spec.bos_id = bos[0];
    if (!spec.eos_id && !eos.empty()) spec.eos_id = eos[0];
  }
  spec.extra_stop_ids = id_list(gc, "eos_token_id", gc_path);
  const auto tmpl_bos = template_bos(tj.value("post_processor", json()), where);
  if (tc.is_object() && tc.contains("add_bos_token") && tc["add_bos_token"].is_boolean()) {
    spec.add_bos = tc["add_bos_token"].get<bool>();
  } else {
    spec.add_bos = tmpl_bos.has_value();
    if (tmpl_bos && !spec.bos_id) spec.bos_id = id_of(spec, *tmpl_bos, where, "post_processor.single");
  }
  return spec;
}

}  // namespace

TokenizerSpec tokenizer_spec_from_hf(const std::string& dir) {
  const std::string where = (fs::path(dir) / "tokenizer.json").string();
  if (!fs::exists(where)) fail(dir, "tokenizer.json", "the folder's tokenizer (byte-level or SentencePiece-style BPE)", "missing");
  const json tj = read_json(where);
  try {
    return spec_from_json(dir, where, tj);
  } catch (const json::exception& e) {  // a value of the wrong JSON type somewhere
    fail(where, "tokenizer files", "the fields tokenizer.json / tokenizer_config.json define", e.what());
  }
}

ChatTemplate chat_template_from_hf(const std::string& dir) {
  const fs::path jinja = fs::path(dir) / "chat_template.jinja";
  if (fs::exists(jinja)) return chat_template_from_string(read_file_bytes(jinja.string()));
  const std::string tc_path = (fs::path(dir) / "tokenizer_config.json").string();
  const json tc = read_optional(dir, "tokenizer_config.json");
  if (!tc.is_object() || !tc.contains("chat_template") || tc["chat_template"].is_null()) return {};
  const json& t = tc["chat_template"];
  if (t.is_string()) return chat_template_from_string(t.get<std::string>());
  if (t.is_array())  // [{"name": "default", "template": ...}, {"name": "tool_use", ...}]
    for (const auto& e : t)
      if (e.value("name", std::string()) == "default" && e.contains("template") && e["template"].is_string())
        return chat_template_from_string(e["template"].get<std::string>());
  fail(tc_path, "chat_template", "a template string or a list with a \"default\" entry", t.dump().substr(0, 80));
}

}  // namespace cokv
