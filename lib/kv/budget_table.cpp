// cokv.budget.v1 read/write/validate and the .npy twin; see budget_table.h.
#include "kv/budget_table.h"

#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/file_bytes.h"
#include "core/json_text.h"
#include "core/npy.h"
#include "model/config.h"

namespace cokv {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

// A JSON value for messages: 12.5, null, "12", [..] (truncated when long).
std::string show(const json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

std::string grid_shape(int L, int G) { return "[" + std::to_string(L) + "][" + std::to_string(G) + "]"; }

const json& need(const json& obj, const char* key, const std::string& where, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end()) fail(where, path.empty() ? key : path + "." + key, "present", "missing");
  return *it;
}

int need_int(const json& obj, const char* key, const std::string& where, const std::string& path,
             int min_value) {
  const json& v = need(obj, key, where, path);
  const std::string field = path.empty() ? key : path + "." + key;
  if (!v.is_number_integer()) fail(where, field, "an integer >= " + std::to_string(min_value), show(v));
  const int64_t x = v.get<int64_t>();
  if (x < min_value || x > std::numeric_limits<int>::max())
    fail(where, field, "an integer >= " + std::to_string(min_value), show(v));
  return static_cast<int>(x);
}

std::string need_string(const json& obj, const char* key, const std::string& where, const std::string& path) {
  const json& v = need(obj, key, where, path);
  if (!v.is_string()) fail(where, path.empty() ? key : path + "." + key, "a string", show(v));
  return v.get<std::string>();
}

// Checks an array-of-rows value is [L][G]; returns nothing, throws naming the field.
void check_grid_shape(const json& g, const std::string& field, int L, int G, const std::string& where) {
  if (!g.is_array()) fail(where, field, "an array " + grid_shape(L, G) + " (n_layers x n_kv_heads)", show(g));
  if (static_cast<int>(g.size()) != L)
    fail(where, field, grid_shape(L, G) + ": " + std::to_string(L) + " rows (n_layers)",
         std::to_string(g.size()) + " rows");
  for (int il = 0; il < L; ++il) {
    const json& row = g[il];
    const std::string rf = field + "[" + std::to_string(il) + "]";
    if (!row.is_array()) fail(where, rf, "a row of " + std::to_string(G) + " values (n_kv_heads)", show(row));
    if (static_cast<int>(row.size()) != G)
      fail(where, rf, std::to_string(G) + " values (n_kv_heads)", std::to_string(row.size()) + " values");
  }
}

std::vector<double> read_score_grid(const json& g, const std::string& field, int L, int G,
                                    const std::string& where) {
  check_grid_shape(g, field, L, G, where);
  std::vector<double> out(size_t(L) * G);
  for (int il = 0; il < L; ++il)
    for (int ih = 0; ih < G; ++ih) {
      const json& v = g[il][ih];
      if (!v.is_number() || !std::isfinite(v.get<double>()))
        fail(where, field + "[" + std::to_string(il) + "][" + std::to_string(ih) + "]", "a finite number",
             show(v));
      out[size_t(il) * G + ih] = v.get<double>();
    }
  return out;
}

std::vector<int> read_budget_grid(const json& g, const std::string& field, int L, int G, int window,
                                  const std::string& where) {
  check_grid_shape(g, field, L, G, where);
  std::vector<int> out(size_t(L) * G);
  for (int il = 0; il < L; ++il)
    for (int ih = 0; ih < G; ++ih) {
      const json& v = g[il][ih];
      const std::string f = field + "[" + std::to_string(il) + "][" + std::to_string(ih) + "]";
      const std::string expected = "an integer budget >= window (" + std::to_string(window) + ")";
      if (!v.is_number_integer()) fail(where, f, expected, show(v));
      const int64_t x = v.get<int64_t>();
      if (x < window || x > std::numeric_limits<int>::max()) fail(where, f, expected, show(v));
      out[size_t(il) * G + ih] = static_cast<int>(x);
    }
  return out;
}

// Checks a flat vector (in-memory tables) the way the reader checks JSON.
void check_flat(size_t size, const std::string& field, int L, int G, const std::string& where) {
  if (size != size_t(L) * G)
    fail(where, field, std::to_string(size_t(L) * G) + " values " + grid_shape(L, G),
         std::to_string(size) + " values");
}

// Shortest text for a mean budget: 128, 12.5.
std::string mean_text(double m) {
  if (m == std::floor(m) && std::fabs(m) < 1e15) return std::to_string(static_cast<int64_t>(m));
  return json(m).dump();
}

json mean_json(double m) {
  if (m == std::floor(m) && std::fabs(m) < 1e15) return json(static_cast<int64_t>(m));
  return json(m);
}

void check_level(const BudgetLevel& lv, size_t k, const BudgetTable& t, const std::string& where) {
  const int L = t.model.n_layers, G = t.model.n_kv_heads, n = L * G;
  const std::string base = "tables[" + std::to_string(k) + "]";
  if (!std::isfinite(lv.mean_budget) || lv.mean_budget < t.window)
    fail(where, base + ".mean_budget", "a number >= window (" + std::to_string(t.window) + ")",
         mean_text(lv.mean_budget));
  const double want = double(n) * lv.mean_budget;
  if (std::fabs(want - std::round(want)) > 1e-6 * std::max(1.0, want))
    fail(where, base + ".mean_budget",
         "a value with n x mean_budget integral (n = " + std::to_string(n) + ")", mean_text(lv.mean_budget));
  check_flat(lv.budgets.size(), base + ".budgets", L, G, where);
  int64_t sum = 0;
  for (int p = 0; p < n; ++p) {
    if (lv.budgets[p] < t.window)
      fail(where, base + ".budgets[" + std::to_string(p / G) + "][" + std::to_string(p % G) + "]",
           "an integer budget >= window (" + std::to_string(t.window) + ")", std::to_string(lv.budgets[p]));
    sum += lv.budgets[p];
  }
  const int64_t total = std::llround(want);
  if (sum != total)
    fail(where, base + ".budgets",
         "a sum of n x mean_budget = " + std::to_string(n) + " x " + mean_text(lv.mean_budget) + " = " +
             std::to_string(total),
         "a sum of " + std::to_string(sum));
  if (lv.alpha && *lv.alpha < 1) fail(where, base + ".alpha", "an integer >= 1", std::to_string(*lv.alpha));
}

}  // namespace

std::string BudgetTable::method_name() const {
  auto it = method.find("name");
  return it != method.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void validate(const BudgetTable& t, const std::string& where) {
  const auto& m = t.model;
  if (m.n_layers <= 0) fail(where, "model.n_layers", "an integer >= 1", std::to_string(m.n_layers));
  if (m.n_kv_heads <= 0) fail(where, "model.n_kv_heads", "an integer >= 1", std::to_string(m.n_kv_heads));
  if (m.n_heads <= 0 || m.n_heads % m.n_kv_heads != 0)
    fail(where, "model.n_heads", "a positive multiple of n_kv_heads (" + std::to_string(m.n_kv_heads) + ")",
         std::to_string(m.n_heads));
  if (m.head_dim <= 0) fail(where, "model.head_dim", "an integer >= 1", std::to_string(m.head_dim));
  if (!t.task.is_object()) fail(where, "task", "a JSON object", show(t.task));
  if (!t.method.is_object() || !t.method.contains("name") || !t.method["name"].is_string())
    fail(where, "method", "a JSON object with a string \"name\"", show(t.method));
  check_flat(t.scores.size(), "scores", m.n_layers, m.n_kv_heads, where);
  for (size_t p = 0; p < t.scores.size(); ++p)
    if (!std::isfinite(t.scores[p]))
      fail(where,
           "scores[" + std::to_string(p / m.n_kv_heads) + "][" + std::to_string(p % m.n_kv_heads) + "]",
           "a finite number", std::to_string(t.scores[p]));
  if (t.score_stderr) {
    check_flat(t.score_stderr->size(), "score_stderr", m.n_layers, m.n_kv_heads, where);
    for (size_t p = 0; p < t.score_stderr->size(); ++p)
      if (!std::isfinite((*t.score_stderr)[p]))
        fail(where,
             "score_stderr[" + std::to_string(p / m.n_kv_heads) + "][" + std::to_string(p % m.n_kv_heads) +
                 "]",
             "a finite number", std::to_string((*t.score_stderr)[p]));
  }
  if (t.window < 0) fail(where, "window", "an integer >= 0", std::to_string(t.window));
  if (t.sink < 0) fail(where, "sink", "an integer >= 0", std::to_string(t.sink));
  if (t.tables.empty())
    fail(where, "tables", "at least one budget level {mean_budget, budgets}", "none (an empty array)");
  for (size_t k = 0; k < t.tables.size(); ++k) check_level(t.tables[k], k, t, where);
}

void check_against_model(const BudgetTable& t, int n_layers, int n_kv_heads, const std::string& where,
                         int n_heads, const std::string& file_sha256) {
  if (t.model.n_layers != n_layers)
    fail(where, "model.n_layers", std::to_string(n_layers) + " (the model's)",
         std::to_string(t.model.n_layers));
  if (t.model.n_kv_heads != n_kv_heads)
    fail(where, "model.n_kv_heads", std::to_string(n_kv_heads) + " (the model's)",
         std::to_string(t.model.n_kv_heads));
  if (n_heads > 0 && t.model.n_heads != n_heads)
    fail(where, "model.n_heads", std::to_string(n_heads) + " (the model's)", std::to_string(t.model.n_heads));
  if (!file_sha256.empty() && !t.model.file_sha256.empty() && t.model.file_sha256 != file_sha256)
    fail(where, "model.file_sha256", file_sha256 + " (the model file's)", t.model.file_sha256);
  // The grids were validated against model.* on load; re-check in case the struct was edited.
  check_flat(t.scores.size(), "scores", n_layers, n_kv_heads, where);
  for (size_t k = 0; k < t.tables.size(); ++k)
    check_flat(t.tables[k].budgets.size(), "tables[" + std::to_string(k) + "].budgets", n_layers, n_kv_heads,
               where);
}

void check_against_model(const BudgetTable& t, const ModelConfig& cfg, const std::string& file_sha256,
                         const std::string& where) {
  check_against_model(t, cfg.n_layers, cfg.n_kv_heads, where, cfg.n_heads, file_sha256);
}

BudgetTable budget_table_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "(top level)", "a JSON object", show(j));
  BudgetTable t;
  const json& fmt = need(j, "format", where, "");
  if (!fmt.is_string() || fmt.get<std::string>() != kBudgetFormat)
    fail(where, "format", std::string("\"") + kBudgetFormat + "\"", show(fmt));

  const json& mj = need(j, "model", where, "");
  if (!mj.is_object()) fail(where, "model", "a JSON object", show(mj));
  t.model.n_layers = need_int(mj, "n_layers", where, "model", 1);
  t.model.n_heads = need_int(mj, "n_heads", where, "model", 1);
  t.model.n_kv_heads = need_int(mj, "n_kv_heads", where, "model", 1);
  t.model.head_dim = need_int(mj, "head_dim", where, "model", 1);
  if (mj.contains("name")) t.model.name = need_string(mj, "name", where, "model");
  if (mj.contains("arch")) t.model.arch = need_string(mj, "arch", where, "model");
  if (mj.contains("file_sha256")) t.model.file_sha256 = need_string(mj, "file_sha256", where, "model");
  if (mj.contains("format")) t.model.format = need_string(mj, "format", where, "model");
  if (mj.contains("weights")) t.model.weights = need_string(mj, "weights", where, "model");
  const int L = t.model.n_layers, G = t.model.n_kv_heads;

  if (j.contains("task")) t.task = j["task"];
  t.method = need(j, "method", where, "");
  t.window = need_int(j, "window", where, "", 0);
  t.sink = j.contains("sink") ? need_int(j, "sink", where, "", 0) : 0;
  t.scores = read_score_grid(need(j, "scores", where, ""), "scores", L, G, where);
  if (j.contains("score_stderr") && !j["score_stderr"].is_null())
    t.score_stderr = read_score_grid(j["score_stderr"], "score_stderr", L, G, where);

  {
    const json& tabs = need(j, "tables", where, "");
    if (!tabs.is_array()) fail(where, "tables", "an array of {mean_budget, budgets}", show(tabs));
    for (size_t k = 0; k < tabs.size(); ++k) {
      const json& tj = tabs[k];
      const std::string base = "tables[" + std::to_string(k) + "]";
      if (!tj.is_object()) fail(where, base, "an object {mean_budget, alpha?, budgets}", show(tj));
      BudgetLevel lv;
      const json& mb = need(tj, "mean_budget", where, base);
      if (!mb.is_number()) fail(where, base + ".mean_budget", "a number", show(mb));
      lv.mean_budget = mb.get<double>();
      if (tj.contains("alpha") && !tj["alpha"].is_null()) {
        const json& a = tj["alpha"];
        if (!a.is_number_integer() || a.get<int64_t>() < 1)
          fail(where, base + ".alpha", "an integer >= 1", show(a));
        lv.alpha = static_cast<int>(a.get<int64_t>());
      }
      lv.budgets =
          read_budget_grid(need(tj, "budgets", where, base), base + ".budgets", L, G, t.window, where);
      for (auto it = tj.begin(); it != tj.end(); ++it)
        if (it.key() != "mean_budget" && it.key() != "alpha" && it.key() != "budgets")
          lv.extra[it.key()] = it.value();
      t.tables.push_back(std::move(lv));
    }
  }
  validate(t, where);
  return t;
}

namespace {

ojson grid_json(const std::vector<double>& v, int L, int G) {
  ojson g = ojson::array();
  for (int il = 0; il < L; ++il) {
    ojson row = ojson::array();
    for (int ih = 0; ih < G; ++ih) row.push_back(v[size_t(il) * G + ih]);
    g.push_back(row);
  }
  return g;
}

ojson grid_json(const std::vector<int>& v, int L, int G) {
  ojson g = ojson::array();
  for (int il = 0; il < L; ++il) {
    ojson row = ojson::array();
    for (int ih = 0; ih < G; ++ih) row.push_back(v[size_t(il) * G + ih]);
    g.push_back(row);
  }
  return g;
}

ojson model_json(const BudgetModelInfo& m) {
  ojson o;
  o["name"] = m.name;
  o["arch"] = m.arch;
  o["n_layers"] = m.n_layers;
  o["n_heads"] = m.n_heads;
  o["n_kv_heads"] = m.n_kv_heads;
  o["head_dim"] = m.head_dim;
  o["file_sha256"] = m.file_sha256;
  if (!m.format.empty()) o["format"] = m.format;
  if (!m.weights.empty()) o["weights"] = m.weights;
  return o;
}

// Table object without its budgets (those are written row by row).
ojson level_head_json(const BudgetLevel& lv) {
  ojson o;
  o["mean_budget"] = mean_json(lv.mean_budget);
  if (lv.alpha) o["alpha"] = *lv.alpha;
  for (auto it = lv.extra.begin(); it != lv.extra.end(); ++it) o[it.key()] = it.value();
  return o;
}

// "[\n<ind>  [..],\n<ind>  [..]\n<ind>]": one row per line so files diff and read well.
std::string grid_text(const ojson& g, const std::string& ind) {
  std::string s = "[\n";
  for (size_t i = 0; i < g.size(); ++i) {
    s += ind + "  " + g[i].dump();
    s += i + 1 < g.size() ? ",\n" : "\n";
  }
  return s + ind + "]";
}

}  // namespace

ojson budget_table_to_json(const BudgetTable& t) {
  const int L = t.model.n_layers, G = t.model.n_kv_heads;
  ojson j;
  j["format"] = kBudgetFormat;
  j["model"] = model_json(t.model);
  j["task"] = t.task;
  j["method"] = t.method;
  j["scores"] = grid_json(t.scores, L, G);
  if (t.score_stderr) j["score_stderr"] = grid_json(*t.score_stderr, L, G);
  j["window"] = t.window;
  j["sink"] = t.sink;
  j["tables"] = ojson::array();
  for (const auto& lv : t.tables) {
    ojson o = level_head_json(lv);
    o["budgets"] = grid_json(lv.budgets, L, G);
    j["tables"].push_back(o);
  }
  return j;
}

std::string budget_table_to_string(const BudgetTable& t) {
  const int L = t.model.n_layers, G = t.model.n_kv_heads;
  std::string s = "{\n";
  s += "  \"format\": " + ojson(kBudgetFormat).dump() + ",\n";
  s += "  \"model\": " + model_json(t.model).dump() + ",\n";
  s += "  \"task\": " + ojson(t.task).dump() + ",\n";
  s += "  \"method\": " + ojson(t.method).dump() + ",\n";
  s += "  \"scores\": " + grid_text(grid_json(t.scores, L, G), "  ") + ",\n";
  if (t.score_stderr) s += "  \"score_stderr\": " + grid_text(grid_json(*t.score_stderr, L, G), "  ") + ",\n";
  s += "  \"window\": " + std::to_string(t.window) + ",\n";
  s += "  \"sink\": " + std::to_string(t.sink) + ",\n";
  s += "  \"tables\": [";
  for (size_t k = 0; k < t.tables.size(); ++k) {
    std::string head = level_head_json(t.tables[k]).dump();  // {"mean_budget":..}
    head.pop_back();                                         // drop '}' to append budgets
    s += k ? ",\n    " : "\n    ";
    s += head + ",\"budgets\":" + grid_text(grid_json(t.tables[k].budgets, L, G), "    ") + "}";
  }
  s += t.tables.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return s;
}

BudgetTable read_budget_table(const std::string& path) {
  const std::string text = read_file_bytes(path);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e999
    std::string hint;
    if (text.find("NaN") != std::string::npos || text.find("Infinity") != std::string::npos)
      hint = " (NaN and Infinity are not JSON: a score or budget is not a finite number)";
    else if (e.id == 406)
      hint = " (a number beyond the range of a double)";
    throw Error(path + ": not valid JSON: " + json_error_text(e) + hint);
  }
  return budget_table_from_json(j, path);
}

void write_budget_table(const std::string& path, const BudgetTable& t) {
  validate(t, path);
  write_file_bytes(path, budget_table_to_string(t));
}

std::string twin_budget_suffix(const BudgetTable& t, size_t k) {
  const auto& lv = t.tables.at(k);
  int same = 0;
  for (const auto& o : t.tables) same += (o.mean_budget == lv.mean_budget);
  std::string s = "budgets." + mean_text(lv.mean_budget);
  if (same > 1) s += lv.alpha ? ".alpha" + std::to_string(*lv.alpha) : ".t" + std::to_string(k);
  return s;
}

std::vector<std::string> write_npy_twin(const std::string& json_path, const BudgetTable& t) {
  validate(t, json_path);
  std::string stem = json_path;
  if (stem.size() > 5 && stem.compare(stem.size() - 5, 5, ".json") == 0) stem.resize(stem.size() - 5);
  const int64_t L = t.model.n_layers, G = t.model.n_kv_heads;
  std::vector<std::string> written;
  auto f32 = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  written.push_back(stem + ".scores.npy");
  npy::save(written.back(), npy::make<float>({L, G}, f32(t.scores)));
  if (t.score_stderr) {
    written.push_back(stem + ".score_stderr.npy");
    npy::save(written.back(), npy::make<float>({L, G}, f32(*t.score_stderr)));
  }
  std::map<std::string, size_t> seen;
  for (size_t k = 0; k < t.tables.size(); ++k) {
    std::string name = stem + "." + twin_budget_suffix(t, k) + ".npy";
    if (seen.count(name)) name = stem + "." + twin_budget_suffix(t, k) + ".t" + std::to_string(k) + ".npy";
    seen[name] = k;
    const auto& b = t.tables[k].budgets;
    written.push_back(name);
    npy::save(name, npy::make<int32_t>({L, G}, std::vector<int32_t>(b.begin(), b.end())));
  }
  return written;
}

}  // namespace cokv
