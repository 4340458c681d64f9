// LongBench prompt building (see prompt.h).
#include "data/prompt.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/json_text.h"

namespace cokv::longbench {
namespace {

using nlohmann::json;

json read_json_file(const std::string& path) { return parse_json(read_file_bytes(path), path); }

std::string config_file(const std::string& dir_or_file, const char* name) {
  namespace fs = std::filesystem;
  if (fs::is_directory(dir_or_file)) return (fs::path(dir_or_file) / name).string();
  return dir_or_file;
}

std::string strip_e_suffix(const std::string& d) {
  if (d.size() > 2 && d.compare(d.size() - 2, 2, "_e") == 0) return d.substr(0, d.size() - 2);
  return d;
}

}  // namespace

std::map<std::string, std::string> read_prompt_templates(const std::string& dir_or_file) {
  const std::string path = config_file(dir_or_file, "dataset2prompt.json");
  const json j = read_json_file(path);
  if (!j.is_object()) fail(path, "top level", "an object {dataset: template}");
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) fail(path, "'" + k + "'", "a template string", v.type_name());
    out[k] = v.get<std::string>();
  }
  return out;
}

std::map<std::string, int> read_max_new_tokens(const std::string& dir_or_file) {
  const std::string path = config_file(dir_or_file, "dataset2maxlen.json");
  const json j = read_json_file(path);
  if (!j.is_object()) fail(path, "top level", "an object {dataset: max new tokens}");
  std::map<std::string, int> out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_number_integer() || v.get<int64_t>() <= 0) fail(path, "'" + k + "'", "a positive integer", v.dump());
    out[k] = v.get<int>();
  }
  return out;
}

std::string format_template(std::string_view t, const std::map<std::string, std::string>& fields,
                            const std::string& where) {
  std::string out;
  out.reserve(t.size());
  size_t i = 0;
  while (i < t.size()) {
    const char c = t[i];
    if (c == '}') {
      if (i + 1 < t.size() && t[i + 1] == '}') {
        out.push_back('}');
        i += 2;
        continue;
      }
      fail(where, "template at byte " + std::to_string(i), "'}}' for a literal brace",
           "a single '}' (Python: \"Single '}' encountered in format string\")");
    }
    if (c != '{') {
      out.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 < t.size() && t[i + 1] == '{') {
      out.push_back('{');
      i += 2;
      continue;
    }
    const size_t close = t.find('}', i + 1);
    const size_t nested = t.find('{', i + 1);
    if (close == std::string_view::npos)
      fail(where, "template at byte " + std::to_string(i), "a field closed by '}' or '{{' for a literal brace",
           "a single '{' (Python: \"expected '}' before end of string\")");
    const std::string name(t.substr(i + 1, close - i - 1));
    if (nested < close || name.find_first_of("!:.[") != std::string::npos)
      fail(where, "template field {" + name + "}", "a plain {name} field (no conversion, format spec or nesting)");
    if (name.empty() || name.find_first_not_of("0123456789") == std::string::npos)
      fail(where, "template field {" + name + "}", "a named field such as {context} or {input}",
           "a positional field (str.format(**record) has no positional arguments)");
    auto it = fields.find(name);
    if (it == fields.end()) {
      std::string known;
      for (const auto& [k, v] : fields) known += (known.empty() ? "" : ", ") + k;
      fail(where, "template field {" + name + "}", "one of " + known, "an unknown field (Python: KeyError)");
    }
    out += it->second;
    i = close + 1;
  }
  return out;
}

std::string format_record(std::string_view tmpl, const Record& r, const std::string& where) {
  const std::map<std::string, std::string> fields = {
      {"input", r.input},     {"context", r.context}, {"dataset", r.dataset},
      {"language", r.language}, {"_id", r.id},      {"length", std::to_string(r.length)},
  };
  return format_template(tmpl, fields, where);
}

std::map<std::string, DatasetInfo> read_dataset_table(const std::string& path) {
  const json j = read_json_file(path);
  if (!j.is_object() || j.value("format", "") != "cokv.longbench.v1")
    fail(path, "format", "\"cokv.longbench.v1\"");
  if (!j.contains("datasets") || !j["datasets"].is_object()) fail(path, "datasets", "an object {name: settings}");
  std::map<std::string, DatasetInfo> out;
  for (const auto& item : j["datasets"].items()) {  // no structured binding: clang 14's lambdas cannot capture one
    const std::string& name = item.key();
    const json& v = item.value();
    const std::string where = path + ": datasets." + name;
    if (!v.is_object()) fail(where, "settings", "an object");
    auto str = [&](const char* k) {
      if (!v.contains(k) || !v[k].is_string()) fail(where, k, "a string");
      return v[k].get<std::string>();
    };
    auto flag = [&](const char* k) {
      if (!v.contains(k) || !v[k].is_boolean()) fail(where, k, "true or false");
      return v[k].get<bool>();
    };
    DatasetInfo d;
    d.name = name;
    d.category = str("category");
    try {
      d.metric = metric_from_name(str("metric"));
    } catch (const Error& e) {
      fail(where, "metric", "a LongBench metric name", e.what());
    }
    if (!v.contains("max_new_tokens") || !v["max_new_tokens"].is_number_integer() ||
        v["max_new_tokens"].get<int64_t>() <= 0)
      fail(where, "max_new_tokens", "a positive integer");
    d.max_new_tokens = v["max_new_tokens"].get<int>();
    d.chat_template = flag("chat_template");
    d.stop_on_newline = flag("stop_on_newline");
    d.first_line = flag("first_line");
    out[name] = d;
  }
  return out;
}

const DatasetInfo& dataset_info(const std::map<std::string, DatasetInfo>& table, const std::string& dataset) {
  auto it = table.find(dataset);
  if (it == table.end()) it = table.find(strip_e_suffix(dataset));
  if (it == table.end()) fail("dataset table", "'" + dataset + "'", "a dataset listed in configs/longbench.json");
  return it->second;
}

Truncation truncate_middle(const std::string& prompt, int max_length, const TokenizerFns& tok) {
  Truncation t;
  const std::vector<int32_t> ids = tok.encode(prompt);
  t.n_tokens = ids.size();
  if (max_length <= 0 || ids.size() <= static_cast<size_t>(max_length)) {
    t.text = prompt;
    return t;
  }
  const size_t half = static_cast<size_t>(max_length / 2);  // int(max_length/2)
  const std::vector<int32_t> head(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(half));
  const std::vector<int32_t> tail(ids.end() - static_cast<std::ptrdiff_t>(half), ids.end());
  t.text = tok.decode(head) + tok.decode(tail);
  t.truncated = true;
  return t;
}

ChatPolicy chat_policy_from_name(const std::string& name) {
  if (name == "longbench") return ChatPolicy::LongBench;
  if (name == "none") return ChatPolicy::None;
  fail("chat policy", "'" + name + "'", "longbench or none");
}

const char* chat_policy_name(ChatPolicy p) { return p == ChatPolicy::LongBench ? "longbench" : "none"; }

bool use_chat_template(const DatasetInfo& d, ChatPolicy p) {
  return p == ChatPolicy::LongBench && d.chat_template;
}

BuiltPrompt build_prompt(const Record& r, const std::string& tmpl, const DatasetInfo& d, const PromptOptions& opt,
                         const TokenizerFns& tok, const std::function<std::string(const std::string&)>& apply_chat) {
  BuiltPrompt b;
  const std::string where = "prompt template for " + d.name;
  Truncation t = truncate_middle(format_record(tmpl, r, where), opt.max_length, tok);
  b.truncated = t.truncated;
  b.n_tokens_untruncated = t.n_tokens;
  if (use_chat_template(d, opt.chat)) {
    if (!apply_chat) fail(where, "chat template", "a chat template callback for dataset " + d.name);
    b.text = apply_chat(t.text);
    b.chat_applied = true;
  } else {
    b.text = std::move(t.text);
  }
  return b;
}

}  // namespace cokv::longbench
