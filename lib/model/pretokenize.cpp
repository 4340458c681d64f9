// Pre-tokenizer regexes (as llama.cpp's llama-vocab.cpp lists them) run with PCRE2, the GPT-2
// byte<->unicode table and UTF-8 helpers. See pretokenize.h for the contract.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "model/pretokenize.h"

#include <pcre2.h>

#include <map>

#include "core/error.h"

namespace cokv {

namespace {

// Unicode White_Space, the set llama.cpp's unicode_set_whitespace holds; PCRE2's \s under UCP
// is "Z or \t\n\v\f\r", which misses U+0085.
constexpr const char* k_ws =
    R"(\t\n\x0B\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

// llama.cpp's expressions, verbatim (their \s and \S are rewritten by expand_ws below).
// GPT-2: llama.cpp runs it through a hand-written matcher that behaves like the regex
// followed by "|\s+", so we append that alternative.
constexpr const char* k_gpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* k_llama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* k_qwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct PreKind {
  std::vector<std::string> regexes;
  bool ignore_merges = false;
};

// tokenizer.ggml.pre name -> regex list (llama.cpp's LLAMA_VOCAB_PRE_TYPE_* groups).
const std::map<std::string, PreKind>& pre_table() {
  static const std::map<std::string, PreKind> table = [] {
    std::map<std::string, PreKind> t;
    const PreKind llama3{{k_llama3}, true};
    const PreKind llama3_regex_only{{k_llama3}, false};
    const PreKind smollm{{R"(\p{N})", k_gpt2}, false};  // digits split one by one first
    const PreKind gpt2{{k_gpt2}, false};
    const PreKind qwen2{{k_qwen2}, false};
    const PreKind deflt{{R"([\p{P}\$\+<=>\^~\|]+)", k_gpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}, false};
    for (const char* n : {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral",
                          "midm-2.0", "lfm2"})
      t[n] = llama3;
    for (const char* n : {"dbrx", "smaug-bpe"}) t[n] = llama3_regex_only;
    for (const char* n : {"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone",
                          "minerva-7b"})
      t[n] = smollm;
    for (const char* n : {"gpt2", "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es",
                          "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "mpt", "olmo", "jais",
                          "trillion", "granite-docling", "exaone4", "jina-v1-en", "jina-v2-code",
                          "roberta-bpe"})
      t[n] = gpt2;
    for (const char* n : {"qwen2", "deepseek-r1-qwen", "kormo", "stablelm2", "megrez", "hunyuan",
                          "solar-open"})
      t[n] = qwen2;
    t[""] = deflt;
    t["default"] = deflt;
    return t;
  }();
  return table;
}

// Rewrites \s and \S to the White_Space set (inside a class \s expands in place).
std::string expand_ws(const std::string& re) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      const char n = re[i + 1];
      ++i;
      if (n == 's') {
        out += in_class ? std::string(k_ws) : "[" + std::string(k_ws) + "]";
      } else if (n == 'S' && !in_class) {
        out += "[^" + std::string(k_ws) + "]";
      } else {
        out += c;
        out += n;
      }
      continue;
    }
    if (c == '[' && !in_class) in_class = true;
    else if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

}  // namespace

struct PreTokenizer::Impl {
  std::string name;
  bool ignore_merges = false;
  std::vector<pcre2_code*> codes;  // one per regex, applied in order
  ~Impl() {
    for (auto* c : codes) pcre2_code_free(c);
  }
};

PreTokenizer::PreTokenizer(const std::string& name, const std::string& where)
    : PreTokenizer(std::vector<std::string>{}, false, name, where) {
  const auto& table = pre_table();
  auto it = table.find(name);
  if (it == table.end()) {
    std::string known;
    for (const auto& n : known_pretokenizers()) known += (known.empty() ? "" : ", ") + n;
    fail(where, "tokenizer.ggml.pre", "one of the supported pre-tokenizers (" + known + ")",
         "'" + name + "'");
  }
  *this = PreTokenizer(it->second.regexes, it->second.ignore_merges, name, where);
}

PreTokenizer::PreTokenizer(const std::vector<std::string>& regexes, bool ignore_merges, const std::string& name,
                           const std::string& where)
    : impl_(std::make_unique<Impl>()) {
  impl_->name = name;
  impl_->ignore_merges = ignore_merges;
  for (const auto& re : regexes) {
    const std::string pat = expand_ws(re);
    int err = 0;
    PCRE2_SIZE err_off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(),
                                     PCRE2_UTF | PCRE2_UCP, &err, &err_off, nullptr);
    if (!code) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(err, buf, sizeof(buf));
      fail(where, "pre-tokenizer '" + name + "' regex", "a regex PCRE2 compiles",
           "an error at offset " + std::to_string(err_off) + ": " + reinterpret_cast<const char*>(buf) + " in " + re);
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is absent
    impl_->codes.push_back(code);
  }
}

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

bool PreTokenizer::ignore_merges() const { return impl_->ignore_merges; }
const std::string& PreTokenizer::name() const { return impl_->name; }

void PreTokenizer::split(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& out) const {
  if (text.empty()) return;
  using Span = std::pair<uint32_t, uint32_t>;
  std::vector<Span> cur{{0u, static_cast<uint32_t>(text.size())}}, next;
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  if (!md) throw Error("pre-tokenizer: out of memory for PCRE2 match data");
  const auto* subject_base = reinterpret_cast<PCRE2_SPTR>(text.data());
  try {
    for (pcre2_code* code : impl_->codes) {
      next.clear();
      next.reserve(cur.size() * 2);
      for (const auto& [b, e] : cur) {
        // Each piece is its own subject: lookaheads stop at the piece's end, as in llama.cpp.
        const PCRE2_SPTR subject = subject_base + b;
        const PCRE2_SIZE len = e - b;
        PCRE2_SIZE off = 0, prev = 0;
        while (off < len) {
          const int rc = pcre2_match(code, subject, len, off, PCRE2_NO_UTF_CHECK, md, nullptr);
          if (rc == PCRE2_ERROR_NOMATCH) break;
          if (rc < 0) {
            PCRE2_UCHAR buf[256];
            pcre2_get_error_message(rc, buf, sizeof(buf));
            throw Error("pre-tokenizer '" + impl_->name + "': regex match failed: " +
                        reinterpret_cast<const char*>(buf));
          }
          const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
          const PCRE2_SIZE ms = ov[0], me = ov[1];
          if (me == ms) {  // empty match: step over one code point, as a regex iterator would
            off = ms + 1;
            while (off < len && (subject[off] & 0xC0) == 0x80) ++off;
            continue;
          }
          if (ms > prev) next.emplace_back(b + prev, b + ms);  // the gap is a piece too
          next.emplace_back(b + ms, b + me);
          prev = off = me;
        }
        if (prev < len) next.emplace_back(b + prev, e);
      }
      cur.swap(next);
    }
  } catch (...) {
    pcre2_match_data_free(md);
    throw;
  }
  pcre2_match_data_free(md);
  out.insert(out.end(), cur.begin(), cur.end());
}

const char* gpt2_split_regex() { return k_gpt2; }

std::vector<std::string> known_pretokenizers() {
  std::vector<std::string> names;
  for (const auto& [n, k] : pre_table())
    if (!n.empty()) names.push_back(n);
  return names;
}

// ---- byte-level mapping and UTF-8 -------------------------------------------------------------

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

uint32_t next_codepoint(std::string_view s, size_t& pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  auto cont = [&](size_t k) { return static_cast<unsigned char>(s[pos + k]) & 0x3Fu; };
  uint32_t cp;
  size_t n;
  if (b0 < 0x80) { cp = b0; n = 1; }
  else if (b0 < 0xE0) { cp = ((b0 & 0x1Fu) << 6) | cont(1); n = 2; }
  else if (b0 < 0xF0) { cp = ((b0 & 0x0Fu) << 12) | (cont(1) << 6) | cont(2); n = 3; }
  else { cp = ((b0 & 0x07u) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3); n = 4; }
  pos += n;
  return cp;
}

namespace {

// Strict UTF-8 check (what PCRE2 requires): shortest forms, no surrogates, <= U+10FFFF.
bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) { ++i; continue; }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

}  // namespace

bool sanitize_utf8(std::string_view s, std::string& fixed) {
  if (is_valid_utf8(s)) return false;
  // llama.cpp's unicode_cpt_from_utf8 + unicode_cpts_from_utf8: lenient decode, one U+FFFD
  // per invalid byte. It accepts overlong forms (re-encoded shortest here, as it does) and
  // surrogates / code points above U+10FFFF, which we turn into U+FFFD (PCRE2 needs valid
  // UTF-8; llama.cpp would emit unencodable bytes or throw there).
  fixed.clear();
  fixed.reserve(s.size() + 8);
  const size_t n = s.size();
  size_t i = 0;
  auto is_cont = [&](size_t k) { return k < n && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80; };
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp = 0xFFFD;
    size_t len = 1;
    if (!(c & 0x80)) { cp = c; }
    else if (!(c & 0x40)) { /* stray continuation byte */ }
    else if (!(c & 0x20)) {
      if (i + 1 < n && is_cont(i + 1)) { cp = ((c & 0x1Fu) << 6) | (s[i + 1] & 0x3F); len = 2; }
    } else if (!(c & 0x10)) {
      if (i + 2 < n && is_cont(i + 1) && is_cont(i + 2)) {
        cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3F);
        len = 3;
      }
    } else if (!(c & 0x08)) {
      if (i + 3 < n && is_cont(i + 1) && is_cont(i + 2) && is_cont(i + 3)) {
        cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) |
             (s[i + 3] & 0x3F);
        len = 4;
      }
    }
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = 0xFFFD;
    append_utf8(cp, fixed);
    i += len;
  }
  return true;
}

const std::array<std::string, 256>& byte_to_unicode() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    std::array<bool, 256> direct{};
    for (int b = 0x21; b <= 0x7E; ++b) direct[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
    uint32_t n = 0;
    for (int b = 0; b < 256; ++b) append_utf8(direct[b] ? static_cast<uint32_t>(b) : 256 + n++, t[b]);
    return t;
  }();
  return table;
}

int unicode_to_byte(uint32_t cp) {
  static const std::vector<int> inverse = [] {
    std::vector<int> inv(512, -1);
    const auto& fwd = byte_to_unicode();
    for (int b = 0; b < 256; ++b) {
      size_t pos = 0;
      inv[next_codepoint(fwd[b], pos)] = b;
    }
    return inv;
  }();
  return cp < inverse.size() ? inverse[cp] : -1;
}

}  // namespace cokv
