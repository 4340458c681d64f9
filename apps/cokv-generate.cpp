// cokv-generate: greedy continuation of a prompt on a backend's runtime (full KV cache).
//   cokv-generate --prompt "What is the capital of France?" --chat
#include <CLI/CLI.hpp>
#include <iostream>

#include "core/error.h"
#include "core/paths.h"
#include "runtime/backend.h"

int main(int argc, char** argv) {
  CLI::App app{"cokv-generate: greedy continuation of a prompt with the built-in runtime"};
  cokv::BackendOptions bo;
  bo.model_path = cokv::default_model_path();
  std::string prompt, backend = "auto";
  bool chat = false, show_ids = false;
  int max_new = 64;
  app.add_option("--model", bo.model_path, "GGUF model file (default: the model scripts/setup fetched)");
  app.add_option("--backend", backend, cokv::backend_help())
      ->check(CLI::IsMember({"auto", "cpu", "cuda", "cuda-emu"}));
  app.add_option("--prompt", prompt, "prompt text")->required();
  app.add_flag("--chat", chat, "wrap the prompt in the model's chat template as a user turn");
  app.add_option("--max-new", max_new, "maximum new tokens")->check(CLI::Range(1, 100000));
  app.add_flag("--ids", show_ids, "also print the generated token ids on stderr");
  std::string numerics = "fp32";
  app.add_option("--numerics", numerics,
                 "fp32: exact arithmetic on the dequantised weights; ggml: round activations like llama.cpp")
      ->check(CLI::IsMember({"fp32", "ggml"}));
  CLI11_PARSE(app, argc, argv);
  try {
    bo.kind = cokv::parse_backend(backend);
    bo.numerics = numerics == "ggml" ? cokv::Model::Numerics::Ggml : cokv::Model::Numerics::Fp32;
    auto b = cokv::open_backend(bo);
    const cokv::ModelInfo& m = b->model();
    const std::string text = chat ? m.chat.apply_user(prompt) : prompt;
    const std::vector<int32_t> ids = m.tok.encode(text);
    const auto p = b->prefill(ids);
    cokv::Policy full{cokv::BudgetVector::all(m.cfg.n_kv_players())};
    cokv::GenOptions opt;
    opt.max_new = max_new;
    opt.stop = m.tok.stop_tokens();
    auto res = b->generate(*p, std::span(&full, 1), opt);
    std::cout << m.tok.decode(res[0].tokens, true) << "\n";
    if (show_ids) {
      for (int32_t t : res[0].tokens) std::cerr << t << ' ';
      std::cerr << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "cokv-generate: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
