// cokv-profile's run: data -> model game -> head scores (CoKV estimators, BaKlaVa, Task-KV) ->
// budget tables -> files. The app parses flags into typed ProfileOptions; run_profile wires the
// steps together (head_scores.h: one scoring function per method; profile_tables.h: scores to
// tables; report/profile_summary.h: summary.md).
//
// Files written into out_dir (<name> = <category or dataset>.<method name>):
//   <name>.budget.json (+ .npy twins)   cokv.budget.v1 table (DESIGN.md)
//   exports/                            export_all: files for other engines and exports.json
//   <name>.scores.png / .svg            heatmap of the scores (when gnuplot is available)
//   scores.json                         values, std errors, hex floats (bit-exact comparison)
//   summary.json, summary.md            time, evaluations, memory, convergence trace, selection
//   journal.txt                         every evaluated coalition (cokv.journal.v1); --resume replays it
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "data/prompt.h"
#include "eval/evaluate.h"
#include "export/exports.h"
#include "kv/budget_table.h"
#include "model/weights.h"
#include "profile/taskkv.h"
#include "runtime/backend.h"

namespace cokv::profile {

// How head scores are computed: four CoKV estimators over the model game, two heuristics.
enum class ProfileMethod { Ssv, Permutation, Regression, Exact, Baklava, TaskKv };
ProfileMethod parse_profile_method(const std::string& name);  // ssv|permutation|regression|exact|baklava|taskkv
const char* profile_method_name(ProfileMethod m);             // the --method name
std::string table_method_name(ProfileMethod m);               // the table's: "cokv-ssv", "baklava", ...
bool is_game_method(ProfileMethod m);                         // an estimator over coalition utilities

// What a head outside the coalition keeps: CoKV's window, or nothing (the zeroing ablation).
enum class AbsentHeads { Window, Zero };
AbsentHeads parse_absent(const std::string& name);  // window | zero
const char* absent_name(AbsentHeads a);

struct ProfileOptions {
  std::string command_line;  // recorded in summary.json (the app passes its argv)
  BackendOptions backend;    // kind, model path (GGUF or folder; empty: default_model_path()), weights
  // CUDA: one backend replica per device, coalition batches shared out from one queue (empty:
  // backend.device alone). Never part of a result: the batches do not depend on it.
  std::vector<int> devices;
  std::string longbench_dir;
  std::string category, dataset;  // exactly one
  ProfileMethod method = ProfileMethod::Ssv;
  Utility utility = Utility::Loglik;
  std::vector<double> budgets{64, 128, 256, 512};
  std::string out_dir;
  // Estimators (game methods).
  int64_t samples = 0;       // per chain (per slice for SSV); 0: two-chain rule from min_samples
  int64_t min_samples = 16;  // tolerance mode: first check
  double tol = 0;            // two-chain MAE target; 0 with samples == 0: 1/n
  int64_t max_samples = 0;   // tolerance mode cap per chain (0: 20 x min)
  int64_t check_every = 0;   // samples per chain between checks (0: auto)
  int chains = 2;
  std::vector<int> slices;  // empty: CoKV's {n/8, n/4, 3n/8, n/2}
  bool left_only = false;
  bool antithetic = false;  // permutation
  int batch = 32;
  AbsentHeads absent = AbsentHeads::Window;
  int window = 8;
  std::optional<int> alpha;  // CoKV Eq. 3; empty: chosen on validation
  // Prompts (data/suite.h).
  int max_length = 8000;                               // middle truncation (0: none)
  longbench::ChatPolicy chat = longbench::ChatPolicy::None;
  int max_records = 0;                                 // validation records per dataset (0: all)
  uint64_t seed = 42;
  bool resume = false;
  int threads = 0;           // > 0: OpenMP threads for the whole run (omp_set_num_threads)
  int reference_length = 0;  // exports' T (0: the longest profiled prompt)
  ExportOptions exports;     // the other export settings (its reference_length is replaced by the above)
  // BaKlaVa
  int baklava_tokens = 256;  // profiled tokens per prompt (evenly spaced; 0 = all)
  bool baklava_layer_weight = true;
  // Task-KV
  TaskKvOptions taskkv;
  int taskkv_sink = 16;
  int taskkv_full = 0;  // budget meaning "full cache" (0: the longest validation prompt)
  // Shards (--shard I/N): evaluate samples s with s % N == I into out_dir/shard-I-of-N.journal and
  // stop; merge_profile() turns the N journals into the unsharded run's outputs.
  uint32_t shard_index = 0, shard_count = 1;
};

// What a profile's result depends on, as JSON (journal headers carry it so a merge can rerun
// without the original flags): everything but paths, out_dir, resume, batch, shard and the
// command line. Threads are in: they change the prefill's last bits.
nlohmann::json options_json(const ProfileOptions& o);
// The inverse; `where` names the file in errors. Fields not in the JSON keep their defaults.
ProfileOptions options_from_json(const nlohmann::json& j, const std::string& where);

// A shard's journal file name: "shard-<I>-of-<N>.journal".
std::string shard_journal_name(uint32_t index, uint32_t count);

// The task's name: the category, or the dataset.
inline const std::string& task_name(const ProfileOptions& o) { return o.category.empty() ? o.dataset : o.category; }

struct ProfileResult {
  std::string table_path;
  BudgetTable table;
  nlohmann::json summary;
  std::vector<std::string> files;
};

// Checks the options and the output folder (before any model is loaded), then runs the whole
// profile; progress lines go to `log` (may be null). Throws cokv::Error. A shard run
// (shard_count > 1) writes only its journal and shard-I-of-N.summary.json; table_path is empty.
ProfileResult run_profile(const ProfileOptions& opt, std::ostream* log);

// cokv-profile merge: the shard journals (any order) -> out_dir/journal.txt, then the run they
// came from with every coalition replayed: exactly the files an unsharded run writes (scores,
// tables, exports; summary counts them as replayed). The model is still loaded (prompts, and the
// validation evaluations that choose CoKV's alpha or BaKlaVa's floor). Missing evaluations (a
// shard absent or cut short) are an error listing them per shard with the command that
// computes them. `overrides` may set the model and suite paths, backend, threads and batch.
struct MergeOverrides {
  std::optional<std::string> model_path, longbench_dir;
  std::optional<BackendKind> backend;
  int threads = 0, batch = 0;
};
ProfileResult merge_profile(const std::vector<std::string>& shards, const std::string& out_dir,
                            const MergeOverrides& overrides, std::ostream* log);

}  // namespace cokv::profile
