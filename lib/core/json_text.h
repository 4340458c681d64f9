// JSON text -> nlohmann values with cokv's error style: every failure of the parser (syntax,
// a number out of double range, invalid UTF-8...) becomes a cokv::Error naming `where` (the
// file, or "file:line"), never a bare nlohmann message.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace cokv {

nlohmann::json parse_json(std::string_view text, const std::string& where);
nlohmann::ordered_json parse_ordered_json(std::string_view text, const std::string& where);
// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
std::string json_error_text(const nlohmann::json::exception& e);

}  // namespace cokv
