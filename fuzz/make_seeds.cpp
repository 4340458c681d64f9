// cokv-fuzz-seeds OUT: writes the seed corpora of the fuzz targets, one folder per target, from
// the real files: the default model's GGUF header shrunk to a small valid file (every
// metadata key; the first 512 tokens and the merges among them; the first tensors at small
// shapes), the dequantisation golden blocks of tests/data/dequant as tensors, tokenizer texts
// from tests/data/reference, the LongBench fixtures, metric pairs as prediction files, budget
// tables and journals written by cokv's own writers, the tiny Hugging Face checkpoints'
// config.json, tokenizer files and safetensors (tests/data/hf). scripts/fuzz runs it before
// each target, so nothing large is kept in the repository.
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../tests/gguf_writer.h"
#include "../tests/safetensors_writer.h"
#include "core/error.h"
#include "core/file_bytes.h"
#include "core/paths.h"
#include "journal_setup.h"
#include "kv/allocation.h"
#include "kv/budget_table.h"
#include "model/dequant.h"
#include "model/gguf.h"
#include "model/safetensors.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kData = std::string(COKV_SOURCE_DIR) + "/tests/data";

void put(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  cokv::write_file_bytes((dir / name).string(), bytes);
}

std::string bytes_of(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

// A GGUF metadata value in the file's encoding (type code written by the caller).
void encode_value(gguf_test::Bytes& b, const cokv::GgufValue& v, size_t max_array) {
  using T = cokv::GgufValue::Type;
  switch (v.type) {
    case T::U8: b.put<uint8_t>(uint8_t(std::get<uint64_t>(v.v))); break;
    case T::I8: b.put<int8_t>(int8_t(std::get<int64_t>(v.v))); break;
    case T::U16: b.put<uint16_t>(uint16_t(std::get<uint64_t>(v.v))); break;
    case T::I16: b.put<int16_t>(int16_t(std::get<int64_t>(v.v))); break;
    case T::U32: b.put<uint32_t>(uint32_t(std::get<uint64_t>(v.v))); break;
    case T::I32: b.put<int32_t>(int32_t(std::get<int64_t>(v.v))); break;
    case T::U64: b.put<uint64_t>(std::get<uint64_t>(v.v)); break;
    case T::I64: b.put<int64_t>(std::get<int64_t>(v.v)); break;
    case T::F32: b.put<float>(float(std::get<double>(v.v))); break;
    case T::F64: b.put<double>(std::get<double>(v.v)); break;
    case T::BOOL: b.put<uint8_t>(std::get<bool>(v.v) ? 1 : 0); break;
    case T::STRING: b.str(std::get<std::string>(v.v)); break;
    case T::ARRAY: {
      const auto& a = std::get<std::vector<cokv::GgufValue>>(v.v);
      const size_t n = std::min(a.size(), max_array);
      b.put<uint32_t>(uint32_t(v.array_type)).put<uint64_t>(n);
      for (size_t k = 0; k < n; ++k) encode_value(b, a[k], max_array);
      break;
    }
  }
}

// The model's header as a small valid GGUF: every key, arrays cut to 512 entries, the
// merges kept only where both parts and their concatenation are among the kept tokens, and
// the first 8 tensors at [block, 2] shapes with zero data.
std::string shrunk_model(const cokv::GgufFile& f) {
  constexpr size_t kTokens = 512;
  gguf_test::Writer w;
  w.version = f.version();
  w.alignment = f.alignment();
  std::set<std::string> kept;
  if (f.has("tokenizer.ggml.tokens")) {
    const auto toks = f.get_string_array("tokenizer.ggml.tokens");
    for (size_t k = 0; k < std::min(kTokens, toks.size()); ++k) kept.insert(toks[k]);
  }
  for (const auto& [key, value] : f.metadata()) {
    gguf_test::Bytes payload;
    if (key == "tokenizer.ggml.merges") {
      std::vector<std::string> merges;
      for (const std::string& m : f.get_string_array(key)) {
        const size_t sp = m.find(' ');
        if (sp != std::string::npos && kept.count(m.substr(0, sp)) && kept.count(m.substr(sp + 1)) &&
            kept.count(m.substr(0, sp) + m.substr(sp + 1)))
          merges.push_back(m);
      }
      w.kv_strs(key, merges);
      continue;
    }
    encode_value(payload, value, kTokens);
    w.kv_raw(key, uint32_t(value.type), payload);
  }
  for (size_t k = 0; k < std::min<size_t>(8, f.tensors().size()); ++k) {
    const auto& t = f.tensors()[k];
    const int64_t ne0 = cokv::ggml_block_size(t.type);
    w.tensor(t.name, {uint64_t(ne0), 2}, uint32_t(t.type),
             std::vector<uint8_t>(2 * cokv::ggml_row_bytes(t.type, ne0), 0));
  }
  return bytes_of(w.build());
}

void gguf_seeds(const fs::path& dir) {
  const std::string model = cokv::default_model_path();
  if (fs::exists(model)) {
    const cokv::GgufFile f = cokv::GgufFile::open(model);
    put(dir, "model_shrunk.gguf", shrunk_model(f));
    std::string head = cokv::read_file_bytes(model).substr(0, 16384);
    put(dir, "model_head16k.gguf", head);
  } else {
    std::fprintf(stderr, "cokv-fuzz-seeds: %s missing: GGUF seeds without the model's header\n", model.c_str());
  }
  // Every dequantisable type with real blocks from the golden files (at most 8 blocks each).
  const json manifest = json::parse(cokv::read_file_bytes(kData + "/dequant/manifest.json"));
  gguf_test::Writer w;
  w.kv_str("general.architecture", "llama").kv_u32("general.alignment", 32);
  for (const auto& t : manifest["types"]) {
    const auto type = cokv::GgmlType(t["ggml_type"].get<uint32_t>());
    const int64_t block = cokv::ggml_block_size(type);
    const int64_t n = std::min<int64_t>(t["n"].get<int64_t>(), 8 * block);
    const std::string raw = cokv::read_file_bytes(kData + "/dequant/" + t["raw"].get<std::string>());
    const std::string data = raw.substr(0, cokv::ggml_row_bytes(type, n));
    w.tensor(t["type"].get<std::string>() + ".weight", {uint64_t(n)}, uint32_t(type),
             std::vector<uint8_t>(data.begin(), data.end()));
  }
  put(dir, "types_v3.gguf", bytes_of(w.build()));
  // Every metadata value type, nested arrays, version 2.
  gguf_test::Writer v2;
  v2.version = 2;
  v2.kv("a.u8", gguf_test::U8, uint8_t(7)).kv("a.i8", gguf_test::I8, int8_t(-7));
  v2.kv("a.u16", gguf_test::U16, uint16_t(700)).kv("a.i16", gguf_test::I16, int16_t(-700));
  v2.kv("a.u32", gguf_test::U32, uint32_t(70000)).kv("a.i32", gguf_test::I32, int32_t(-70000));
  v2.kv("a.u64", gguf_test::U64, uint64_t(1) << 40).kv("a.i64", gguf_test::I64, -(int64_t(1) << 40));
  v2.kv("a.f32", gguf_test::F32, 0.5f).kv("a.f64", gguf_test::F64, 0.25).kv("a.bool", gguf_test::BOOL, uint8_t(1));
  v2.kv_str("a.str", "text").kv_strs("a.strs", {"x", "y z", ""});
  gguf_test::Bytes nested;
  nested.put<uint32_t>(gguf_test::ARRAY).put<uint64_t>(2);
  for (int k = 0; k < 2; ++k) nested.put<uint32_t>(gguf_test::I32).put<uint64_t>(2).put<int32_t>(k).put<int32_t>(-k);
  v2.kv_raw("a.nested", gguf_test::ARRAY, nested);
  v2.tensor_f32("t.weight", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  put(dir, "kv_v2.gguf", bytes_of(v2.build()));
}

std::string hex_bytes(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += char(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

void tokenizer_seeds(const fs::path& dir) {
  const json ref = json::parse(cokv::read_file_bytes(kData + "/reference/tokens.json"));
  int k = 0;
  for (const auto& c : ref["cases"]) {
    const std::string text = c.contains("text") ? c["text"].get<std::string>() : hex_bytes(c["hex"].get<std::string>());
    const char flags = char(k % 4);  // all four combinations of add BOS / parse special
    put(dir, "case" + std::to_string(k++), std::string(1, flags) + text);
  }
  // Prompt-like text: a record's context and question from the eval fixture.
  const std::string data = cokv::read_file_bytes(kData + "/eval/data/hotpotqa.jsonl");
  const json rec = json::parse(data.substr(0, data.find('\n')));
  put(dir, "record_context", std::string(1, '\2') + "<|im_start|>user\n" + rec["context"].get<std::string>().substr(0, 2000) +
                                 "\nQuestion: " + rec["input"].get<std::string>() + "<|im_end|>\n");
}

// Two tables in cokv.budget.v1: SmolLM2's shape (30 x 3, two levels with alpha, standard
// errors) and a small one with every optional field.
void table_seeds(const fs::path& dir) {
  cokv::BudgetTable t;
  t.model = {"SmolLM2-135M-Instruct", "llama", 30, 9, 3, 64, std::string(64, 'a')};
  t.task = {{"category", "code"}, {"datasets", {"lcc", "repobench-p"}}, {"samples", 8}};
  t.method = {{"name", "cokv-ssv"}, {"seed", 42}};
  for (int p = 0; p < 90; ++p) t.scores.push_back(0.01 * ((p * 37) % 90) - 0.2);
  t.score_stderr = std::vector<double>(90, 0.003);
  for (int mean : {64, 128}) t.tables.push_back({double(mean), 10, cokv::allocate_cokv(t.scores, mean, 8, 10), {}});
  put(dir, "smollm2.budget.json", cokv::budget_table_to_string(t));
  cokv::BudgetTable s;
  s.model = {"m", "llama", 2, 6, 3, 4, ""};
  s.method = {{"name", "uniform"}};
  s.scores = {1, 2, 3, 4, 5, 6};
  s.window = 4;
  s.sink = 2;
  s.tables.push_back({12.5, std::nullopt, {8, 10, 12, 14, 15, 16}, {{"floor", 8}, {"exponent", 1.5}}});
  s.tables.push_back({16, 3, {16, 16, 16, 16, 16, 16}, json::object()});
  put(dir, "small.budget.json", cokv::budget_table_to_string(s));
}

void record_seeds(const fs::path& dir) {
  for (const char* fixture : {"eval", "profile"})
    for (const auto& e : fs::directory_iterator(kData + "/" + fixture + "/data"))
      put(dir, std::string(fixture) + "_" + e.path().filename().string(), cokv::read_file_bytes(e.path().string()));
}

// Prediction files: LongBench's metric pairs in groups of 12 lines (every dataset's metric),
// and a cokv-eval run's lines (method, budget, metric, first_line).
void score_seeds(const fs::path& dir) {
  std::istringstream in(cokv::read_file_bytes(kData + "/longbench/longbench_metric_pairs.jsonl"));
  std::string line, chunk;
  int n = 0, files = 0;
  while (std::getline(in, line) && files < 40) {
    chunk += line + "\n";
    if (++n % 12 == 0) {
      put(dir, "pairs" + std::to_string(files), std::string(1, char(files % 8)) + chunk);
      chunk.clear();
      ++files;
    }
  }
  std::string eval_lines;
  for (const char* m : {"full", "uniform"})
    eval_lines += json({{"pred", "Paris is the capital."}, {"answers", {"Paris"}}, {"all_classes", nullptr},
                        {"dataset", "kjv_verse"}, {"_id", "r1"}, {"method", m}, {"budget", m[0] == 'f' ? 0 : 64},
                        {"score", 0.5}, {"metric", "rouge_l"}, {"first_line", true}})
                      .dump() +
                  "\n";
  put(dir, "eval_predictions", std::string(1, '\0') + eval_lines);
}

// Journals as JournaledGame writes them for the target's game and settings: half the keys,
// all of them, and one whose last line was cut (a killed run).
void journal_seeds(const fs::path& dir) {
  cokv_fuzz::JournalSetup s;
  fs::create_directories(dir);
  for (const size_t n : {s.keys.size() / 2, s.keys.size()}) {
    const std::string path = (dir / ("journal" + std::to_string(n))).string();
    fs::remove(path);
    cokv::profile::JournaledGame g(s.game, path, s.settings, cokv::profile::JournalMode::fresh);
    std::vector<double> u(n);
    g.evaluate(std::span(s.keys.data(), n), std::span(s.coalitions.data(), n), u);
  }
  const std::string full = cokv::read_file_bytes((dir / ("journal" + std::to_string(s.keys.size()))).string());
  put(dir, "journal_cut", full.substr(0, full.size() - 9));
}

const std::string kHf = kData + "/hf";
const char* const kHfFolders[] = {"llama31_tiny", "metaspace_tokenizer", "mistral_tiny", "qwen2_tiny"};

// config.json of every tiny checkpoint and of docs/model-configs (Llama-3 and 3.1 8B).
void hf_config_seeds(const fs::path& dir) {
  for (const char* f : kHfFolders)
    if (fs::exists(kHf + "/" + f + "/config.json"))
      put(dir, f, cokv::read_file_bytes(kHf + "/" + f + "/config.json"));
  for (const auto& e : fs::directory_iterator(std::string(COKV_SOURCE_DIR) + "/docs/model-configs"))
    if (fs::exists(e.path() / "config.json")) put(dir, e.path().filename().string(), cokv::read_file_bytes((e.path() / "config.json").string()));
}

// tokenizer.json with the vocabulary cut to ids below `n` and the merges among the kept
// tokens (written compactly): a small valid tokenizer, fast to mutate.
std::string shrunk_tokenizer(const std::string& text, int64_t n) {
  json t = json::parse(text);
  json& model = t["model"];
  json vocab = json::object();
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it)
    if (it.value().get<int64_t>() < n) vocab[it.key()] = it.value();
  json merges = json::array();
  for (const auto& m : model["merges"]) {
    const std::string s = m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>();
    const size_t sp = s.find(' ');
    if (vocab.contains(s.substr(0, sp)) && vocab.contains(s.substr(sp + 1)) && vocab.contains(s.substr(0, sp) + s.substr(sp + 1)))
      merges.push_back(m);
  }
  model["vocab"] = vocab;
  model["merges"] = merges;
  json added = json::array();
  for (const auto& a : t["added_tokens"])
    if (a["id"].get<int64_t>() < n) added.push_back(a);
  t["added_tokens"] = added;
  return t.dump();
}

// Each tokenizer folder as the target reads it: tokenizer.json, NUL, tokenizer_config.json,
// NUL, generation_config.json (whole, then shrunk to 128 ids).
void hf_tokenizer_seeds(const fs::path& dir) {
  for (const char* f : kHfFolders) {
    const std::string d = kHf + "/" + f + "/";
    const std::string tj = cokv::read_file_bytes(d + "tokenizer.json");
    std::string rest;
    for (const char* name : {"tokenizer_config.json", "generation_config.json"})
      if (fs::exists(d + name)) rest += std::string(1, '\0') + cokv::read_file_bytes(d + name);
    put(dir, f, tj + rest);
    put(dir, std::string(f) + "_128", shrunk_tokenizer(tj, 128) + rest);
  }
}

// Safetensors: the qwen2_tiny checkpoint whole (it loads against its config) and cut short,
// mistral_tiny's index (the target keeps its shards beside it) and first shard, and a small
// file with one tensor of every dtype.
void safetensors_seeds(const fs::path& dir) {
  const std::string qwen = cokv::read_file_bytes(kHf + "/qwen2_tiny/model.safetensors");
  put(dir, "qwen2_tiny", qwen);
  put(dir, "qwen2_tiny_cut", qwen.substr(0, qwen.size() / 2));
  put(dir, "mistral_index", cokv::read_file_bytes(kHf + "/mistral_tiny/model.safetensors.index.json"));
  put(dir, "mistral_shard1", cokv::read_file_bytes(kHf + "/mistral_tiny/model-00001-of-00003.safetensors"));
  std::vector<st_test::Tensor> ts;
  for (const char* dtype : {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "I16", "U16", "F16", "BF16", "I32", "U32",
                            "F32", "F64", "I64", "U64"}) {
    const size_t n = 2 * 3 * cokv::safetensors_dtype_size(dtype);
    ts.push_back({std::string("t.") + dtype, dtype, {2, 3}, std::vector<uint8_t>(n, uint8_t(0x3c))});
  }
  ts.push_back({"empty", "F32", {0, 4}, {}});
  put(dir, "every_dtype", bytes_of(st_test::image(ts)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: cokv-fuzz-seeds OUT\n");
    return 2;
  }
  const fs::path out = argv[1];
  try {
    gguf_seeds(out / "gguf");
    tokenizer_seeds(out / "tokenizer");
    table_seeds(out / "budget_table");
    record_seeds(out / "records");
    score_seeds(out / "score_file");
    journal_seeds(out / "journal");
    hf_config_seeds(out / "hf_config");
    hf_tokenizer_seeds(out / "hf_tokenizer");
    safetensors_seeds(out / "safetensors");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cokv-fuzz-seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
