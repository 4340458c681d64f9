// Times loading a GGUF model: open (mmap + parse metadata), config, load_weights (dequantise
// everything to fp32). Usage: bench_model_load [model.gguf] [repeats]; default: the default model.
// Threads: OMP_NUM_THREADS.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <omp.h>

#include "core/error.h"
#include "core/paths.h"
#include "model/config.h"
#include "model/gguf.h"
#include "model/weights.h"

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : cokv::default_model_path();
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  using clk = std::chrono::steady_clock;
  auto sec = [](clk::time_point a, clk::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  try {
    for (int r = 0; r < repeats; ++r) {
      auto t0 = clk::now();
      cokv::GgufFile f = cokv::GgufFile::open(path);
      auto t1 = clk::now();
      cokv::ModelConfig c = cokv::config_from_gguf(f);
      auto t2 = clk::now();
      cokv::Weights w = cokv::load_weights(f, c);
      auto t3 = clk::now();
      double mb = 0;
      for (const auto& t : f.tensors()) mb += double(t.n_elements()) * 4 / 1e6;
      std::printf("run %d (%d threads): open %.3f s, config %.4f s, load_weights %.3f s (%.0f MB fp32, %.2f GB/s)\n",
                  r, omp_get_max_threads(), sec(t0, t1), sec(t1, t2), sec(t2, t3), mb, mb / 1e3 / sec(t2, t3));
    }
  } catch (const cokv::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
