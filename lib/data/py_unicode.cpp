// Python str semantics on code points; tables generated from CPython (see py_unicode_tables.inc).
#include "data/py_unicode.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace cokv::py {
namespace {

struct CpRange {
  char32_t lo, hi;
};
struct LowerRow {
  char32_t cp;
  char32_t to[3];  // zero-padded
};

#include "data/py_unicode_tables.inc"

template <size_t N>
bool in_ranges(const CpRange (&table)[N], char32_t c) {
  // First range whose hi >= c; c is inside iff its lo <= c.
  auto it = std::lower_bound(std::begin(table), std::end(table), c,
                             [](const CpRange& r, char32_t v) { return r.hi < v; });
  return it != std::end(table) && it->lo <= c;
}

bool is_cased(char32_t c) { return in_ranges(k_cased, c); }
bool is_case_ignorable(char32_t c) { return in_ranges(k_case_ignorable, c); }

// CPython's handle_capital_sigma: U+03A3 lowers to final sigma when preceded by a cased
// letter and not followed by one (case-ignorable characters skipped on both sides).
char32_t lower_capital_sigma(std::u32string_view s, size_t i) {
  size_t j = i;
  char32_t c = 0;
  bool found = false;
  while (j > 0) {
    c = s[--j];
    if (!is_case_ignorable(c)) {
      found = true;
      break;
    }
  }
  bool final_sigma = found && is_cased(c);
  if (final_sigma && i + 1 < s.size()) {
    size_t k = i + 1;
    for (; k < s.size(); ++k) {
      c = s[k];
      if (!is_case_ignorable(c)) break;
    }
    final_sigma = k == s.size() || !is_cased(c);
  }
  return final_sigma ? U'\u03C2' : U'\u03C3';
}

}  // namespace

std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int len = 0;
    char32_t cp = 0, min_cp = 0;
    if ((b0 & 0xE0) == 0xC0) len = 2, cp = b0 & 0x1F, min_cp = 0x80;
    else if ((b0 & 0xF0) == 0xE0) len = 3, cp = b0 & 0x0F, min_cp = 0x800;
    else if ((b0 & 0xF8) == 0xF0) len = 4, cp = b0 & 0x07, min_cp = 0x10000;
    bool ok = len > 0 && i + len <= n;
    for (int k = 1; ok && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (ok && (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (ok) {
      out.push_back(cp);
      i += len;
    } else {
      out.push_back(0xFFFD);
      ++i;
    }
  }
  return out;
}

std::string encode_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

bool is_space(char32_t c) {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  return in_ranges(k_space, c);
}

bool is_word(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return in_ranges(k_word, c);
}

bool is_decimal(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return in_ranges(k_decimal, c);
}

std::u32string lower(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c < 0x80) {
      out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    } else if (c == U'\u03A3') {
      out.push_back(lower_capital_sigma(s, i));
    } else {
      auto it = std::lower_bound(std::begin(k_lower), std::end(k_lower), c,
                                 [](const LowerRow& r, char32_t v) { return r.cp < v; });
      if (it != std::end(k_lower) && it->cp == c) {
        for (char32_t t : it->to)
          if (t) out.push_back(t);
      } else {
        out.push_back(c);
      }
    }
  }
  return out;
}

std::vector<std::u32string> split_ws(std::u32string_view s) {
  std::vector<std::u32string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i == s.size()) break;
    size_t j = i;
    while (j < s.size() && !is_space(s[j])) ++j;
    out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::vector<std::u32string> split_char(std::u32string_view s, char32_t sep) {
  std::vector<std::u32string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::vector<std::u32string> find_digit_runs(std::u32string_view s) {
  std::vector<std::u32string> out;
  size_t i = 0;
  while (i < s.size()) {
    if (!is_decimal(s[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && is_decimal(s[j])) ++j;
    out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string first_line(std::string_view s) {
  const size_t b = std::min(s.find_first_not_of('\n'), s.size());
  const size_t e = s.find('\n', b);
  return std::string(s.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
}

std::vector<std::string> lines_after_leading_newlines(std::string_view s) {
  const size_t b = std::min(s.find_first_not_of('\n'), s.size());
  std::vector<std::string> out;
  size_t start = b;
  for (size_t i = b; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '\n') {
      out.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

}  // namespace cokv::py
