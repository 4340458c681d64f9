// Building LongBench prompts as pred.py does: the dataset's str.format template (read from
// LongBench's config/dataset2prompt.json, applied verbatim), middle truncation by tokens, and
// the chat template on or off per dataset. Tokenizers come in as callbacks so this layer is
// testable without a model; with cokv::Tokenizer pass
//   encode = [&](auto s) { return tok.encode(s); }               (BOS as the model adds it)
//   decode = [&](auto ids) { return tok.decode(ids, true); }      (skip special tokens)
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "data/metrics.h"
#include "data/records.h"

namespace cokv::longbench {

// ---- LongBench's config files -----------------------------------------------------------
// dataset -> template, from <dir>/dataset2prompt.json (dir = LongBench's config/ folder; a
// path to the .json file itself is accepted too).
std::map<std::string, std::string> read_prompt_templates(const std::string& dir_or_file);
// dataset -> max new tokens, from <dir>/dataset2maxlen.json.
std::map<std::string, int> read_max_new_tokens(const std::string& dir_or_file);

// ---- str.format ---------------------------------------------------------------------------
// Python str.format(**fields) for templates that use plain {name} fields: "{{" and "}}" are
// literal braces; a field missing from `fields`, a positional "{}"/"{0}", attribute/index
// access, conversions (!r) and format specs (:>10) are errors, as are a lone "{" or "}"
// (Python raises ValueError for those). `where` names the template in messages.
std::string format_template(std::string_view tmpl, const std::map<std::string, std::string>& fields,
                            const std::string& where);
// pred.py's prompt_format.format(**record): the string fields input, context, dataset,
// language, _id, and length.
std::string format_record(std::string_view tmpl, const Record& r, const std::string& where);

// ---- per-dataset settings (configs/longbench.json) ----------------------------------------
struct DatasetInfo {
  std::string name;
  std::string category;  // single_doc_qa, multi_doc_qa, summarization, few_shot, synthetic, code
  Metric metric;
  int max_new_tokens;
  bool chat_template;    // pred.py applies the chat template (all but trec, triviaqa, samsum, lcc, repobench-p)
  bool stop_on_newline;  // samsum: "\n" also ends generation
  bool first_line;       // scoring keeps the prediction's first line (trec, triviaqa, samsum)
};
// Reads and validates the table ({"format": "cokv.longbench.v1", "datasets": {name: {...}}}).
std::map<std::string, DatasetInfo> read_dataset_table(const std::string& path);
// The table's entry for `dataset` (a LongBench-E "_e" name maps to its base); error naming it.
const DatasetInfo& dataset_info(const std::map<std::string, DatasetInfo>& table, const std::string& dataset);

// ---- truncation and chat template -------------------------------------------------------
struct TokenizerFns {
  std::function<std::vector<int32_t>(std::string_view)> encode;
  std::function<std::string(const std::vector<int32_t>&)> decode;  // without special tokens
};

struct Truncation {
  std::string text;
  size_t n_tokens = 0;     // tokens of the untruncated prompt
  bool truncated = false;
};
// If encode(prompt) is longer than max_length tokens, keep its first and last max_length/2
// (integer division) tokens: decode(first) + decode(last). max_length <= 0: no truncation.
Truncation truncate_middle(const std::string& prompt, int max_length, const TokenizerFns& tok);

enum class ChatPolicy {
  LongBench,  // per dataset, as pred.py (DatasetInfo::chat_template)
  None,       // never (CoKV, HeadKV: raw prompts)
};
ChatPolicy chat_policy_from_name(const std::string& name);  // "longbench" | "none"
const char* chat_policy_name(ChatPolicy p);
bool use_chat_template(const DatasetInfo& d, ChatPolicy p);

struct PromptOptions {
  int max_length = 0;  // prompt tokens kept by middle truncation; 0 = keep all
  ChatPolicy chat = ChatPolicy::LongBench;
};
struct BuiltPrompt {
  std::string text;  // what to tokenize and prefill (chat template applied where asked)
  bool chat_applied = false;
  bool truncated = false;
  size_t n_tokens_untruncated = 0;
};
// format -> truncate -> chat template (apply_chat wraps one user turn, e.g.
// ChatTemplate::apply_user), the order pred.py uses. apply_chat may be empty when the policy
// never asks for it.
BuiltPrompt build_prompt(const Record& r, const std::string& tmpl, const DatasetInfo& d, const PromptOptions& opt,
                         const TokenizerFns& tok, const std::function<std::string(const std::string&)>& apply_chat);

}  // namespace cokv::longbench
