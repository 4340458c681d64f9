// Profiling samples from a LongBench-format folder (see samples.h).
#include "profile/samples.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/paths.h"
#include "data/split.h"
#include "runtime/model.h"

namespace cokv::profile {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "file", "a readable JSON file");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    fail(path, "JSON", "valid JSON", e.what());
  }
}

}  // namespace

Suite open_suite(const std::string& dir) {
  Suite s;
  s.dir = dir;
  const std::string cfg = dir + "/config";
  if (!fs::is_directory(cfg)) fail(dir, "config/", "a LongBench-format folder with config/ and data/");
  const auto templates = longbench::read_prompt_templates(cfg);
  const auto maxlen = longbench::read_max_new_tokens(cfg);
  s.local = fs::exists(cfg + "/dataset2metric.json");
  if (s.local) {
    const json metrics = read_json(cfg + "/dataset2metric.json");
    const json style =
        fs::exists(cfg + "/dataset2style.json") ? read_json(cfg + "/dataset2style.json") : json::object();
    const json cats = read_json(cfg + "/categories.json");
    std::map<std::string, std::string> cat_of;
    for (auto it = cats.begin(); it != cats.end(); ++it) {
      for (const auto& d : it.value()) {
        s.categories[it.key()].push_back(d.get<std::string>());
        cat_of[d.get<std::string>()] = it.key();
      }
    }
    for (const auto& [name, tmpl] : templates) {
      SuiteDataset d;
      d.tmpl = tmpl;
      d.data_path = dir + "/data/" + name + ".jsonl";
      d.info.name = name;
      d.info.category = cat_of.count(name) ? cat_of[name] : "";
      if (!metrics.contains(name)) fail(cfg + "/dataset2metric.json", name, "a metric name");
      d.info.metric = longbench::metric_from_name(metrics[name].get<std::string>());
      if (!maxlen.count(name)) fail(cfg + "/dataset2maxlen.json", name, "max new tokens");
      d.info.max_new_tokens = maxlen.at(name);
      const json st = style.contains(name) ? style[name] : json::object();
      d.info.chat_template = st.value("chat_template", true);
      d.info.first_line = st.value("first_line", false);
      d.info.stop_on_newline = st.value("analog", std::string()) == "samsum";
      s.datasets[name] = std::move(d);
    }
  } else {
    const auto table = longbench::read_dataset_table(configs_dir() + "/longbench.json");
    for (const auto& [name, tmpl] : templates) {
      if (!longbench::is_known_dataset(name)) continue;  // Chinese datasets: unsupported metrics
      SuiteDataset d;
      d.tmpl = tmpl;
      d.data_path = dir + "/data/" + name + ".jsonl";
      d.info = longbench::dataset_info(table, name);
      if (maxlen.count(name)) d.info.max_new_tokens = maxlen.at(name);
      s.categories[d.info.category].push_back(name);
      s.datasets[name] = std::move(d);
    }
  }
  return s;
}

std::vector<std::string> task_datasets(const Suite& s, const std::string& category,
                                       const std::string& dataset) {
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
    if (!fs::exists(s.datasets.at(d).data_path)) fail(s.datasets.at(d).data_path, "data file", "present");
  if (out.empty()) fail(s.dir, "task", "at least one dataset", category);
  return out;
}

Sample make_sample(const Model& m, const longbench::Record& r, const SuiteDataset& d,
                   const SampleOptions& opt) {
  longbench::TokenizerFns fns;
  fns.encode = [&](std::string_view t) { return m.tok.encode(t); };
  fns.decode = [&](const std::vector<int32_t>& ids) { return m.tok.decode(ids, true); };
  longbench::PromptOptions po;
  po.max_length = opt.max_length;
  po.chat = opt.chat;
  const auto built = longbench::build_prompt(r, d.tmpl, d.info, po, fns,
                                             [&](const std::string& u) { return m.chat.apply_user(u); });
  Sample s;
  s.id = r.id;
  s.dataset = d.info.name;
  s.prompt = m.tok.encode(built.text);
  s.answers = r.answers;
  if (r.all_classes) s.all_classes = *r.all_classes;
  s.scoring = longbench::DatasetScoring{d.info.metric, d.info.first_line};
  s.max_new = d.info.max_new_tokens;
  s.stop = m.tok.stop_tokens();
  if (d.info.stop_on_newline) {
    const auto nl = m.tok.encode("\n", false, false);
    if (nl.size() == 1) s.stop.push_back(nl[0]);
  }
  if (r.answers.empty()) fail(d.data_path, "record " + r.id + " answers", "at least one gold answer");
  std::string ans = r.answers[0];
  const bool ends_space = !built.text.empty() && std::isspace(static_cast<unsigned char>(built.text.back()));
  if (!built.chat_applied && !ends_space) ans = " " + ans;
  s.answer_tokens = m.tok.encode(ans, false, false);
  if (s.answer_tokens.empty()) fail(d.data_path, "record " + r.id + " answers[0]", "a non-empty answer");
  return s;
}

std::vector<Sample> validation_samples(const Model& m, const Suite& s,
                                       const std::vector<std::string>& datasets, const SampleOptions& opt) {
  std::vector<Sample> out;
  for (const auto& name : datasets) {
    const SuiteDataset& d = s.datasets.at(name);
    const auto records = longbench::read_records(d.data_path);
    const auto split = longbench::validation_test_split(records.size(), opt.split_seed);
    size_t n = split.validation.size();
    if (opt.max_records > 0) n = std::min(n, size_t(opt.max_records));
    for (size_t i = 0; i < n; ++i) out.push_back(make_sample(m, records[split.validation[i]], d, opt));
  }
  return out;
}

}  // namespace cokv::profile
