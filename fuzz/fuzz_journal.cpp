// Fuzz target: evaluation journals (lib/profile/journal.*) on arbitrary bytes: parse_journal
// on the text, then a resume (JournaledGame) over the file with a 4-player table game and the
// settings fuzz/make_seeds.cpp writes into its seed journals. Checks: only cokv::Error escapes,
// naming the journal; a resumed run replays exactly the journal's first utility per key,
// computes the others, and leaves a journal that parses and holds every key.
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "fuzz_common.h"
#include "journal_setup.h"
#include "profile/journal.h"

using namespace cokv::profile;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cokv_fuzz::JournalSetup s;
  const std::string& path = cokv_fuzz::write_input(data, size, ".journal.txt");
  JournalText parsed;
  try {
    parsed = parse_journal(cokv_fuzz::as_text(data, size), path);
  } catch (const cokv::Error& e) {
    if (std::string(e.what()).find(path) == std::string::npos)
      cokv_fuzz::property_failed("an error that does not name the journal");
  }
  std::vector<double> u(s.keys.size());
  try {
    JournaledGame g(s.game, path, s.settings, JournalMode::resume);
    g.evaluate(s.keys, s.coalitions, u);
    if (g.n_replayed() + g.n_evaluated() != int64_t(s.keys.size()))
      cokv_fuzz::property_failed("replayed + computed != requested");
  } catch (const cokv::Error& e) {
    if (std::string(e.what()).find(path) == std::string::npos)
      cokv_fuzz::property_failed("an error that does not name the journal");
    return 0;
  }
  // Replayed values are the journal's first record per key, bit for bit; the rest the game's.
  std::map<std::string, double> first;
  for (const auto& r : parsed.records) first.emplace(r.key, r.utility);
  std::vector<double> truth(s.keys.size());
  s.game.evaluate(s.coalitions, truth);
  for (size_t k = 0; k < s.keys.size(); ++k) {
    const auto it = first.find(format_key(s.keys[k]));
    const double want = it != first.end() ? it->second : truth[k];
    if (std::memcmp(&want, &u[k], sizeof want) != 0) cokv_fuzz::property_failed("a utility that is not the journal's");
  }
  const JournalText after = parse_journal(cokv::read_file_bytes(path), path);
  std::map<std::string, int> seen;
  for (const auto& r : after.records) seen[r.key] += 1;
  for (const auto& k : s.keys)
    if (!seen.count(format_key(k))) cokv_fuzz::property_failed("a key missing from the journal after the run");
  return 0;
}
