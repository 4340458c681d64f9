// LongBench record parsing with file:line error messages (see records.h).
#include "data/records.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/json_text.h"

namespace cokv::longbench {
namespace {

using nlohmann::json;

// "string \"abc...\"", "number 3", "null", ...: what the user wrote, kept short.
std::string describe(const json& v) {
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  if (v.is_null()) return "null";
  return std::string(v.type_name()) + " " + text;
}

const json& field(const json& obj, const char* name, const std::string& where, const char* expected) {
  auto it = obj.find(name);
  if (it == obj.end()) fail(where, std::string("field '") + name + "'", expected, "nothing (field missing)");
  return *it;
}

}  // namespace

std::string get_string(const json& obj, const char* name, const std::string& where) {
  const json& v = field(obj, name, where, "a string");
  if (!v.is_string()) fail(where, std::string("field '") + name + "'", "a string", describe(v));
  return v.get<std::string>();
}

std::vector<std::string> get_string_list(const json& obj, const char* name, const std::string& where) {
  const json& v = field(obj, name, where, "a list of strings");
  if (!v.is_array()) fail(where, std::string("field '") + name + "'", "a list of strings", describe(v));
  std::vector<std::string> out;
  out.reserve(v.size());
  for (size_t k = 0; k < v.size(); ++k) {
    if (!v[k].is_string())
      fail(where, std::string("field '") + name + "'[" + std::to_string(k) + "]", "a string", describe(v[k]));
    out.push_back(v[k].get<std::string>());
  }
  return out;
}

std::optional<std::vector<std::string>> get_string_list_or_null(const json& obj, const char* name,
                                                                 const std::string& where) {
  const json& v = field(obj, name, where, "a list of strings or null");
  if (v.is_null()) return std::nullopt;
  if (!v.is_array()) fail(where, std::string("field '") + name + "'", "a list of strings or null", describe(v));
  return get_string_list(obj, name, where);
}

int64_t get_integer(const json& obj, const char* name, const std::string& where) {
  const json& v = field(obj, name, where, "an integer");
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {  // 123.0 is fine, 1.5 is not
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9.0e18) return static_cast<int64_t>(d);
  }
  fail(where, std::string("field '") + name + "'", "an integer", describe(v));
}

Record parse_record(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "record", "a JSON object", describe(j));
  Record r;
  r.input = get_string(j, "input", where);
  r.context = get_string(j, "context", where);
  r.answers = get_string_list(j, "answers", where);
  r.length = get_integer(j, "length", where);
  r.dataset = get_string(j, "dataset", where);
  r.language = get_string(j, "language", where);
  r.all_classes = get_string_list_or_null(j, "all_classes", where);
  r.id = get_string(j, "_id", where);
  return r;
}

ReadStats for_each_jsonl(const std::string& path, const ReadOptions& opt,
                         const std::function<void(const json&, const std::string&)>& fn) {
  require_regular_file(path, "file");  // a FIFO would block the read
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "file", "a readable JSONL file", "cannot open it");
  ReadStats st;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines carry nothing
    const std::string where = path + ":" + std::to_string(line_no);
    try {
      json j;
      try {
        j = json::parse(line);
      } catch (const json::exception& e) {  // syntax, and out_of_range for a number like 1e999
        fail(where, "JSON", "one JSON object per line", json_error_text(e));
      }
      if (!j.is_object()) fail(where, "record", "a JSON object", describe(j));
      try {
        fn(j, where);
      } catch (const json::exception& e) {  // a caller's unchecked access: still name the line
        fail(where, "record", "the fields this file needs", json_error_text(e));
      }
      ++st.n_read;
    } catch (const Error& e) {
      if (!opt.skip_bad) throw;
      if (st.n_skipped++ == 0) st.first_error = e.what();
    }
  }
  return st;
}

std::vector<Record> read_records(const std::string& path, const ReadOptions& opt, ReadStats* stats) {
  std::vector<Record> out;
  const ReadStats st =
      for_each_jsonl(path, opt, [&](const json& j, const std::string& where) { out.push_back(parse_record(j, where)); });
  if (stats) *stats = st;
  return out;
}

}  // namespace cokv::longbench
