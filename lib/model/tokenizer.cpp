// Byte-level BPE tokenizer (see tokenizer.h): vocab and merges from GGUF, special-token
// partitioning, pre-tokenizer splits, BPE by merge rank with a per-word cache, decoding.
//
// BPE works on interned symbol ids rather than strings: every vocab token is a symbol (same
// id), and merge parts / results missing from the vocab get ids past n_vocab. A merge is then
// a hash lookup on (left id, right id) -> (rank, merged id). The merge loop is llama.cpp's
// (priority queue on (rank, left position), stale entries skipped), so ties resolve the same.
#include "model/tokenizer.h"

#include <algorithm>
#include <mutex>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "model/pretokenize.h"

namespace cokv {

namespace {

// Token texts llama.cpp treats as end-of-generation (llama-vocab.cpp, special_eog_ids),
// without its FIM entries. They are also forced to be control tokens, as llama.cpp does.
const char* const k_eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>",
    "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using StringMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct Merge {
  int32_t rank;
  int32_t result;  // symbol id of left+right
};

// A piece of the input after special-token partitioning: raw text or one special token.
struct Fragment {
  int32_t token;     // -1: raw text [off, off+len)
  uint32_t off, len;
};

}  // namespace

struct Tokenizer::Impl {
  std::string source, pre;
  std::vector<std::string> text;       // [n_vocab] vocab strings
  std::vector<TokenType> type;         // [n_vocab]
  std::vector<std::string> piece;      // [n_vocab] decoded bytes (specials as their text)
  StringMap token_id;                  // vocab string -> id
  StringMap symbol_id;                 // vocab strings and merge parts -> symbol id
  std::vector<std::string> extra_text; // symbol ids >= n_vocab -> their text
  std::unordered_map<uint64_t, Merge> merges;
  std::array<int32_t, 256> byte_symbol{};  // raw byte -> symbol of its byte-level char (-1: none)
  std::vector<int32_t> specials;       // control/user-defined/unknown ids, longest text first
  std::vector<int32_t> stops;
  int32_t bos = -1, eos = -1, unk = -1;
  bool add_bos = false;
  std::unique_ptr<PreTokenizer> pretok;
  // metaspace-bpe (SentencePiece-style vocabularies; see TokenizerSpec): empty prepend = byte-level.
  std::string metaspace_prepend;
  bool metaspace_split = false, byte_fallback = false;
  std::array<int32_t, 256> byte_token{};  // <0xXX> token of each byte (-1: none)

  mutable std::mutex cache_mu;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache;

  int n_vocab() const { return static_cast<int>(text.size()); }
  bool is_special_attr(int32_t id) const {
    const auto t = type[id];
    return t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown;
  }
  const std::string& symbol_text(int32_t sym) const {
    return sym < n_vocab() ? text[sym] : extra_text[sym - n_vocab()];
  }
  int32_t intern(const std::string& s) {
    auto it = symbol_id.find(s);
    if (it != symbol_id.end()) return it->second;
    const int32_t id = n_vocab() + static_cast<int32_t>(extra_text.size());
    extra_text.push_back(s);
    symbol_id.emplace(s, id);
    return id;
  }

  void partition(std::string_view s, bool parse_special, std::vector<Fragment>& frags) const;
  bool metaspace() const { return !metaspace_prepend.empty(); }
  struct Piece {
    int32_t id;   // symbol id (-1: a byte with no symbol)
    int32_t pos;  // index of its first initial symbol
  };
  std::vector<Piece> merge_symbols(const std::vector<int32_t>& init) const;
  void bpe_word(std::string_view word, std::vector<int32_t>& out) const;
  void bpe_chars(std::string_view word, std::vector<int32_t>& out) const;
  void encode_words(std::string_view s, const std::vector<std::pair<uint32_t, uint32_t>>& words,
                    std::vector<int32_t>& out) const;
  void encode_fragment(std::string_view s, bool at_start, std::vector<int32_t>& out) const;
  std::string decode_piece(int32_t id) const;
};

// llama.cpp's tokenizer_st_partition: for each special token, longest text first, cut every
// occurrence out of every raw fragment. With parse_special=false control/unknown tokens are
// left in the text (user-defined ones are still cut, as in llama.cpp and HF tokenizers).
void Tokenizer::Impl::partition(std::string_view s, bool parse_special, std::vector<Fragment>& frags) const {
  frags.clear();
  if (s.empty()) return;
  frags.push_back({-1, 0, static_cast<uint32_t>(s.size())});
  std::vector<Fragment> next;
  for (const int32_t id : specials) {
    if (!parse_special && type[id] != TokenType::UserDefined) continue;
    const std::string& tok = text[id];
    bool any = false;
    for (const auto& f : frags)
      if (f.token < 0 && s.substr(f.off, f.len).find(tok) != std::string_view::npos) { any = true; break; }
    if (!any) continue;
    next.clear();
    for (const auto& f : frags) {
      if (f.token >= 0) { next.push_back(f); continue; }
      const std::string_view raw = s.substr(f.off, f.len);
      size_t pos = 0;
      while (true) {
        const size_t m = raw.find(tok, pos);
        if (m == std::string_view::npos) break;
        if (m > pos) next.push_back({-1, f.off + static_cast<uint32_t>(pos), static_cast<uint32_t>(m - pos)});
        next.push_back({id, 0, 0});
        pos = m + tok.size();
      }
      if (pos < raw.size()) next.push_back({-1, f.off + static_cast<uint32_t>(pos), static_cast<uint32_t>(raw.size() - pos)});
    }
    frags.swap(next);
  }
}

// The merge loop of llama.cpp (llm_tokenizer_bpe_session) and Hugging Face's BPE: merge the
// lowest-ranked adjacent pair, leftmost on ties, until no pair has a merge.
std::vector<Tokenizer::Impl::Piece> Tokenizer::Impl::merge_symbols(const std::vector<int32_t>& init) const {
  struct Sym { int32_t id, prev, next; bool alive; };
  struct Bigram { int32_t rank, left, right, right_id; };
  struct Cmp {
    bool operator()(const Bigram& a, const Bigram& b) const {
      return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
  };
  const int n = static_cast<int>(init.size());
  std::vector<Sym> sym(n);
  for (int i = 0; i < n; ++i) sym[i] = {init[i], i - 1, i + 1 < n ? i + 1 : -1, true};
  std::priority_queue<Bigram, std::vector<Bigram>, Cmp> queue;
  auto key_of = [&](int32_t l, int32_t r) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
  };
  auto try_add = [&](int l, int r) {
    if (l < 0 || r < 0 || sym[l].id < 0 || sym[r].id < 0) return;
    auto it = merges.find(key_of(sym[l].id, sym[r].id));
    if (it == merges.end()) return;
    queue.push({it->second.rank, l, r, sym[r].id});
  };
  for (int i = 1; i < n; ++i) try_add(i - 1, i);
  while (!queue.empty()) {
    const Bigram bg = queue.top();
    queue.pop();
    Sym& l = sym[bg.left];
    Sym& r = sym[bg.right];
    // Stale if either side was merged away or the right side grew since the push (the left
    // side only changes by absorbing its right neighbour, which kills that neighbour).
    if (!l.alive || !r.alive || l.next != bg.right || r.id != bg.right_id) continue;
    l.id = merges.at(key_of(l.id, r.id)).result;
    r.alive = false;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = bg.left;
    try_add(l.prev, bg.left);
    try_add(bg.left, l.next);
  }
  std::vector<Piece> out;
  for (int i = 0; i >= 0 && i < n; i = sym[i].next) out.push_back({sym[i].id, i});
  return out;
}

// BPE of one pre-tokenized word (raw UTF-8 bytes). Mirrors llm_tokenizer_bpe_session::tokenize.
void Tokenizer::Impl::bpe_word(std::string_view word, std::vector<int32_t>& out) const {
  const auto& b2u = byte_to_unicode();
  if (pretok->ignore_merges()) {
    std::string enc;
    for (unsigned char c : word) enc += b2u[c];
    auto it = token_id.find(enc);
    if (it != token_id.end()) { out.push_back(it->second); return; }
  }
  std::vector<int32_t> init(word.size());
  for (size_t i = 0; i < word.size(); ++i) init[i] = byte_symbol[static_cast<unsigned char>(word[i])];
  for (const Piece& p : merge_symbols(init)) {
    if (p.id >= 0 && p.id < n_vocab()) { out.push_back(p.id); continue; }
    // Not a vocab token: llama.cpp looks each byte of the byte-level string up as a
    // one-character token and drops those it does not find.
    const std::string s = p.id >= 0 ? symbol_text(p.id) : b2u[static_cast<unsigned char>(word[p.pos])];
    for (char c : s) {
      auto it = token_id.find(std::string_view(&c, 1));
      if (it != token_id.end()) out.push_back(it->second);
    }
  }
}

// BPE of one metaspace word (UTF-8 with "▁" for spaces), as Hugging Face's BPE model: each
// character is its vocab token, or its bytes' <0xXX> tokens (byte fallback), or unk; then the
// merges.
void Tokenizer::Impl::bpe_chars(std::string_view word, std::vector<int32_t>& out) const {
  if (pretok->ignore_merges()) {
    auto it = token_id.find(word);
    if (it != token_id.end()) { out.push_back(it->second); return; }
  }
  std::vector<int32_t> init;
  size_t pos = 0;
  while (pos < word.size()) {
    const size_t b = pos;
    next_codepoint(word, pos);
    const std::string_view ch = word.substr(b, pos - b);
    auto it = token_id.find(ch);
    if (it != token_id.end()) { init.push_back(it->second); continue; }
    bool bytes_ok = byte_fallback;
    for (char c : ch) bytes_ok = bytes_ok && byte_token[static_cast<unsigned char>(c)] >= 0;
    if (bytes_ok) {
      for (char c : ch) init.push_back(byte_token[static_cast<unsigned char>(c)]);
    } else if (unk >= 0) {
      init.push_back(unk);
    }
  }
  for (const Piece& p : merge_symbols(init)) out.push_back(p.id);  // merge results are vocab tokens here
}

void Tokenizer::Impl::encode_words(std::string_view s, const std::vector<std::pair<uint32_t, uint32_t>>& words,
                                   std::vector<int32_t>& out) const {
  std::vector<int32_t> tmp;
  for (const auto& [b, e] : words) {
    const std::string_view w = s.substr(b, e - b);
    {
      std::lock_guard<std::mutex> lock(cache_mu);
      auto it = cache.find(w);
      if (it != cache.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        continue;
      }
    }
    tmp.clear();
    if (metaspace()) bpe_chars(w, tmp);
    else bpe_word(w, tmp);
    out.insert(out.end(), tmp.begin(), tmp.end());
    std::lock_guard<std::mutex> lock(cache_mu);
    if (cache.size() > (1u << 20)) cache.clear();  // bound memory on endless novel input
    cache.emplace(std::string(w), tmp);
  }
}

void Tokenizer::Impl::encode_fragment(std::string_view s, bool at_start, std::vector<int32_t>& out) const {
  std::string fixed;
  if (sanitize_utf8(s, fixed)) s = fixed;
  std::vector<std::pair<uint32_t, uint32_t>> words;
  if (!metaspace()) {
    words.reserve(s.size() / 3 + 4);
    pretok->split(s, words);
    return encode_words(s, words, out);
  }
  // SentencePiece style: spaces become "▁", a "▁" goes in front as the scheme says, then one
  // word (or words split before each "▁").
  static const std::string kMeta = "\xE2\x96\x81";
  std::string t;
  for (char c : s) {
    if (c == ' ') t += kMeta;
    else t += c;
  }
  const bool starts_meta = t.compare(0, kMeta.size(), kMeta) == 0;
  if (!t.empty() && (metaspace_prepend == "normalizer" || (metaspace_prepend == "always" && !starts_meta) ||
                     (metaspace_prepend == "first" && at_start && !starts_meta)))
    t = kMeta + t;
  size_t b = 0;
  if (metaspace_split)
    for (size_t p = t.find(kMeta, 1); p != std::string::npos; p = t.find(kMeta, p + 1)) {
      words.emplace_back(uint32_t(b), uint32_t(p));
      b = p;
    }
  if (b < t.size()) words.emplace_back(uint32_t(b), uint32_t(t.size()));
  encode_words(t, words, out);
}

namespace {

// The byte a "<0xHH>" token stands for; -1 when its text is not of that form (a file may type
// any text as a byte token: std::stoi threw std::invalid_argument on "<0xZZ>", found by
// fuzz/fuzz_hf_tokenizer).
int byte_of_token(const std::string& t) {
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  };
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  const int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

// llama.cpp token_to_piece with special=true: control/user-defined/unknown as their text,
// normal tokens through the inverse byte mapping, byte tokens <0xXX> as that byte.
std::string Tokenizer::Impl::decode_piece(int32_t id) const {
  const std::string& t = text[id];
  switch (type[id]) {
    case TokenType::Control:
    case TokenType::UserDefined:
    case TokenType::Unknown:
      return t;
    case TokenType::Byte:
      if (const int b = byte_of_token(t); b >= 0) return std::string(1, static_cast<char>(b));
      return {};  // a byte token without a byte decodes to nothing
    case TokenType::Normal: {
      if (metaspace()) {  // "▁" is a space; the text is otherwise the token's own UTF-8
        std::string out;
        for (size_t p = 0; p < t.size();) {
          if (t.compare(p, 3, "\xE2\x96\x81") == 0) { out += ' '; p += 3; }
          else out += t[p++];
        }
        return out;
      }
      std::string out;
      size_t pos = 0;
      while (pos < t.size()) {
        const size_t start = pos;
        const int b = unicode_to_byte(next_codepoint(t, pos));
        if (b >= 0) {
          out += static_cast<char>(b);
        } else {  // llama.cpp's marker for a character outside the byte mapping
          out += "[UNK_BYTE_0x";
          static const char* hex = "0123456789abcdef";
          for (size_t k = start; k < pos; ++k) {
            const auto c = static_cast<unsigned char>(t[k]);
            out += hex[c >> 4];
            out += hex[c & 15];
          }
          out += t + "]";
        }
      }
      return out;
    }
    default:  // undefined / unused: llama.cpp renders nothing
      return {};
  }
}

Tokenizer Tokenizer::from_spec(const TokenizerSpec& spec) {
  auto impl = std::make_unique<Impl>();
  Impl& m = *impl;
  m.source = spec.source;
  m.pre = spec.pre;
  if (spec.model != "gpt2" && spec.model != "metaspace-bpe")
    fail(spec.source, "tokenizer.ggml.model", "\"gpt2\" (byte-level BPE)", "\"" + spec.model + "\"");
  if (spec.model == "metaspace-bpe") {
    m.metaspace_prepend = spec.metaspace_prepend.empty() ? "never" : spec.metaspace_prepend;
    m.metaspace_split = spec.metaspace_split;
    m.byte_fallback = spec.byte_fallback;
  }
  if (spec.tokens.empty()) fail(spec.source, "tokenizer.ggml.tokens", "a non-empty array");
  if (!spec.token_types.empty() && spec.token_types.size() != spec.tokens.size())
    fail(spec.source, "tokenizer.ggml.token_type", std::to_string(spec.tokens.size()) + " entries",
         std::to_string(spec.token_types.size()));
  m.pretok = spec.pre_regexes.empty() && !m.metaspace()
                 ? std::make_unique<PreTokenizer>(spec.pre, spec.source)
                 : std::make_unique<PreTokenizer>(spec.pre_regexes, spec.ignore_merges, spec.pre, spec.source);

  const int n = static_cast<int>(spec.tokens.size());
  m.text.reserve(n);
  m.type.reserve(n);
  m.token_id.reserve(n * 2);
  for (int i = 0; i < n; ++i) {
    std::string w = spec.tokens[i];
    if (w.empty()) w = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp
    if (!m.token_id.emplace(w, i).second)
      fail(spec.source, "tokenizer.ggml.tokens", "unique token strings",
           "'" + w + "' at ids " + std::to_string(m.token_id.at(w)) + " and " + std::to_string(i));
    int32_t tt = spec.token_types.empty() ? 1 : spec.token_types[i];
    if (tt < 0 || tt > 6) tt = 0;
    m.type.push_back(static_cast<TokenType>(tt));
    m.text.push_back(std::move(w));
  }
  for (const char* eog : k_eog_texts) {  // llama.cpp forces these to control
    if (!spec.eog_by_text) break;
    auto it = m.token_id.find(std::string_view(eog));
    if (it != m.token_id.end() && m.type[it->second] != TokenType::Control) m.type[it->second] = TokenType::Control;
  }

  m.symbol_id = m.token_id;
  m.symbol_id.reserve(n * 2);
  m.merges.reserve(spec.merges.size() * 2);
  for (size_t r = 0; r < spec.merges.size(); ++r) {
    const std::string& mg = spec.merges[r];
    const size_t sp = mg.find(' ', 1);
    if (sp == std::string::npos) continue;  // llama.cpp would insert ("", "") which never matches
    const std::string left = mg.substr(0, sp), right = mg.substr(sp + 1);
    const int32_t l = m.intern(left), rr = m.intern(right);
    const int32_t res = m.intern(left + right);
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(rr);
    m.merges.emplace(key, Merge{static_cast<int32_t>(r), res});  // first rank wins, as llama.cpp
  }
  // Initial BPE symbols: one per raw byte (a merge part may be a byte char missing from the vocab).
  const auto& b2u = byte_to_unicode();
  for (int b = 0; b < 256; ++b) {
    auto it = m.symbol_id.find(b2u[b]);
    m.byte_symbol[b] = it == m.symbol_id.end() ? -1 : it->second;
    static const char* hex = "0123456789ABCDEF";
    const char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};  // Hugging Face's byte-fallback names
    auto bt = m.token_id.find(std::string_view(name));
    m.byte_token[b] = bt == m.token_id.end() ? -1 : bt->second;
  }

  auto check_id = [&](const std::optional<int64_t>& v, const char* key, int32_t dflt) -> int32_t {
    if (!v) return dflt < n ? dflt : -1;
    if (*v < 0 || *v >= n) fail(spec.source, key, "an id in [0, " + std::to_string(n) + ")", std::to_string(*v));
    return static_cast<int32_t>(*v);
  };
  m.bos = check_id(spec.bos_id, "tokenizer.ggml.bos_token_id", spec.missing_special_id);
  m.eos = check_id(spec.eos_id, "tokenizer.ggml.eos_token_id", spec.missing_special_id);
  m.unk = check_id(spec.unk_id, "unk_token", -1);
  const int32_t eot = check_id(spec.eot_id, "tokenizer.ggml.eot_token_id", -1);
  const int32_t eom = check_id(spec.eom_id, "tokenizer.ggml.eom_token_id", -1);
  m.add_bos = spec.add_bos.value_or(m.pretok->ignore_merges());  // llama3 family defaults to true
  if (m.add_bos && m.bos < 0)
    fail(spec.source, "tokenizer.ggml.bos_token_id", "an id, since add_bos_token is true");

  for (int32_t id = 0; id < n; ++id)
    if (m.is_special_attr(id)) m.specials.push_back(id);
  std::stable_sort(m.specials.begin(), m.specials.end(),
                   [&](int32_t a, int32_t b) { return m.text[a].size() > m.text[b].size(); });

  std::unordered_set<int32_t> stops;
  for (int32_t id : {m.eos, eot, eom})
    if (id >= 0) stops.insert(id);
  for (int64_t id : spec.extra_stop_ids) stops.insert(check_id(id, "eos_token_id", -1));
  for (const char* eog : k_eog_texts) {
    if (!spec.eog_by_text) break;
    auto it = m.token_id.find(std::string_view(eog));
    if (it != m.token_id.end()) stops.insert(it->second);
  }
  m.stops.assign(stops.begin(), stops.end());
  std::sort(m.stops.begin(), m.stops.end());

  m.piece.resize(n);
  for (int32_t id = 0; id < n; ++id) m.piece[id] = m.decode_piece(id);
  return Tokenizer(std::move(impl));
}

TokenizerSpec tokenizer_spec_from_gguf(const GgufFile& f) {
  TokenizerSpec spec;
  spec.source = f.path();
  spec.model = f.get_string("tokenizer.ggml.model");
  spec.pre = f.find_string("tokenizer.ggml.pre").value_or("");
  spec.tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (f.has("tokenizer.ggml.token_type")) {
    for (int64_t t : f.get_int_array("tokenizer.ggml.token_type")) spec.token_types.push_back(static_cast<int32_t>(t));
  }
  if (spec.model == "gpt2") spec.merges = f.get_string_array("tokenizer.ggml.merges");
  spec.bos_id = f.find_int("tokenizer.ggml.bos_token_id");
  spec.eos_id = f.find_int("tokenizer.ggml.eos_token_id");
  spec.eot_id = f.find_int("tokenizer.ggml.eot_token_id");
  spec.eom_id = f.find_int("tokenizer.ggml.eom_token_id");
  spec.add_bos = f.find_bool("tokenizer.ggml.add_bos_token");
  return spec;
}

Tokenizer Tokenizer::from_gguf(const GgufFile& f) { return from_spec(tokenizer_spec_from_gguf(f)); }

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos) {
    if (impl_->bos < 0) fail(impl_->source, "tokenizer.ggml.bos_token_id", "a BOS token to prepend");
    out.push_back(impl_->bos);
  }
  std::vector<Fragment> frags;
  impl_->partition(text, parse_special, frags);
  for (const auto& f : frags) {
    if (f.token >= 0) out.push_back(f.token);
    else impl_->encode_fragment(text.substr(f.off, f.len), f.off == 0, out);
  }
  return out;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  return encode(text, impl_->add_bos, true);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  for (const int32_t id : ids) {
    if (id < 0 || id >= impl_->n_vocab())
      fail(impl_->source, "token id", "an id in [0, " + std::to_string(impl_->n_vocab()) + ")", std::to_string(id));
    const TokenType t = impl_->type[id];
    if (skip_special && (t == TokenType::Control || t == TokenType::Unknown)) continue;
    out += impl_->piece[id];
  }
  // SentencePiece-style decoders drop the space the prepended "▁" became (Strip / Metaspace).
  if (impl_->metaspace() && impl_->metaspace_prepend != "never" && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

std::string Tokenizer::token_piece(int32_t id) const {
  if (id < 0 || id >= impl_->n_vocab())
    fail(impl_->source, "token id", "an id in [0, " + std::to_string(impl_->n_vocab()) + ")", std::to_string(id));
  return impl_->piece[id];
}

const std::string& Tokenizer::token_text(int32_t id) const {
  if (id < 0 || id >= impl_->n_vocab())
    fail(impl_->source, "token id", "an id in [0, " + std::to_string(impl_->n_vocab()) + ")", std::to_string(id));
  return impl_->text[id];
}

int Tokenizer::n_vocab() const { return impl_->n_vocab(); }
int32_t Tokenizer::bos() const { return impl_->bos; }
int32_t Tokenizer::eos() const { return impl_->eos; }
bool Tokenizer::add_bos_default() const { return impl_->add_bos; }
bool Tokenizer::is_control(int32_t id) const {
  return id >= 0 && id < impl_->n_vocab() && impl_->type[id] == TokenType::Control;
}
TokenType Tokenizer::token_type(int32_t id) const {
  if (id < 0 || id >= impl_->n_vocab()) return TokenType::Undefined;
  return impl_->type[id];
}
const std::vector<int32_t>& Tokenizer::stop_tokens() const { return impl_->stops; }
bool Tokenizer::is_stop(int32_t id) const {
  return std::binary_search(impl_->stops.begin(), impl_->stops.end(), id);
}
int32_t Tokenizer::find_token(std::string_view text) const {
  auto it = impl_->token_id.find(text);
  return it == impl_->token_id.end() ? -1 : it->second;
}
const std::string& Tokenizer::pre_name() const { return impl_->pre; }

}  // namespace cokv
