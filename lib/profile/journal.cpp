// JournaledGame: append-only, fsync'd evaluation journal with exact replay (see journal.h).
#include "profile/journal.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
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
      if (!out.settings.is_object())
        fail(where, "header settings", "a JSON object", out.settings.dump().substr(0, 40));
      continue;
    }
    if (line.substr(0, 2) == "# ") {  // a comment
      out.comments.emplace_back(line.substr(2));
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
    out.records.push_back(
        {format_key(EvalKey{tok[0], chain, slice, sample, part}), std::string(tok[5]), utility, line_no});
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

void JournaledGame::set_share(uint32_t index, uint32_t count) {
  require(count >= 1 && index < count, "journal: shard " + std::to_string(index) + "/" + std::to_string(count) +
                                           " (expected index < count)");
  share_index_ = index;
  share_count_ = count;
}

void JournaledGame::comment(const std::string& text) {
  if (!file_) return;
  std::string line = text;
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  file_->append("# " + line + "\n", true);
}

// One batch after the share, the replay-only rule and the journal answered what they could:
// the coalitions left for the game, where their utilities go, and their journal lines.
struct JournaledGame::Pending {
  std::vector<Coalition> coalitions;
  std::vector<size_t> where;       // index in the caller's span
  std::vector<std::string> lines;  // "<key> <mask>" per coalition
  std::vector<double> utilities;
};

JournaledGame::Pending JournaledGame::pending(std::span<const EvalKey> keys, std::span<const Coalition> batch,
                                              std::span<double> utilities, size_t offset) {
  Pending p;
  for (size_t k = 0; k < batch.size(); ++k) {
    utilities[k] = std::numeric_limits<double>::quiet_NaN();
    const bool mine = share_count_ == 1 || keys[k].estimator == "base" || keys[k].sample % share_count_ == share_index_;
    if (!mine) {
      ++n_skipped_;
      continue;
    }
    const std::string key = format_key(keys[k]);
    const auto it = journaled_.find(key);
    if (replay_only_ && it == journaled_.end()) {
      missing_.push_back(keys[k]);
      continue;
    }
    const std::string mask = file_ ? coalition_hex(batch[k]) : std::string();
    if (file_ && it != journaled_.end()) {
      if (it->second.mask != mask)
        fail(path_ + ":" + std::to_string(it->second.line), "coalition of '" + key + "'", mask + " (drawn by this run)",
             it->second.mask + " (the journal was written with a different seed or settings)");
      utilities[k] = it->second.utility;
      ++n_replayed_;
      continue;
    }
    p.coalitions.push_back(batch[k]);
    p.where.push_back(offset + k);
    if (file_) p.lines.push_back(key + ' ' + mask);
  }
  p.utilities.resize(p.coalitions.size());
  return p;
}

void JournaledGame::evaluate(std::span<const EvalKey> keys, std::span<const Coalition> batch,
                             std::span<double> utilities, int batch_size) {
  require(keys.size() == batch.size() && batch.size() == utilities.size(),
          "JournaledGame::evaluate: keys, batch and utilities differ in length");
  const size_t n = size_t(game_.n_players());
  for (const Coalition& c : batch)
    if (c.size() != n) fail("JournaledGame::evaluate", "coalition size", std::to_string(n), std::to_string(c.size()));
  throw_if_stopped(path_.empty() ? std::string()
                                  : path_ + " holds every finished batch: rerun with --resume to continue");
  n_requested_ += int64_t(batch.size());
  const size_t per = batch_size > 0 ? size_t(batch_size) : std::max<size_t>(batch.size(), 1);
  std::vector<Pending> todo;
  for (size_t b = 0; b < batch.size(); b += per) {
    const size_t len = std::min(per, batch.size() - b);
    Pending p = pending(keys.subspan(b, len), batch.subspan(b, len), utilities.subspan(b, len), b);
    if (!p.coalitions.empty()) todo.push_back(std::move(p));
  }
  if (todo.empty()) return;
  std::vector<std::span<const Coalition>> in;
  std::vector<std::span<double>> out;
  for (Pending& p : todo) in.emplace_back(p.coalitions), out.emplace_back(p.utilities);
  // Batches come back in order (the game calls done so): the journal keeps a single writer
  // and the order a one-device run writes.
  game_.evaluate_batches(in, out, [&](size_t i) {
    const Pending& p = todo[i];
    std::string text;
    for (size_t t = 0; t < p.where.size(); ++t) {
      utilities[p.where[t]] = p.utilities[t];
      if (file_) text += p.lines[t] + ' ' + format_utility(p.utilities[t]) + '\n';
    }
    n_evaluated_ += int64_t(p.where.size());
    if (file_) file_->append(text, true);
  });
}

namespace {

struct ShardFile {
  std::string path;
  nlohmann::json settings;
  std::vector<std::string> comments;
  std::vector<std::pair<std::string, std::string>> records;  // key, "mask utility"
};

ShardFile read_shard(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "shard journal", "a readable file", std::strerror(errno));
  ShardFile f;
  f.path = path;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    const std::string where = path + ":" + std::to_string(n);
    if (n == 1) {
      if (line.rfind(kMagic, 0) != 0) fail(where, "header", "'" + std::string(kMagic) + "{settings}'", line.substr(0, 40));
      try {
        f.settings = nlohmann::json::parse(line.substr(kMagic.size()));
      } catch (const nlohmann::json::exception& e) {
        fail(where, "settings", "JSON", e.what());
      }
      continue;
    }
    if (in.eof()) break;  // a last line without its newline: cut by a kill, not a record
    if (line.rfind("# ", 0) == 0) {
      f.comments.push_back(line.substr(2));
      continue;
    }
    // The key is the first five fields, the rest is the coalition and its utility.
    size_t cut = 0;
    for (int sp = 0; sp < 5 && cut != std::string::npos; ++sp) cut = line.find(' ', cut + (sp ? 1 : 0));
    if (cut == std::string::npos) fail(where, "record", "'<estimator> <chain> <slice> <sample> <part> <mask> <utility>'", line.substr(0, 120));
    f.records.emplace_back(line.substr(0, cut), line.substr(cut + 1));
  }
  if (n == 0) fail(path, "shard journal", "a header line", "an empty file");
  if (!f.settings.is_object() || !f.settings.contains("shard") || !f.settings["shard"].is_object())
    fail(path, "settings.shard", "{\"index\": I, \"count\": N} (a journal written with --shard I/N)");
  return f;
}

// The first key where two settings objects differ, as a dotted path ("estimator.seed").
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& at = "") {
  if (a.is_object() && b.is_object()) {
    for (const auto& [k, v] : a.items()) {
      const std::string p = at.empty() ? k : at + "." + k;
      if (!b.contains(k)) return p;
      const std::string d = first_difference(v, b[k], p);
      if (!d.empty()) return d;
    }
    for (const auto& [k, v] : b.items())
      if (!a.contains(k)) return at.empty() ? k : at + "." + k;
    return "";
  }
  return a == b ? "" : (at.empty() ? "(top level)" : at);
}

nlohmann::json value_at(const nlohmann::json& j, const std::string& dotted) {
  const nlohmann::json* cur = &j;
  size_t pos = 0;
  while (pos <= dotted.size()) {
    const size_t dot = dotted.find('.', pos);
    const std::string k = dotted.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (!cur->is_object() || !cur->contains(k)) return nullptr;
    cur = &(*cur)[k];
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return *cur;
}

}  // namespace

MergedJournal merge_journal_files(const std::vector<std::string>& shards, const std::string& out) {
  if (shards.empty()) fail("merge", "shards", "at least one shard journal", "none");
  std::vector<ShardFile> files;
  for (const auto& p : shards) files.push_back(read_shard(p));
  MergedJournal m;
  nlohmann::json base = files[0].settings;
  base.erase("shard");
  m.count = files[0].settings["shard"].value("count", 0u);
  if (m.count < 1) fail(files[0].path, "settings.shard.count", ">= 1");
  std::map<uint32_t, std::string> seen;  // index -> file
  for (const ShardFile& f : files) {
    nlohmann::json s = f.settings;
    const uint32_t index = s["shard"].value("index", 0u), count = s["shard"].value("count", 0u);
    s.erase("shard");
    const std::string d = first_difference(base, s);
    if (!d.empty())
      fail(f.path, "settings." + d,
           value_at(base, d).dump() + " (as in " + files[0].path + "; shards of one run share every setting)",
           value_at(s, d).dump());
    if (count != m.count)
      fail(f.path, "settings.shard.count", std::to_string(m.count) + " (as in " + files[0].path + ")",
           std::to_string(count));
    if (index >= count) fail(f.path, "settings.shard.index", "< " + std::to_string(count), std::to_string(index));
    if (auto it = seen.find(index); it != seen.end())
      fail(f.path, "settings.shard.index", "one file per shard", std::to_string(index) + ", also in " + it->second);
    seen[index] = f.path;
  }
  for (const auto& [i, path] : seen) m.indices.push_back(i);
  // Records: one per key; the same key from two shards (the base coalitions) must agree.
  std::map<std::string, std::pair<std::string, std::string>> records;  // key -> (rest, file)
  for (const ShardFile& f : files)
    for (const auto& [key, rest] : f.records) {
      auto [it, fresh] = records.try_emplace(key, rest, f.path);
      if (!fresh && it->second.first != rest)
        fail(f.path, "record '" + key + "'", it->second.first + " (as in " + it->second.second + ")",
             rest + " (shards computed it differently: use the same --threads and build on every shard)");
    }
  std::map<uint32_t, std::string> cmds;
  for (const ShardFile& f : files)
    for (const auto& c : f.comments)
      if (c.rfind("command: ", 0) == 0) cmds[f.settings["shard"].value("index", 0u)] = c.substr(9);
  for (uint32_t i : m.indices) m.commands.push_back(cmds.count(i) ? cmds[i] : "");
  std::string text = std::string(kMagic) + base.dump() + "\n";
  for (const auto& [key, v] : records) text += key + ' ' + v.first + '\n';
  write_file_bytes(out, text);
  m.settings = base;
  m.records = int64_t(records.size());
  return m;
}

}  // namespace cokv::profile
