// JSON parsing with file names in errors; see json_text.h.
#include "core/json_text.h"

#include "core/error.h"

namespace cokv {

std::string json_error_text(const nlohmann::json::exception& e) {
  std::string what = e.what();
  if (what.rfind("[json.exception.", 0) == 0)
    if (const size_t p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
  return what;
}

namespace {

template <class Json>
Json parse_as(std::string_view text, const std::string& where) {
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e999
    fail(where, "JSON", "valid JSON", json_error_text(e));
  }
}

}  // namespace

nlohmann::json parse_json(std::string_view text, const std::string& where) {
  return parse_as<nlohmann::json>(text, where);
}

nlohmann::ordered_json parse_ordered_json(std::string_view text, const std::string& where) {
  return parse_as<nlohmann::ordered_json>(text, where);
}

}  // namespace cokv
