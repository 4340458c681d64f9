// The game, settings and keys of the journal fuzz target, shared with the seed maker so that
// seed journals replay (their header's settings are the target's).
#pragma once
#include <nlohmann/json.hpp>
#include <vector>

#include "profile/journal.h"
#include "profile/synthetic.h"

namespace cokv_fuzz {

struct JournalSetup {
  cokv::profile::TableGame game = cokv::profile::TableGame::random(4, 7);
  nlohmann::json settings = {{"fuzz", "journal"}, {"players", 4}};
  std::vector<cokv::profile::EvalKey> keys;  // 2 slices x 4 samples x 2 parts
  std::vector<cokv::profile::Coalition> coalitions;
  JournalSetup() {
    for (uint32_t slice = 0; slice < 2; ++slice)
      for (uint64_t sample = 0; sample < 4; ++sample)
        for (uint32_t part = 0; part < 2; ++part) {
          keys.push_back({"ssv", 0, slice, sample, part});
          const unsigned m = unsigned(slice * 8 + sample * 2 + part) * 5u % 16u;
          cokv::profile::Coalition c(4, 0);
          for (int i = 0; i < 4; ++i) c[size_t(i)] = (m >> i) & 1;
          coalitions.push_back(c);
        }
  }
};

}  // namespace cokv_fuzz
