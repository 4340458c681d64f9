// LongBench-format folders and samples (see suite.h).
#include "data/suite.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/json_text.h"
#include "core/paths.h"
#include "data/metrics.h"
#include "data/split.h"

namespace cokv {
namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// DIR/config/NAME, else DIR/NAME; empty when neither exists.
std::string find_config(const std::string& dir, const std::string& name) {
  for (const fs::path& p : {fs::path(dir) / "config" / name, fs::path(dir) / name})
    if (fs::is_regular_file(p)) return p.string();
  return {};
}

ordered_json read_json(const std::string& path) { return parse_ordered_json(read_file_bytes(path), path); }

}  // namespace

const SuiteDataset& Suite::dataset(const std::string& name) const {
  auto it = datasets.find(name);
  if (it == datasets.end()) {
    std::string known;
    for (const auto& [n, d] : datasets) known += (known.empty() ? "" : ", ") + n;
    fail(dir, "dataset '" + name + "'", "one the folder's config describes (" + known + ")");
  }
  return it->second;
}

std::vector<std::string> Suite::select(const std::vector<std::string>& names,
                                           const std::string& category) const {
  std::vector<std::string> out;
  auto add = [&](const std::string& n) {
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  };
  for (const std::string& n : names) {
    if (n == "all") {
      for (const std::string& c : category_order)
        for (const std::string& x : categories.at(c))
          if (datasets.count(x) && fs::is_regular_file(datasets.at(x).data_path)) add(x);
      for (const auto& [x, d] : datasets)
        if (fs::is_regular_file(d.data_path)) add(x);
      continue;
    }
    const SuiteDataset& d = dataset(n);
    if (!fs::is_regular_file(d.data_path)) fail(dir, "dataset '" + n + "'", "its data file " + d.data_path);
    add(n);
  }
  if (!category.empty()) {
    auto it = categories.find(category);
    if (it == categories.end()) {
      std::string known;
      for (const auto& [c, v] : categories) known += (known.empty() ? "" : ", ") + c;
      fail(dir, "category '" + category + "'", "one of " + known);
    }
    for (const std::string& n : it->second)
      if (datasets.count(n) && fs::is_regular_file(datasets.at(n).data_path)) add(n);
    if (out.empty())
      fail(dir, "category '" + category + "'", "at least one dataset with a data file", "none");
  }
  if (out.empty()) fail(dir, "datasets", "--datasets names or --category", "nothing selected");
  return out;
}

Suite open_suite(const std::string& dir, const std::string& dataset_table) {
  if (!fs::is_directory(dir)) fail(dir, "benchmark folder", "a LongBench checkout or a local suite folder");
  Suite b;
  b.dir = dir;
  const std::string prompt_path = find_config(dir, "dataset2prompt.json");
  const std::string maxlen_path = find_config(dir, "dataset2maxlen.json");
  if (prompt_path.empty())
    fail(dir, "config/dataset2prompt.json", "the prompt templates (LongBench's config folder)", "missing");
  if (maxlen_path.empty())
    fail(dir, "config/dataset2maxlen.json", "the generation lengths (LongBench's config folder)", "missing");
  const auto templates = longbench::read_prompt_templates(prompt_path);
  const auto maxlen = longbench::read_max_new_tokens(maxlen_path);

  const std::string metric_path = find_config(dir, "dataset2metric.json");
  const std::string style_path = find_config(dir, "dataset2style.json");
  const std::string cat_path = find_config(dir, "categories.json");
  b.local = !metric_path.empty();
  const ordered_json metrics = metric_path.empty() ? ordered_json::object() : read_json(metric_path);
  const ordered_json styles = style_path.empty() ? ordered_json::object() : read_json(style_path);
  std::map<std::string, longbench::DatasetInfo> table;
  if (!dataset_table.empty()) table = longbench::read_dataset_table(dataset_table);

  const fs::path data_dir = fs::is_directory(fs::path(dir) / "data") ? fs::path(dir) / "data" : fs::path(dir);
  for (const auto& [name, tmpl] : templates) {
    SuiteDataset d;
    d.prompt_template = tmpl;
    d.data_path = (data_dir / (name + ".jsonl")).string();
    const longbench::DatasetInfo* known = nullptr;
    if (auto it = table.find(name); it != table.end()) known = &it->second;
    // A local-suite dataset imitates a LongBench one ("analog"): its pred.py conventions follow.
    std::string analog;
    if (styles.contains(name) && styles[name].contains("analog") && styles[name]["analog"].is_string())
      analog = styles[name]["analog"].get<std::string>();
    const longbench::DatasetInfo* like = known;
    if (!like && !analog.empty())
      if (auto it = table.find(analog); it != table.end()) like = &it->second;

    longbench::DatasetInfo& info = d.info;
    info.name = name;
    if (metrics.contains(name)) {
      const std::string where = metric_path + ": " + name;
      if (!metrics[name].is_string()) fail(where, "metric", "a metric name");
      try {
        info.metric = longbench::metric_from_name(metrics[name].get<std::string>());
      } catch (const Error& e) {
        fail(where, "metric", "a LongBench metric name", e.what());
      }
    } else if (known) {
      info.metric = known->metric;
    } else {
      continue;  // a dataset cokv cannot score (e.g. a Chinese LongBench one): not offered
    }
    auto ml = maxlen.find(name);
    if (ml != maxlen.end())
      info.max_new_tokens = ml->second;
    else if (known)
      info.max_new_tokens = known->max_new_tokens;
    else
      fail(maxlen_path, name, "a max new tokens entry", "missing");
    info.category = known ? known->category : "";
    info.chat_template = like ? like->chat_template : true;
    info.stop_on_newline = like ? like->stop_on_newline : false;
    info.first_line = like ? like->first_line : false;
    if (styles.contains(name)) {
      const auto& s = styles[name];
      const std::string where = style_path + ": " + name;
      auto flag = [&](const char* k, bool& dst) {
        if (!s.contains(k)) return;
        if (!s[k].is_boolean()) fail(where, k, "true or false");
        dst = s[k].get<bool>();
      };
      flag("chat_template", info.chat_template);
      flag("first_line", info.first_line);
      flag("stop_on_newline", info.stop_on_newline);
    }
    b.datasets.emplace(name, std::move(d));
  }

  if (!cat_path.empty()) {
    const ordered_json cats = read_json(cat_path);
    if (!cats.is_object()) fail(cat_path, "content", "an object {category: [datasets]}");
    for (const auto& [c, list] : cats.items()) {
      if (!list.is_array()) fail(cat_path, c, "a list of dataset names");
      if (!b.categories.count(c)) b.category_order.push_back(c);
      for (const auto& n : list) {
        if (!n.is_string()) fail(cat_path, c, "a list of dataset names");
        const std::string name = n.get<std::string>();
        b.categories[c].push_back(name);
        if (auto it = b.datasets.find(name); it != b.datasets.end()) it->second.info.category = c;
      }
    }
  } else {
    for (const std::string& name : longbench::english_datasets()) {
      if (!b.datasets.count(name) || !table.count(name)) continue;
      const std::string& c = table.at(name).category;
      if (!b.categories.count(c)) b.category_order.push_back(c);
      b.categories[c].push_back(name);
    }
  }
  return b;
}

Suite open_suite(const std::string& dir) { return open_suite(dir, configs_dir() + "/longbench.json"); }

std::vector<std::string> task_datasets(const Suite& s, const std::string& category, const std::string& dataset) {
  if (category.empty() == dataset.empty()) fail(s.dir, "--category/--dataset", "exactly one of them");
  std::vector<std::string> out;
  if (!dataset.empty()) {
    if (!s.datasets.count(dataset)) fail(s.dir, "--dataset", "a dataset with a prompt template", dataset);
    out.push_back(dataset);
  } else {
    auto it = s.categories.find(category);
    if (it == s.categories.end()) {
      std::string names;
      for (const auto& [c, _] : s.categories) names += (names.empty() ? "" : ", ") + c;
      fail(s.dir, "--category", "one of " + names, category);
    }
    for (const auto& d : it->second)
      if (s.datasets.count(d)) out.push_back(d);
  }
  for (const auto& d : out)
    if (!fs::is_regular_file(s.datasets.at(d).data_path)) fail(s.datasets.at(d).data_path, "data file", "present");
  if (out.empty()) fail(s.dir, "task", "at least one dataset", category);
  return out;
}

std::vector<longbench::Record> read_dataset_records(const SuiteDataset& d) {
  std::vector<longbench::Record> out;
  std::map<std::string, std::string> first_at;  // _id -> "file:line" of its first record
  longbench::for_each_jsonl(d.data_path, {}, [&](const json& j, const std::string& where) {
    longbench::Record r = longbench::parse_record(j, where);
    const auto [it, fresh] = first_at.emplace(r.id, where);
    if (!fresh)
      fail(where, "field '_id'", "an id no other record of the file has",
           "\"" + r.id + "\", the id of the record at " + it->second);
    out.push_back(std::move(r));
  });
  if (out.empty())
    fail(d.data_path, "records", "at least one LongBench record (one JSON object per line)",
         "none: the file is empty or has only blank lines");
  return out;
}

SplitPart parse_split(const std::string& name) {
  if (name == "test") return SplitPart::Test;
  if (name == "validation") return SplitPart::Validation;
  if (name == "all") return SplitPart::All;
  fail("--split", "'" + name + "'", "test, validation or all");
}

const char* split_name(SplitPart p) {
  switch (p) {
    case SplitPart::Test: return "test";
    case SplitPart::Validation: return "validation";
    case SplitPart::All: return "all";
  }
  return "?";
}

std::vector<size_t> split_indices(size_t n_records, SplitPart part, int max_records, uint64_t seed) {
  std::vector<size_t> idx;
  if (part == SplitPart::All) {
    for (size_t i = 0; i < n_records; ++i) idx.push_back(i);
  } else {
    auto s = longbench::validation_test_split(n_records, seed);
    idx = part == SplitPart::Test ? std::move(s.test) : std::move(s.validation);
  }
  if (max_records > 0 && idx.size() > size_t(max_records)) idx.resize(size_t(max_records));
  return idx;
}

Sample make_sample(const ModelInfo& m, const longbench::Record& r, const SuiteDataset& d, const SampleOptions& opt) {
  longbench::TokenizerFns fns;
  fns.encode = [&](std::string_view t) { return m.tok.encode(t); };
  fns.decode = [&](const std::vector<int32_t>& ids) { return m.tok.decode(ids, true); };
  longbench::PromptOptions po;
  po.max_length = opt.max_length;
  po.chat = opt.chat;
  const auto built = longbench::build_prompt(r, d.prompt_template, d.info, po, fns,
                                             [&](const std::string& u) { return m.chat.apply_user(u); });
  Sample s;
  s.id = r.id;
  s.dataset = d.info.name;
  s.prompt = m.tok.encode(built.text);
  s.answers = r.answers;
  if (r.all_classes) s.all_classes = *r.all_classes;
  s.scoring = longbench::DatasetScoring{d.info.metric, d.info.first_line};
  s.max_new = opt.max_new_cap > 0 ? std::min(opt.max_new_cap, d.info.max_new_tokens) : d.info.max_new_tokens;
  s.stop = m.tok.stop_tokens();
  if (d.info.stop_on_newline) {
    // pred.py: tokenizer.encode("\n", add_special_tokens=False)[-1]
    const auto nl = m.tok.encode("\n", false, false);
    if (!nl.empty()) s.stop.push_back(nl.back());
  }
  if (r.answers.empty()) fail(d.data_path, "record " + r.id + " answers", "at least one gold answer");
  std::string ans = r.answers[0];
  const bool ends_space = !built.text.empty() && std::isspace(static_cast<unsigned char>(built.text.back()));
  if (!built.chat_applied && !ends_space) ans = " " + ans;
  s.answer_tokens = m.tok.encode(ans, false, false);
  if (s.answer_tokens.empty()) fail(d.data_path, "record " + r.id + " answers[0]", "a non-empty answer");
  return s;
}

std::vector<Sample> validation_samples(const ModelInfo& m, const Suite& s, const std::vector<std::string>& datasets,
                                       const SampleOptions& opt) {
  std::vector<Sample> out;
  for (const auto& name : datasets) {
    const SuiteDataset& d = s.dataset(name);
    const auto records = read_dataset_records(d);
    for (size_t i : split_indices(records.size(), SplitPart::Validation, opt.max_records, opt.split_seed))
      out.push_back(make_sample(m, records[i], d, opt));
  }
  return out;
}

}  // namespace cokv
