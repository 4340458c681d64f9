// summary.md of a cokv-profile run, rendered from its summary.json (the JSON is the record; the
// Markdown is the same facts for people).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace cokv {

// Reads: name, model.{name,players}, task, datasets, records, prompt_tokens.{min,max}, utility,
// absent, utility_full, utility_empty, time_s.{total_s,prefill_s,scores_s}, evaluations.*,
// evaluations_per_s, memory.*, and when present convergence (chains, samples_per_chain,
// chain_mae, tolerance, converged), tables, trace, selection.
std::string profile_summary_markdown(const nlohmann::json& summary);

}  // namespace cokv
