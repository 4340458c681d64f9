// cokv-generate: greedy continuation of a prompt on a backend's runtime (full KV cache).
//   cokv-generate --prompt "What is the capital of France?" --chat
//   cokv-generate --model FOLDER_OR_GGUF --dry-run      memory the model needs, nothing loaded
#include <CLI/CLI.hpp>
#include <iostream>

#include "core/error.h"
#include "core/paths.h"
#include "model/model_source.h"
#include "runtime/backend.h"

int main(int argc, char** argv) {
  CLI::App app{"cokv-generate: greedy continuation of a prompt with the built-in runtime"};
  cokv::BackendOptions bo;
  bo.model_path = cokv::default_model_path();
  std::string prompt, backend = "auto", weights = "auto";
  bool chat = false, show_ids = false, dry_run = false;
  int max_new = 64;
  app.add_option("--model", bo.model_path,
                 "GGUF file or Hugging Face folder (config.json, safetensors, tokenizer.json); "
                 "default: the model scripts/setup fetched");
  app.add_option("--backend", backend, cokv::backend_help())
      ->check(CLI::IsMember({"auto", "cpu", "cuda", "cuda-emu"}));
  app.add_option("--prompt", prompt, "prompt text (required unless --dry-run)");
  app.add_flag("--chat", chat, "wrap the prompt in the model's chat template as a user turn");
  app.add_option("--max-new", max_new, "maximum new tokens")->check(CLI::Range(1, 100000));
  app.add_flag("--ids", show_ids, "also print the generated token ids on stderr");
  std::string numerics = "fp32";
  app.add_option("--numerics", numerics,
                 "fp32: exact arithmetic on the dequantised weights; ggml: round activations like llama.cpp")
      ->check(CLI::IsMember({"fp32", "ggml"}));
  app.add_option("--weights", weights,
                 "weights in memory: fp32 (the reference) | bf16 | q8_0 | file (kept as the file stores them, the "
                 "smallest) | auto (fp32 up to 4 GiB of fp32 weights, else bf16)")
      ->check(CLI::IsMember(cokv::weight_mode_names()))
      ->capture_default_str();
  app.add_flag("--dry-run", dry_run, "print the memory the model needs in each --weights mode, load nothing");
  CLI11_PARSE(app, argc, argv);
  try {
    if (dry_run) {
      const cokv::ModelConfig c = cokv::read_model_config(bo.model_path);
      std::cout << "model:             " << bo.model_path << " ("
                << cokv::model_format_name(cokv::model_format(bo.model_path)) << "; " << c.arch << ", " << c.n_layers
                << " layers, hidden " << c.hidden << ", heads " << c.n_heads << "/" << c.n_kv_heads << " x "
                << c.head_dim << ", ffn " << c.ffn << ", vocab " << c.n_vocab << ")\n"
                << cokv::memory_report(c);
      return 0;
    }
    if (prompt.empty()) throw cokv::Error("--prompt: expected a prompt (or --dry-run)");
    bo.kind = cokv::parse_backend(backend);
    bo.numerics = numerics == "ggml" ? cokv::Model::Numerics::Ggml : cokv::Model::Numerics::Fp32;
    bo.weights = cokv::parse_weight_mode(weights);
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
