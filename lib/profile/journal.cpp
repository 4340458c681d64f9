// JournaledGame: append-only, fsync'd evaluation journal with exact replay (see journal.h).
#include "profile/journal.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/json_text.h"
#include "core/stop.h"

namespace cokv::profile {

namespace {

constexpr std::string_view kMagic = "# cokv.journal.v1 ";

std::string format_utility(double u) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", u);
  return buf;
}

template <class T>
bool parse_uint(std::string_view s, T& out) {
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string format_key(const EvalKey& key) {
  std::string s(key.estimator);
  s += ' ' + std::to_string(key.chain) + ' ' + std::to_string(key.slice) + ' ' + std::to_string(key.sample) +
       ' ' + std::to_string(key.part);
  return s;
}

std::string coalition_hex(const Coalition& c) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const size_t n = c.size(), digits = (n + 3) / 4;
  std::string s(digits == 0 ? 1 : digits, '0');
  for (size_t p = 0; p < digits; ++p) {  // p: nibble index from the least significant end
    int v = 0;
    for (size_t b = 0; b < 4 && 4 * p + b < n; ++b) v |= (c[4 * p + b] ? 1 : 0) << b;
    s[digits - 1 - p] = kDigits[v];
  }
  return s;
}

JournaledGame::JournaledGame(Game& game) : game_(game) {}

JournalText parse_journal(std::string_view text, const std::string& path) {
  JournalText out;
  // Only complete lines count: a run killed mid-write leaves a last line without its newline.
  const size_t last_nl = text.rfind('\n');
  out.complete_bytes = last_nl == std::string_view::npos ? 0 : last_nl + 1;
  if (text.empty()) return out;
  if (out.complete_bytes == 0)
    fail(path + ":1", "header", "a complete first line '" + std::string(kMagic) + "{settings}'",
         std::to_string(text.size()) + " bytes without a newline (the header was cut short; the file holds no "
                                       "evaluations: remove it to start over)");
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < out.complete_bytes) {
    const size_t eol = text.find('\n', pos);
    const std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    const std::string where = path + ":" + std::to_string(line_no);
    if (line_no == 1) {
      if (line.substr(0, kMagic.size()) != kMagic)
        fail(where, "header", "'" + std::string(kMagic) + "{settings}'", std::string(line.substr(0, 40)));
      out.settings = parse_json(line.substr(kMagic.size()), where + ": header settings");
      if (!out.settings.is_object()) fail(where, "header settings", "a JSON object", out.settings.dump().substr(0, 40));
      continue;
    }
    // <estimator> <chain> <slice> <sample> <part> <mask> <utility>
    std::string_view tok[7];
    size_t start = 0;
    int nt = 0;
    for (; nt < 7 && start <= line.size(); ++nt) {
      const size_t sp = line.find(' ', start);
      const size_t end = sp == std::string_view::npos ? line.size() : sp;
      tok[nt] = line.substr(start, end - start);
      start = end + 1;
    }
    uint32_t chain, slice, part;
    uint64_t sample;
    bool ok = nt == 7 && start > line.size() && !tok[0].empty() && parse_uint(tok[1], chain) &&
              parse_uint(tok[2], slice) && parse_uint(tok[3], sample) && parse_uint(tok[4], part) &&
              !tok[5].empty() && !tok[6].empty();
    double utility = 0;
    if (ok) {
      const std::string u(tok[6]);
      char* end = nullptr;
      utility = std::strtod(u.c_str(), &end);
      ok = end == u.c_str() + u.size();
    }
    if (!ok)
      fail(where, "record", "'<estimator> <chain> <slice> <sample> <part> <hex mask> <hex-float utility>'",
           std::string(line.substr(0, 120)));
    out.records.push_back({format_key(EvalKey{tok[0], chain, slice, sample, part}), std::string(tok[5]), utility,
                           line_no});
  }
  return out;
}

JournaledGame::JournaledGame(Game& game, const std::string& path, const nlohmann::json& settings,
                             JournalMode mode)
    : game_(game), path_(path) {
  require_regular_file(path, "journal");
  if (mode == JournalMode::fresh) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && std::filesystem::file_size(path, ec) > 0)
      fail(path, "journal", "no existing journal (pass --resume to continue that run, or remove the file)",
           "a non-empty file");
  }
  if (mode == JournalMode::resume) load(settings);
  if (!file_) {  // new journal (fresh, or resume of a missing/empty one): header first
    file_ = std::make_unique<AppendFile>(path, AppendFile::Mode::Truncate);
    file_->append(std::string(kMagic) + settings.dump() + "\n", true);
  }
}

JournaledGame::~JournaledGame() = default;

void JournaledGame::load(const nlohmann::json& settings) {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return;  // nothing to resume: start a new journal
  const std::string text = read_file_bytes(path_);
  if (text.empty()) return;
  JournalText j = parse_journal(text, path_);
  if (j.settings != settings)
    fail(path_ + ":1", "settings", "this run's " + settings.dump(),
         j.settings.dump() + " (the journal was written with a different seed or settings: resume with "
                             "those, or start a new journal)");
  for (JournalRecord& r : j.records)
    journaled_.try_emplace(std::move(r.key), Entry{r.line, std::move(r.mask), r.utility});
  file_ = std::make_unique<AppendFile>(path_, AppendFile::Mode::Keep);
  if (j.complete_bytes < text.size()) file_->truncate(j.complete_bytes);
}

void JournaledGame::evaluate(std::span<const EvalKey> keys, std::span<const Coalition> batch,
                             std::span<double> utilities) {
  require(keys.size() == batch.size() && batch.size() == utilities.size(),
          "JournaledGame::evaluate: keys, batch and utilities differ in length");
  const size_t n = size_t(game_.n_players());
  for (const Coalition& c : batch)
    if (c.size() != n) fail("JournaledGame::evaluate", "coalition size", std::to_string(n), std::to_string(c.size()));
  throw_if_stopped(path_.empty() ? std::string()
                                  : path_ + " holds every finished batch: rerun with --resume to continue");
  n_requested_ += int64_t(batch.size());
  if (!file_) {  // no journal
    game_.evaluate(batch, utilities);
    n_evaluated_ += int64_t(batch.size());
    return;
  }

  std::vector<size_t> todo;
  std::vector<std::string> key_text(batch.size()), masks(batch.size());
  for (size_t k = 0; k < batch.size(); ++k) {
    key_text[k] = format_key(keys[k]);
    masks[k] = coalition_hex(batch[k]);
    const auto it = journaled_.find(key_text[k]);
    if (it == journaled_.end()) {
      todo.push_back(k);
      continue;
    }
    if (it->second.mask != masks[k])
      fail(path_ + ":" + std::to_string(it->second.line), "coalition of '" + key_text[k] + "'",
           masks[k] + " (drawn by this run)",
           it->second.mask + " (the journal was written with a different seed or settings)");
    utilities[k] = it->second.utility;
    ++n_replayed_;
  }
  if (todo.empty()) return;

  if (todo.size() == batch.size()) {
    game_.evaluate(batch, utilities);
  } else {
    std::vector<Coalition> sub;
    sub.reserve(todo.size());
    for (size_t k : todo) sub.push_back(batch[k]);
    std::vector<double> u(todo.size());
    game_.evaluate(sub, u);
    for (size_t t = 0; t < todo.size(); ++t) utilities[todo[t]] = u[t];
  }
  n_evaluated_ += int64_t(todo.size());

  std::string text;
  for (size_t k : todo) text += key_text[k] + ' ' + masks[k] + ' ' + format_utility(utilities[k]) + '\n';
  file_->append(text, true);
}

}  // namespace cokv::profile
