// The evaluation journal: every utility an estimator obtains is appended to a text file as soon as
// its batch completes (fsync'd), so a profiling run of hours can be killed and resumed with the
// same final values, bit for bit.
//
// File format (cokv.journal.v1), one line per record:
//   # cokv.journal.v1 {settings JSON}                       first line: the run's settings
//   <estimator> <chain> <slice> <sample> <part> <mask> <utility>
// estimator: a tag without spaces ("ssv", "perm", "lev", "exact", "base"); chain, slice, sample,
// part: decimal (part: 0 = the sampled coalition S, 1 = its complement N\S for SSV and regression;
// the prefix length for permutations); mask: the coalition as hex digits of sum_{i in S} 2^i,
// ceil(n/4) digits, most significant first; utility: C99 hex float (%a), so replay is exact.
// Lines "# <text>" after the header are comments (a shard journal records its command line so).
// A last line without its newline (killed mid-write) is ignored and cut off on resume; a
// damaged header (cut short, not JSON, other settings) is refused, never silently replaced.
//
// Shards (cokv-profile --shard I/N): a run evaluates only the samples s with s % N == I (and the
// "base" coalitions, which every shard evaluates); the rest are skipped. The header's settings then
// hold {"shard": {"index": I, "count": N}}. merge_journal_files() turns the N shard journals back
// into the journal one unsharded run writes, so a replay of it gives that run's bytes.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/file_bytes.h"
#include "profile/game.h"

namespace cokv::profile {

// Names one utility evaluation of an estimator run; stable across runs with the same settings
// (it fixes which random stream drew the coalition), independent of batch size and threads.
struct EvalKey {
  std::string_view estimator;  // a tag without spaces, e.g. "ssv"
  uint32_t chain = 0;
  uint32_t slice = 0;
  uint64_t sample = 0;
  uint32_t part = 0;
};

std::string format_key(const EvalKey& key);        // "ssv 0 22 5 1"
std::string coalition_hex(const Coalition& c);      // see the file format above

// A journal's text, parsed (parse_journal): its header's settings and every complete record.
struct JournalRecord {
  std::string key;   // format_key of the record
  std::string mask;  // hex coalition
  double utility = 0;
  int64_t line = 0;  // 1-based line number, for messages
};
struct JournalText {
  nlohmann::json settings;  // null for an empty text
  std::vector<JournalRecord> records;
  std::vector<std::string> comments;  // "# " lines after the header, without the "# "
  size_t complete_bytes = 0;          // bytes of complete lines (a last line without '\n' is not counted)
};
// Throws cokv::Error naming "<path>:<line>" for a damaged header or record line, and for a
// non-empty text whose header line is incomplete.
JournalText parse_journal(std::string_view text, const std::string& path);

// What to do with the journal file.
enum class JournalMode {
  fresh,   // start a new journal; refuses to overwrite a non-empty file (use resume, or remove it)
  resume,  // replay an existing journal (created if missing); refuses different settings
};

// Wraps a Game: answers keys already in the journal from the file (after checking the coalition
// is the one this run drew), evaluates only the others, and appends them. Without a journal it is
// a pass-through that counts evaluations.
class JournaledGame {
 public:
  explicit JournaledGame(Game& game);
  // settings: everything that determines which coalitions are drawn and what they are worth
  // (estimator, seed, samples, slices, model, data...), but not the batch size or thread count.
  JournaledGame(Game& game, const std::string& path, const nlohmann::json& settings, JournalMode mode);
  ~JournaledGame();
  JournaledGame(const JournaledGame&) = delete;
  JournaledGame& operator=(const JournaledGame&) = delete;

  int n_players() const { return game_.n_players(); }

  // Evaluates only keys of this share (see the file comment); skipped keys get NaN utilities and
  // are neither evaluated nor journaled.
  void set_share(uint32_t index, uint32_t count);
  // Replay only: keys not in the journal are not evaluated; they get NaN and are listed in
  // missing() (a merge whose shards are incomplete).
  void set_replay_only(bool on) { replay_only_ = on; }
  const std::vector<EvalKey>& missing() const { return missing_; }
  // Appends "# <text>" (one line) to the journal.
  void comment(const std::string& text);

  // utilities[k] = U(batch[k]); keys[k] names batch[k]. All three spans have the same length.
  // Throws cokv::Error naming the journal file and line when a journaled key's coalition differs.
  // batch_size > 0 cuts the coalitions into batches of that many (the last may be shorter) that
  // the game may evaluate concurrently (ModelGame on several devices); the journal receives them
  // in order, so it reads as a one-device run's. 0: one batch.
  void evaluate(std::span<const EvalKey> keys, std::span<const Coalition> batch, std::span<double> utilities,
                int batch_size = 0);
  int parallelism() const { return game_.parallelism(); }

  int64_t n_requested() const { return n_requested_; }  // all evaluate() entries so far
  int64_t n_evaluated() const { return n_evaluated_; }  // of which the game computed
  int64_t n_replayed() const { return n_replayed_; }    // of which came from the journal
  int64_t n_skipped() const { return n_skipped_; }      // of which another shard owns
  const std::string& path() const { return path_; }

 private:
  struct Entry {
    int64_t line;      // 1-based line number in the file, for messages
    std::string mask;  // hex coalition
    double utility;
  };
  struct Pending;
  void load(const nlohmann::json& settings);
  Pending pending(std::span<const EvalKey> keys, std::span<const Coalition> batch, std::span<double> utilities,
                  size_t offset);

  Game& game_;
  std::string path_;
  std::unique_ptr<AppendFile> file_;  // null: no journal
  std::unordered_map<std::string, Entry> journaled_;  // format_key -> entry
  int64_t n_requested_ = 0, n_evaluated_ = 0, n_replayed_ = 0, n_skipped_ = 0;
  uint32_t share_index_ = 0, share_count_ = 1;
  bool replay_only_ = false;
  std::vector<EvalKey> missing_;  // estimator tags point at string literals (EvalKey's contract)
};

// The N shard journals of one run merged into `out` (written fresh): headers must agree in
// everything but shard.index (an error names the first differing field and both files), each
// index may appear once, records of the same key must agree to the bit. The merged header is the
// settings without "shard" (an unsharded run's).
struct MergedJournal {
  nlohmann::json settings;             // without "shard"
  uint32_t count = 0;                  // N
  std::vector<uint32_t> indices;       // shards present, ascending
  std::vector<std::string> commands;   // per present shard, its recorded command line ("" if none)
  int64_t records = 0;                 // distinct records written
};
MergedJournal merge_journal_files(const std::vector<std::string>& shards, const std::string& out);

}  // namespace cokv::profile
