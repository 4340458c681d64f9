// HeadKV / KVCache-Factory JSON and the DuoAttention folder (see exports.h).
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_bytes.h"
#include "export/exports.h"

namespace cokv {

void write_headkv_json(const BudgetTable& t, const std::string& path, bool normalize) {
  validate(t, path);
  const auto v = normalize ? minmax_normalized(t.scores) : t.scores;
  const int L = t.model.n_layers, H = t.model.n_heads, G = t.model.n_kv_heads, group = H / G;
  nlohmann::ordered_json j = nlohmann::ordered_json::object();  // keeps "0-0","0-1",.. order
  for (int il = 0; il < L; ++il)
    for (int h = 0; h < H; ++h)
      j[std::to_string(il) + "-" + std::to_string(h)] = {v[size_t(il) * G + h / group]};
  write_file_bytes(path, j.dump());
}

void write_duo_attention(const BudgetTable& t, const std::string& dir, int sink_size, int recent_size) {
  validate(t, dir);
  if (sink_size < 0 || recent_size < 0)
    fail(dir, "sink_size/recent_size", ">= 0", std::to_string(sink_size) + "/" + std::to_string(recent_size));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create the DuoAttention folder (" + ec.message() + ")");
  const auto v = minmax_normalized(t.scores);
  const int L = t.model.n_layers, G = t.model.n_kv_heads;
  std::string tsv;
  char buf[32];
  for (int il = 0; il < L; ++il) {
    for (int ih = 0; ih < G; ++ih) {
      std::snprintf(buf, sizeof buf, "%.9g", v[size_t(il) * G + ih]);
      tsv += buf;
      tsv += ih + 1 < G ? '\t' : '\n';
    }
  }
  write_file_bytes(dir + "/full_attention_heads.tsv", tsv);
  nlohmann::ordered_json cfg;
  cfg["sink_size"] = sink_size;
  cfg["recent_size"] = recent_size;
  cfg["source"] = "cokv";
  cfg["method"] = t.method_name();
  cfg["note"] =
      "full_attention_heads.tsv: min-max normalised head scores, one row per layer, one column per KV head";
  write_file_bytes(dir + "/config.json", cfg.dump(2) + "\n");
}

}  // namespace cokv
