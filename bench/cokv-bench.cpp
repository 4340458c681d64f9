// cokv-bench: benchmarks of a backend's runtime (never part of ctest).
//   cokv-bench forward [--reference-python PY]  prefill / decode tokens/s (+ llama.cpp side by side)
//   cokv-bench coalitions                       evaluations/s for K budget vectors vs the naive way
// Results are recorded by hand in bench/RESULTS.md with the machine and date.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/paths.h"
#include "kv/scorers.h"
#include "runtime/backend.h"

using namespace cokv;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <class F>
double best_of(int repeats, F&& f) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = now();
    f();
    best = std::min(best, now() - t0);
  }
  return best;
}

std::vector<int32_t> synthetic_tokens(const ModelInfo& m, int n, int salt) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = (1000 + 7919 * (i + salt)) % (m.cfg.n_vocab - 1000) + 500;
  return t;
}

// FLOPs of one prefill token, excluding attention: 2 x weights touched (LM head only once).
double linear_flops_per_token(const ModelConfig& c) {
  const double per_layer = double(c.hidden) * (c.n_heads + 2 * c.n_kv_heads) * c.head_dim +
                           double(c.n_heads) * c.head_dim * c.hidden + 3.0 * c.hidden * c.ffn;
  return 2.0 * per_layer * c.n_layers;
}

double cpu_mhz() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("cpu MHz", 0) == 0) return std::stod(line.substr(line.find(':') + 1));
  return 0;
}

std::string cpu_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "?";
}

// Eigen SGEMM at a prefill-like shape: the practical ceiling of the linear layers.
double sgemm_gflops() {
  Mat a = Mat::Random(512, 576), b = Mat::Random(1536, 576), c;
  c.noalias() = a * b.transpose();
  const double t = best_of(5, [&] { c.noalias() = a * b.transpose(); });
  return 2.0 * 512 * 576 * 1536 / t / 1e9;
}

nlohmann::json run_forward(Backend& b, const std::string& ref_python, int repeats) {
  const ModelInfo& m = b.model();
  const int threads = omp_get_max_threads();
  const ModelConfig& c = m.cfg;
  const double mhz = cpu_mhz();
  const double peak = threads * mhz * 1e6 * 32 / 1e9;  // AVX2: 2 FMA x 8 floats x 2 flops per cycle
  nlohmann::json res = {{"backend", backend_name(b.kind())}, {"cpu", cpu_name()}, {"threads", threads}, {"cpu_mhz", mhz}, {"peak_gflops_fp32", peak}};
  res["sgemm_gflops"] = sgemm_gflops();
  for (int n : {512, 2048}) {
    auto toks = synthetic_tokens(m, n, 0);
    const double t = best_of(repeats, [&] { b.prefill(toks); });
    res["prefill"][std::to_string(n)] = {{"tokens_per_s", n / t}, {"seconds", t},
                                         {"linear_gflops", linear_flops_per_token(c) * n / t / 1e9}};
    std::cerr << "prefill " << n << ": " << n / t << " tok/s\n";
  }
  const int P = 512, new_tokens = 64;
  const auto p = b.prefill(synthetic_tokens(m, P, 1));
  for (int B : {1, 32}) {
    std::vector<Policy> pols(B, Policy{BudgetVector::all(c.n_kv_players()), nullptr});
    GenOptions go;
    go.max_new = new_tokens + 1;  // the first token comes from prefill: 64 decode steps
    const double t = best_of(repeats, [&] { b.generate(*p, pols, go); });
    res["decode"][std::to_string(B)] = {{"tokens_per_s", B * new_tokens / t}, {"seconds", t}};
    std::cerr << "decode batch " << B << ": " << B * new_tokens / t << " tok/s\n";
  }
  if (!ref_python.empty()) {
    const std::string cmd = ref_python + " " + std::string(COKV_SOURCE_DIR) + "/bench/llama_reference.py '" + m.path +
                            "' --threads " + std::to_string(threads) + " --decode-tokens " + std::to_string(new_tokens) +
                            " --decode-prompt " + std::to_string(P) + " --repeats " + std::to_string(repeats);
    std::cerr << "running llama.cpp reference: " << cmd << "\n";
    std::string out;
    if (FILE* f = popen(cmd.c_str(), "r")) {
      char buf[4096];
      while (fgets(buf, sizeof buf, f)) out += buf;
      pclose(f);
    }
    try {
      res["llama_cpp"] = nlohmann::json::parse(out);
    } catch (...) {
      std::cerr << "llama.cpp reference failed; output: " << out << "\n";
    }
  }
  return res;
}

nlohmann::json run_coalitions(Backend& b, int prompt_len, int answer_len, int gen_len, std::vector<int> ks,
                              int repeats) {
  const ModelInfo& m = b.model();
  const int n = m.cfg.n_kv_players();
  auto toks = synthetic_tokens(m, prompt_len, 2);
  auto answer = synthetic_tokens(m, answer_len, 3);
  const auto p = b.prefill(toks);
  ScorerConfig sc;
  Rankings rk = b.rank(*p, sc);
  std::mt19937 rng(1);
  auto coalitions = [&](int K) {
    std::vector<Policy> pols;
    for (int k = 0; k < K; ++k) {
      std::vector<uint8_t> mem(n);
      for (auto& b : mem) b = rng() % 2;
      pols.push_back({BudgetVector::coalition(mem, sc.window), &rk});
    }
    return pols;
  };
  nlohmann::json res = {{"prompt_tokens", prompt_len}, {"answer_tokens", answer_len}, {"gen_tokens", gen_len},
                        {"threads", omp_get_max_threads()}};
  // The naive way: a fresh full forward per evaluation (prefill of prompt + answer).
  std::vector<int32_t> full = toks;
  full.insert(full.end(), answer.begin(), answer.end());
  PrefillOptions po;
  po.keep_kv = false;
  const double t_naive_ll = best_of(1, [&] { b.prefill(full, po); });
  const double t_prefill = best_of(1, [&] { b.prefill(toks); });
  res["naive"]["loglik_evals_per_s"] = 1.0 / t_naive_ll;
  std::cerr << "naive loglik: " << 1.0 / t_naive_ll << " evals/s\n";
  for (int K : ks) {
    auto pols = coalitions(K);
    const double tl = best_of(repeats, [&] { b.loglik(*p, pols, answer); });
    GenOptions go;
    go.max_new = gen_len;
    const double tg = best_of(repeats, [&] { b.generate(*p, pols, go); });
    res["K"][std::to_string(K)] = {{"loglik_evals_per_s", K / tl}, {"greedy_evals_per_s", K / tg}};
    if (K == 1) res["naive"]["greedy_evals_per_s"] = 1.0 / (t_prefill + tg);
    std::cerr << "K=" << K << ": loglik " << K / tl << " evals/s, greedy " << K / tg << " evals/s\n";
  }
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cokv-bench: runtime benchmarks (results go to bench/RESULTS.md)"};
  std::string ref_python, backend = "auto";
  BackendOptions bo;
  bo.model_path = default_model_path();
  int repeats = 2, prompt_len = 2048, answer_len = 16, gen_len = 32;
  std::vector<int> ks = {1, 8, 32, 64};
  std::vector<std::string> weights = {"auto"};
  app.add_option("--model", bo.model_path, "GGUF file or Hugging Face folder");
  app.add_option("--backend", backend, "auto | cpu | cuda (this build: " + built_backends() + ")")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app.add_option("--repeats", repeats, "best of N runs");
  app.add_option("--weights", weights,
                 "weight modes (fp32, bf16, auto), benchmarked one after the other in this process")
      ->delimiter(',')
      ->check(CLI::IsMember({"fp32", "bf16", "auto"}));
  auto* fwd = app.add_subcommand("forward", "prefill tokens/s at 512 and 2048 tokens; decode tokens/s at batch 1 and 32");
  fwd->add_option("--reference-python", ref_python,
                  "python with llama-cpp-python installed: also time llama.cpp on the same file and threads");
  auto* coal = app.add_subcommand("coalitions", "evaluations/s of K budget vectors against one prefilled prompt");
  coal->add_option("--prompt", prompt_len, "prompt tokens");
  coal->add_option("--answer", answer_len, "answer tokens for log-likelihood");
  coal->add_option("--gen", gen_len, "greedy tokens");
  coal->add_option("--k", ks, "numbers of budget vectors");
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  try {
    bo.kind = parse_backend(backend);
    nlohmann::json all = nlohmann::json::array();
    for (size_t i = 0; i < weights.size(); ++i) {
      bo.weights = parse_weight_mode(weights[i]);
      const double t0 = now();
      auto b = open_backend(bo);
      const double load_s = now() - t0;
      const size_t bytes = b->counters().weight_bytes;
      std::cerr << "weights " << weight_mode_name(b->model().weights) << ": " << bytes / 1e6 << " MB, loaded in "
                << load_s << " s\n";
      // llama.cpp is timed once, with the first mode.
      nlohmann::json res = *fwd ? run_forward(*b, i == 0 ? ref_python : std::string(), repeats)
                                : run_coalitions(*b, prompt_len, answer_len, gen_len, ks, repeats);
      res["weights"] = weight_mode_name(b->model().weights);
      res["weights_bytes"] = bytes;
      res["load_s"] = load_s;
      all.push_back(res);
    }
    std::cout << (all.size() == 1 ? all[0] : all).dump(2) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "cokv-bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
