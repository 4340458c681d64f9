// Tokenizer speed: load time, cold and warm (BPE cache filled) encode, and decode, on a text
// of about --tokens tokens built from the reference strings, or on --file.
// Run: ./build/bench_tokenizer [--model PATH] [--tokens 30000] [--file TEXT]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/paths.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cokv tokenizer benchmark"};
  std::string model = cokv::default_model_path(), file;
  size_t n_tokens = 30000;
  app.add_option("--model", model, "GGUF model");
  app.add_option("--tokens", n_tokens, "approximate text length in tokens");
  app.add_option("--file", file, "encode this text file instead");
  CLI11_PARSE(app, argc, argv);

  auto t0 = std::chrono::steady_clock::now();
  const auto gguf = cokv::GgufFile::open(model);
  const auto tok = cokv::Tokenizer::from_gguf(gguf);
  std::printf("load: %.3f s (n_vocab %d, pre %s)\n", seconds_since(t0), tok.n_vocab(), tok.pre_name().c_str());

  std::string text;
  if (!file.empty()) {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  } else {
    std::ifstream in(std::string(COKV_SOURCE_DIR) + "/tests/data/reference/tokens.json");
    const auto ref = nlohmann::json::parse(in);
    std::string base;
    for (const auto& c : ref["cases"])
      if (c.contains("text")) base += c["text"].get<std::string>() + "\n";
    while (tok.encode(text, false).size() < n_tokens) text += base;
  }
  // a fresh tokenizer so the first encode is cold
  const auto fresh = cokv::Tokenizer::from_gguf(gguf);
  t0 = std::chrono::steady_clock::now();
  const auto ids = fresh.encode(text);
  const double cold = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  const auto ids2 = fresh.encode(text);
  const double warm = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  const std::string back = fresh.decode(ids);
  const double dec = seconds_since(t0);
  std::printf("text: %zu bytes -> %zu tokens\n", text.size(), ids.size());
  std::printf("encode cold: %.4f s (%.0f tokens/s)\n", cold, ids.size() / cold);
  std::printf("encode warm: %.4f s (%.0f tokens/s)\n", warm, ids2.size() / warm);
  std::printf("decode:      %.4f s, round trip %s\n", dec, back == text ? "ok" : "DIFFERS");
  return back == text && ids == ids2 ? 0 : 1;
}
