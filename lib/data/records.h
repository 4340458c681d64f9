// LongBench JSONL records (one JSON object per line) and a line-numbered JSONL reader.
// Every problem is reported as "<file>:<line>: field '<name>': expected ..., got ..." so the
// user can open the file at that line; a skip mode drops bad records and counts them.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace cokv::longbench {

struct Record {
  std::string input;    // the question
  std::string context;  // the long document(s)
  std::vector<std::string> answers;
  int64_t length = 0;   // LongBench's own length count (words / characters)
  std::string dataset;
  std::string language;
  std::optional<std::vector<std::string>> all_classes;  // null for all but classification
  std::string id;       // "_id"
};

// Parses one record; throws cokv::Error naming `where` (e.g. "file.jsonl:12") and the field.
// Unknown extra fields are ignored.
Record parse_record(const nlohmann::json& j, const std::string& where);

// Field accessors with the same error style, for other JSONL formats (predictions files).
std::string get_string(const nlohmann::json& obj, const char* field, const std::string& where);
std::vector<std::string> get_string_list(const nlohmann::json& obj, const char* field, const std::string& where);
std::optional<std::vector<std::string>> get_string_list_or_null(const nlohmann::json& obj, const char* field,
                                                                 const std::string& where);
int64_t get_integer(const nlohmann::json& obj, const char* field, const std::string& where);

struct ReadOptions {
  bool skip_bad = false;  // drop bad records (counted, first message kept) instead of throwing
};
struct ReadStats {
  size_t n_read = 0;     // records accepted
  size_t n_skipped = 0;  // bad records dropped (skip_bad only)
  std::string first_error;  // message of the first dropped record
};

// Calls fn(object, "<path>:<line>") for every non-blank line. Lines that are not valid JSON
// objects, or for which fn throws cokv::Error, are fatal unless opt.skip_bad.
ReadStats for_each_jsonl(const std::string& path, const ReadOptions& opt,
                         const std::function<void(const nlohmann::json&, const std::string&)>& fn);

std::vector<Record> read_records(const std::string& path, const ReadOptions& opt = {}, ReadStats* stats = nullptr);

}  // namespace cokv::longbench
