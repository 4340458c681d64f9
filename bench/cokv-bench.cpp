// cokv-bench: benchmarks of a backend's runtime (never part of ctest).
//   cokv-bench forward [--reference-python PY | --reference-bin DIR]
//                                               prefill / decode tokens/s (+ llama.cpp side by side)
//   cokv-bench coalitions                       evaluations/s for K budget vectors vs the naive way
//   cokv-bench --backend cuda cuda              a Llama-3-8B-shaped model with random weights on the
//                                               GPU: prefill, decode steps, memory, coalition
//                                               evaluations, each next to its physical bound
// Results are recorded by hand in bench/RESULTS.md with the machine and date.
#include <omp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/paths.h"
#include "kv/scorers.h"
#include "runtime/backend.h"

using namespace cokv;

namespace {

// N busy-looping child processes beside the benchmark (--contend N), so a contended run is
// the same every time. They die with the benchmark: killed by the destructor, by the signal
// handler on SIGINT/SIGTERM, and by the kernel (PR_SET_PDEATHSIG) if the benchmark crashes.
class Contenders {
 public:
  explicit Contenders(int n) {
    const pid_t parent = getpid();
    for (int i = 0; i < n && i < kMax; ++i) {
      const pid_t pid = fork();
      if (pid < 0) {
        stop();
        throw Error("cokv-bench: fork failed for --contend");
      }
      if (pid == 0) spin(parent);
      pids_[n_++] = pid;
    }
    if (n_ > 0) {
      signal(SIGINT, on_signal);
      signal(SIGTERM, on_signal);
    }
  }
  ~Contenders() { stop(); }
  Contenders(const Contenders&) = delete;
  Contenders& operator=(const Contenders&) = delete;

 private:
  static constexpr int kMax = 64;
  static inline pid_t pids_[kMax];
  static inline volatile sig_atomic_t n_ = 0;

  [[noreturn]] static void spin(pid_t parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);  // the parent died before prctl took effect
    volatile uint64_t x = 1;
    for (;;) x = x * 6364136223846793005ull + 1;
  }
  static void stop() {  // async-signal-safe: kill and waitpid only
    for (int i = 0; i < n_; ++i) kill(pids_[i], SIGKILL);
    for (int i = 0; i < n_; ++i) waitpid(pids_[i], nullptr, 0);
    n_ = 0;
  }
  static void on_signal(int sig) {
    stop();
    signal(sig, SIG_DFL);
    raise(sig);
  }
};

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

// Seconds per call: best of `repeats` calls (an idle machine), or with min_seconds > 0 the
// mean over as many calls as fit in that time (a shared machine: one lucky call proves nothing).
template <class F>
double seconds_per_call(int repeats, double min_seconds, F&& f) {
  if (min_seconds <= 0) return best_of(repeats, f);
  const double t0 = now();
  int calls = 0;
  do {
    f();
    ++calls;
  } while (now() - t0 < min_seconds);
  return (now() - t0) / calls;
}

// Token ids spread over [lo, V), lo = min(500, V / 2): clear of the special tokens at the start of
// a real vocabulary, and valid for the toy shapes' small ones too.
std::vector<int32_t> synthetic_tokens(const ModelInfo& m, int n, int salt) {
  const int lo = std::min(500, m.cfg.n_vocab / 2), span = m.cfg.n_vocab - lo;
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = int32_t((1000 + int64_t{7919} * (i + salt)) % span + lo);
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

// The llama.cpp reference: bench/llama_reference.py through llama-cpp-python (`python` set) or
// through llama.cpp's own tools in `bin`; neither set: none.
struct Reference {
  std::string python, bin;
  bool empty() const { return python.empty() && bin.empty(); }
  std::string command() const {
    const std::string script = std::string(COKV_SOURCE_DIR) + "/bench/llama_reference.py";
    return bin.empty() ? python + " " + script : "python3 " + script + " --bin '" + bin + "'";
  }
};

nlohmann::json run_forward(Backend& b, const Reference& ref, int repeats, bool decode_only) {
  const ModelInfo& m = b.model();
  const int threads = omp_get_max_threads();
  const ModelConfig& c = m.cfg;
  const double mhz = cpu_mhz();
  const double peak = threads * mhz * 1e6 * 32 / 1e9;  // AVX2: 2 FMA x 8 floats x 2 flops per cycle
  nlohmann::json res = {{"backend", backend_name(b.kind())}, {"cpu", cpu_name()}, {"threads", threads}, {"cpu_mhz", mhz}, {"peak_gflops_fp32", peak}};
  if (!decode_only) res["sgemm_gflops"] = sgemm_gflops();
  for (int n : decode_only ? std::vector<int>{} : std::vector<int>{512, 2048}) {
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
  if (!ref.empty()) {
    const std::string cmd = ref.command() + " '" + m.path +
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
                              int repeats, double min_seconds) {
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
                        {"threads", omp_get_max_threads()}, {"min_seconds", min_seconds}};
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
    const double tl = seconds_per_call(repeats, min_seconds, [&] { b.loglik(*p, pols, answer); });
    GenOptions go;
    go.max_new = gen_len;
    const double tg = seconds_per_call(repeats, min_seconds, [&] { b.generate(*p, pols, go); });
    res["K"][std::to_string(K)] = {{"loglik_evals_per_s", K / tl}, {"greedy_evals_per_s", K / tg}};
    if (K == 1) res["naive"]["greedy_evals_per_s"] = 1.0 / (t_prefill + tg);
    std::cerr << "K=" << K << ": loglik " << K / tl << " evals/s, greedy " << K / tg << " evals/s\n";
  }
  return res;
}

// ---- cokv-bench cuda ------------------------------------------------------------------------

// Llama-3-8B's shape (config.json of Meta-Llama-3-8B-Instruct), and a toy one for smoke runs.
ModelConfig llama3_8b() {
  ModelConfig c;
  c.arch = "llama", c.name = "Llama-3-8B shape (random weights)";
  c.n_layers = 32, c.n_heads = 32, c.n_kv_heads = 8, c.head_dim = 128, c.hidden = 4096, c.ffn = 14336;
  c.n_vocab = 128256, c.n_ctx_train = 8192, c.rope_dim = 128, c.rope_base = 500000.f, c.norm_eps = 1e-5f;
  return c;
}
ModelConfig toy_shape() {
  ModelConfig c = llama3_8b();
  c.name = "toy shape (random weights)";
  c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 64, c.hidden = 256, c.ffn = 512;
  c.n_vocab = 1000, c.rope_dim = 64;
  return c;
}

struct CudaBench {
  std::vector<int> tokens{8192, 32768}, policies{1, 8, 32};
  int steps = 16, answer = 16, repeats = 3;
  double hbm_gbs = 0, peak_tflops = 0;
  bool smoke = false;
};

// Bytes of the whole prompt's K and V (bf16) and FLOPs the linear layers do per row.
double kv_bytes(const ModelConfig& c, double T, size_t elem) {
  return 2.0 * c.n_layers * T * c.n_kv_heads * c.head_dim * double(elem);
}
double row_flops(const ModelConfig& c) { return linear_flops_per_token(c) + 2.0 * c.hidden * c.n_vocab; }

// A figure next to its bound, and how close it comes (times: bound / value; rates: value / bound).
void line(const char* what, double value, const char* unit, double bound, const char* bound_why) {
  const bool time = std::string(unit) == "s" || std::string(unit) == "ms";
  std::printf("%-44s %10.3f %-8s bound %10.3f %-8s %5.1f%% of it  (%s)\n", what, value, unit, bound, unit,
              bound > 0 && value > 0 ? 100.0 * (time ? bound / value : value / bound) : 0.0, bound_why);
}

int run_cuda(Backend& b, CudaBench o) {
  const ModelConfig& c = b.model().cfg;
  const DeviceInfo dev = b.device();
  const double hbm = (o.hbm_gbs > 0 ? o.hbm_gbs : dev.hbm_gbs) * 1e9;
  const double peak = (o.peak_tflops > 0 ? o.peak_tflops : dev.peak_tflops) * 1e12;
  const double wbytes = double(b.counters().weight_bytes), mib = 1 << 20;
  const size_t elem = b.kv_element_bytes();
  std::printf("device: %s (sm_%d, %d SMs, %.0f GiB): HBM %.0f GB/s, bf16 tensor-core peak %.0f TFLOP/s%s\n",
              dev.name.c_str(), dev.compute_capability, dev.sms, double(dev.memory_bytes) / (1 << 30), hbm / 1e9,
              peak / 1e12, dev.emulated ? " (nominal: emulated, timings meaningless)" : "");
  std::printf("model: %s, L %d H %d G %d D %d E %d F %d V %d; weights %.1f MiB on the device\n", c.name.c_str(),
              c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.hidden, c.ffn, c.n_vocab, wbytes / mib);
  nlohmann::json res = {{"device", dev.name}, {"hbm_gbs", hbm / 1e9}, {"peak_tflops", peak / 1e12},
                        {"model", c.name}, {"weight_bytes", wbytes}};
  const int n = c.n_kv_players();
  std::mt19937 rng(5);
  for (int T : o.tokens) {
    std::printf("\n-- T = %d\n", T);
    const auto toks = synthetic_tokens(b.model(), T, 0);
    std::unique_ptr<PromptState> p;
    const double tp = best_of(o.repeats, [&] { p = b.prefill(toks); });
    // Causal attention: QK^T and PV over T(T+1)/2 pairs per head and layer; the LM head once.
    const double attn = 4.0 * c.n_layers * c.n_heads * c.head_dim * (double(T) * (T + 1) / 2);
    const double pf = linear_flops_per_token(c) * T + attn + 2.0 * c.hidden * c.n_vocab;
    line("prefill (s)", tp, "s", pf / peak, "FLOPs / tensor-core peak");
    std::printf("%-44s %10.0f tok/s, %.1f TFLOP/s\n", "", T / tp, pf / tp / 1e12);
    const double full = kv_bytes(c, T, elem);
    const BackendCounters bc = b.counters();
    std::printf("%-44s %10.1f MiB  (weights %.1f, full KV cache %.1f, scratch and the rest %.1f; reserved %.1f)\n",
                "peak device memory so far", bc.peak_device_bytes / mib, wbytes / mib, full / mib,
                (double(bc.peak_device_bytes) - wbytes - full) / mib, bc.device_reserved_bytes / mib);
    nlohmann::json& rt = res["T"][std::to_string(T)];
    rt = {{"prefill_s", tp}, {"prefill_tokens_per_s", T / tp}, {"prefill_tflops", pf / tp / 1e12},
          {"prefill_bound_s", pf / peak}, {"full_kv_bytes", full}, {"peak_device_bytes", bc.peak_device_bytes}};

    const Rankings rk = b.rank(*p, ScorerConfig{});
    for (int K : o.policies) {
      // Decode: K policies, full cache (one set per head shared by all) and mean budget 128.
      for (int budget : {0, 128}) {
        if (budget >= T) continue;
        const BudgetVector bv = budget ? BudgetVector::uniform(n, budget) : BudgetVector::all(n);
        std::vector<Policy> pols(K, Policy{bv, &rk, rk.window});
        GenOptions go;
        go.max_new = o.steps + 1;
        const double t = best_of(o.repeats, [&] { b.generate(*p, pols, go); }) / o.steps;
        const double kv = budget ? kv_bytes(c, budget, elem) : full;  // one set per head, shared by all K
        const double bound = std::max((wbytes + kv) / hbm, row_flops(c) * K / peak);
        char what[96];
        std::snprintf(what, sizeof what, "decode K=%d %s (ms/step)", K, budget ? "budget 128" : "full cache");
        line(what, 1e3 * t, "ms", 1e3 * bound, "(weights + kept K/V) / HBM");
        rt["decode"][std::to_string(K)][budget ? "budget128_ms" : "full_ms"] = 1e3 * t;
        rt["decode"][std::to_string(K)][budget ? "budget128_bound_ms" : "full_bound_ms"] = 1e3 * bound;
      }
      // Coalitions: members keep the whole prompt, the others the window (CoKV's game).
      std::vector<Policy> pols;
      for (int k = 0; k < K; ++k) {
        std::vector<uint8_t> mem(n);
        for (auto& m : mem) m = rng() % 2;
        pols.push_back({BudgetVector::coalition(mem, rk.window), &rk, rk.window});
      }
      const auto ans = synthetic_tokens(b.model(), o.answer, 3);
      const double tl = best_of(o.repeats, [&] { b.loglik(*p, pols, ans); });
      const double rows = double(K) * (o.answer - 1);
      const double bl = std::max((wbytes + full) / hbm, row_flops(c) * rows / peak);
      GenOptions go;
      go.max_new = o.answer;
      const double tg = best_of(o.repeats, [&] { b.generate(*p, pols, go); });
      const double bg = (o.answer - 1) * std::max((wbytes + full) / hbm, row_flops(c) * K / peak);
      char what[96];
      std::snprintf(what, sizeof what, "coalitions K=%d loglik, %d tokens (evals/s)", K, o.answer);
      line(what, K / tl, "evals/s", K / bl, "one pass of the weights and the shared K/V, or FLOPs");
      std::snprintf(what, sizeof what, "coalitions K=%d greedy, %d tokens (evals/s)", K, o.answer);
      line(what, K / tg, "evals/s", K / bg, "a pass of the weights and K/V per step");
      rt["coalitions"][std::to_string(K)] = {{"loglik_evals_per_s", K / tl}, {"loglik_bound", K / bl},
                                             {"greedy_evals_per_s", K / tg}, {"greedy_bound", K / bg}};
    }
  }
  std::cout << res.dump(2) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cokv-bench: runtime benchmarks (results go to bench/RESULTS.md)"};
  Reference ref;
  std::string backend = "auto", numerics = "fp32";
  bool decode_only = false;
  BackendOptions bo;
  bo.model_path = default_model_path();
  int repeats = 2, prompt_len = 2048, answer_len = 16, gen_len = 32;
  std::vector<int> ks = {1, 8, 32, 64};
  std::vector<std::string> weights = {"auto"};
  int contend = 0;
  app.add_option("--model", bo.model_path, "GGUF file or Hugging Face folder");
  app.add_option("--backend", backend, backend_help())
      ->check(CLI::IsMember({"auto", "cpu", "cuda", "cuda-emu"}));
  app.add_option("--repeats", repeats, "best of N runs");
  app.add_option("--weights", weights,
                 "weight modes (fp32, bf16, q8_0, file, auto), benchmarked one after the other in this process")
      ->delimiter(',')
      ->check(CLI::IsMember(weight_mode_names()));
  app.add_option("--numerics", numerics,
                 "fp32 | ggml (activations rounded to 8-bit blocks as llama.cpp does; Q4_0/Q4_1/Q8_0 weights then "
                 "multiply in integers)")
      ->check(CLI::IsMember({"fp32", "ggml"}));
  app.add_option("--contend", contend,
                 "run N busy-looping processes of its own beside the benchmark (killed at the end)")
      ->check(CLI::Range(0, 64));
  auto* fwd = app.add_subcommand("forward", "prefill tokens/s at 512 and 2048 tokens; decode tokens/s at batch 1 and 32");
  auto* ref_py = fwd->add_option("--reference-python", ref.python,
                                 "python with llama-cpp-python installed: also time llama.cpp on the same file and threads");
  fwd->add_option("--reference-bin", ref.bin,
                  "llama.cpp's build/bin (llama-bench, llama-batched-bench): time llama.cpp through its own tools")
      ->excludes(ref_py);
  fwd->add_flag("--decode-only", decode_only, "skip the prefill measurements");
  auto* coal = app.add_subcommand("coalitions", "evaluations/s of K budget vectors against one prefilled prompt");
  coal->add_option("--prompt", prompt_len, "prompt tokens");
  coal->add_option("--answer", answer_len, "answer tokens for log-likelihood");
  coal->add_option("--gen", gen_len, "greedy tokens");
  coal->add_option("--k", ks, "numbers of budget vectors");
  double min_seconds = 0;
  coal->add_option("--min-seconds", min_seconds,
                   "time each figure as the mean over calls for at least this long (contended runs; default: best "
                   "of --repeats)")
      ->check(CLI::NonNegativeNumber);
  CudaBench cb;
  auto* cuda = app.add_subcommand(
      "cuda", "a Llama-3-8B-shaped model with random bf16 weights on the CUDA backend: prefill, decode, memory, "
              "coalitions, each next to its bound (--backend cuda, or cuda-emu with --smoke)");
  cuda->add_option("--tokens", cb.tokens, "prompt lengths")->delimiter(',');
  cuda->add_option("--policies", cb.policies, "batch sizes K")->delimiter(',');
  cuda->add_option("--steps", cb.steps, "decode steps timed per figure");
  cuda->add_option("--answer", cb.answer, "coalitions: answer tokens (loglik) and greedy tokens");
  cuda->add_option("--hbm-gbs", cb.hbm_gbs, "HBM bandwidth GB/s (default: memory clock x bus width)");
  cuda->add_option("--peak-tflops", cb.peak_tflops, "bf16 dense tensor-core peak (default: SMs x clock x arch)");
  cuda->add_flag("--smoke", cb.smoke, "toy shape, one repeat, T = 96, K = 1, 3: checks it runs (CI, emulated)");
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  try {
    bo.kind = parse_backend(backend);
    bo.numerics = numerics == "ggml" ? Model::Numerics::Ggml : Model::Numerics::Fp32;
    if (*cuda) {
      bo.random_weights = cb.smoke ? toy_shape() : llama3_8b();
      cb.repeats = repeats;
      if (cb.smoke) cb.tokens = {96}, cb.policies = {1, 3}, cb.steps = 2, cb.answer = 4, cb.repeats = 1;
      auto b = open_backend(bo);
      return run_cuda(*b, cb);
    }
    const Contenders contenders(contend);
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
      nlohmann::json res = *fwd ? run_forward(*b, i == 0 ? ref : Reference{}, repeats, decode_only)
                                : run_coalitions(*b, prompt_len, answer_len, gen_len, ks, repeats, min_seconds);
      res["weights"] = weight_mode_name(b->model().weights);
      res["numerics"] = numerics;
      res["weights_bytes"] = bytes;
      res["load_s"] = load_s;
      res["contenders"] = contend;
      all.push_back(res);
    }
    std::cout << (all.size() == 1 ? all[0] : all).dump(2) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "cokv-bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
