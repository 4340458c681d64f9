// Python string semantics that LongBench's metrics rely on, for UTF-8 text in C++.
// The metrics compare code points, not bytes: Python's str.lower() (full mappings and the
// Final_Sigma rule), str.isspace() (what str.split() splits on), and the str-pattern classes
// of Python's re module (\w, \b, \d are Unicode-aware there). The character tables are
// generated from CPython itself by scripts/dev/make_unicode_tables.py.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace cokv::py {

// UTF-8 <-> code points. Invalid bytes decode to U+FFFD one byte at a time (JSON input is
// already valid UTF-8; this only keeps odd bytes from derailing the metrics).
std::u32string decode_utf8(std::string_view s);
std::string encode_utf8(std::u32string_view s);

bool is_space(char32_t c);    // str.isspace()
bool is_word(char32_t c);     // re \w for str patterns: str.isalnum() or '_'
bool is_decimal(char32_t c);  // re \d for str patterns: str.isdecimal()

std::u32string lower(std::u32string_view s);  // str.lower()

// str.split() with no separator: runs of whitespace separate, no empty pieces.
std::vector<std::u32string> split_ws(std::u32string_view s);
// str.split(sep) for one separator character: keeps empty pieces.
std::vector<std::u32string> split_char(std::u32string_view s, char32_t sep);
// re.findall(r"\d+", s): maximal runs of decimal digits.
std::vector<std::u32string> find_digit_runs(std::u32string_view s);

// Byte-level helpers that are exact on UTF-8 because they only touch ASCII '\n':
// s.lstrip('\n').split('\n')[0], and s.lstrip('\n').split('\n').
std::string first_line(std::string_view s);
std::vector<std::string> lines_after_leading_newlines(std::string_view s);

}  // namespace cokv::py
