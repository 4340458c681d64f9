// ProfileOptions as JSON, for shard journals (see profile_run.h).
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "profile/profile_run.h"

namespace cokv::profile {

using nlohmann::json;

std::string shard_journal_name(uint32_t index, uint32_t count) {
  return "shard-" + std::to_string(index) + "-of-" + std::to_string(count) + ".journal";
}

json options_json(const ProfileOptions& o) {
  return {{"backend", backend_name(o.backend.kind)},
          {"numerics", o.backend.numerics == Model::Numerics::Ggml ? "ggml" : "fp32"},
          {"weights", weight_mode_name(o.backend.weights)},
          {"category", o.category},
          {"dataset", o.dataset},
          {"method", profile_method_name(o.method)},
          {"utility", utility_name(o.utility)},
          {"budgets", o.budgets},
          {"samples", o.samples},
          {"min_samples", o.min_samples},
          {"tol", o.tol},
          {"max_samples", o.max_samples},
          {"check_every", o.check_every},
          {"chains", o.chains},
          {"slices", o.slices},
          {"left_only", o.left_only},
          {"antithetic", o.antithetic},
          {"absent", absent_name(o.absent)},
          {"window", o.window},
          {"alpha", o.alpha ? json(*o.alpha) : json("auto")},
          {"max_length", o.max_length},
          {"chat", longbench::chat_policy_name(o.chat)},
          {"max_records", o.max_records},
          {"seed", o.seed},
          {"reference_length", o.reference_length},
          {"exports",
           {{"headkv_beta", o.exports.headkv_beta},
            {"headkv_normalize", o.exports.headkv_normalize},
            {"lukv_min_length", o.exports.lukv_min_length},
            {"duo_sink_size", o.exports.duo_sink_size},
            {"duo_recent_size", o.exports.duo_recent_size}}},
          {"baklava_tokens", o.baklava_tokens},
          {"baklava_layer_weight", o.baklava_layer_weight},
          {"taskkv",
           {{"top_k", o.taskkv.top_k},
            {"beta", o.taskkv.beta},
            {"m", o.taskkv.m},
            {"distance", o.taskkv.distance == TaskKvDistance::Cosine ? "cosine" : "euclidean"},
            {"score", o.taskkv.score == TaskKvScore::Distance ? "distance" : "frequency"}}},
          {"taskkv_sink", o.taskkv_sink},
          {"taskkv_full", o.taskkv_full},
          // Threads change the prefill's last bits (threaded GEMMs), so shards and their merge share them.
          {"threads", o.threads}};
}

ProfileOptions options_from_json(const json& j, const std::string& where) {
  ProfileOptions o;
  try {
    o.backend.kind = parse_backend(j.at("backend").get<std::string>());
    o.backend.numerics = j.at("numerics").get<std::string>() == "ggml" ? Model::Numerics::Ggml : Model::Numerics::Fp32;
    if (j.contains("weights")) o.backend.weights = parse_weight_mode(j["weights"].get<std::string>());  // absent: auto
    o.category = j.at("category").get<std::string>();
    o.dataset = j.at("dataset").get<std::string>();
    o.method = parse_profile_method(j.at("method").get<std::string>());
    o.utility = parse_utility(j.at("utility").get<std::string>());
    o.budgets = j.at("budgets").get<std::vector<double>>();
    o.samples = j.at("samples").get<int64_t>();
    o.min_samples = j.at("min_samples").get<int64_t>();
    o.tol = j.at("tol").get<double>();
    o.max_samples = j.at("max_samples").get<int64_t>();
    o.check_every = j.at("check_every").get<int64_t>();
    o.chains = j.at("chains").get<int>();
    o.slices = j.at("slices").get<std::vector<int>>();
    o.left_only = j.at("left_only").get<bool>();
    o.antithetic = j.at("antithetic").get<bool>();
    o.absent = parse_absent(j.at("absent").get<std::string>());
    o.window = j.at("window").get<int>();
    if (j.at("alpha").is_number_integer()) o.alpha = j["alpha"].get<int>();
    o.max_length = j.at("max_length").get<int>();
    o.chat = longbench::chat_policy_from_name(j.at("chat").get<std::string>());
    o.max_records = j.at("max_records").get<int>();
    o.seed = j.at("seed").get<uint64_t>();
    o.reference_length = j.at("reference_length").get<int>();
    if (j.contains("exports")) {  // journals written before the export settings keep the defaults
      const json& e = j["exports"];
      o.exports.headkv_beta = e.at("headkv_beta").get<double>();
      o.exports.headkv_normalize = e.at("headkv_normalize").get<bool>();
      o.exports.lukv_min_length = e.at("lukv_min_length").get<int>();
      o.exports.duo_sink_size = e.at("duo_sink_size").get<int>();
      o.exports.duo_recent_size = e.at("duo_recent_size").get<int>();
    }
    o.baklava_tokens = j.at("baklava_tokens").get<int>();
    o.baklava_layer_weight = j.at("baklava_layer_weight").get<bool>();
    const json& t = j.at("taskkv");
    o.taskkv.top_k = t.at("top_k").get<int>();
    o.taskkv.beta = t.at("beta").get<double>();
    o.taskkv.m = t.at("m").get<double>();
    o.taskkv.distance = t.at("distance").get<std::string>() == "cosine" ? TaskKvDistance::Cosine : TaskKvDistance::Euclidean;
    o.taskkv.score = t.at("score").get<std::string>() == "distance" ? TaskKvScore::Distance : TaskKvScore::Frequency;
    o.taskkv_sink = j.at("taskkv_sink").get<int>();
    o.taskkv_full = j.at("taskkv_full").get<int>();
    o.threads = j.at("threads").get<int>();
  } catch (const json::exception& e) {
    fail(where, "settings.run", "the options of a cokv-profile run", e.what());
  }
  return o;
}

}  // namespace cokv::profile
