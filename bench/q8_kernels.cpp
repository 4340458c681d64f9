// bench/q8_kernels: times the integer-dot linear (runtime/q8_linear.h) on the default model's
// own matrices (never part of ctest).
//   ./build/q8_kernels [--model GGUF] [--rows 1,32] [--threads 1]
// For each input batch M: GMAC/s of one layer's q, k, v, o, gate, up and down projections and of
// the LM head, kept as the file stores them (Q4_1 / Q8_0 for the default file; rows interleaved
// as Model::load leaves them for the ggml numerics), on Q8-rounded
// random inputs; and the bytes those weights take, so batch 1 reads as GB/s. A hash of each
// result's bits shows whether a kernel edit changed them.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>

#include "core/paths.h"
#include "model/config.h"
#include "model/dequant.h"
#include "model/gguf.h"
#include "model/weights.h"
#include "runtime/ops.h"
#include "runtime/q8_linear.h"

using namespace cokv;

namespace {

// FNV-1a of a result's bits: the same hash before and after a kernel edit means the same bits.
uint32_t bits_hash(const Mat& y) {
  uint32_t h = 2166136261u;
  const auto* p = reinterpret_cast<const unsigned char*>(y.data());
  for (size_t i = 0; i < size_t(y.size()) * sizeof(float); ++i) h = (h ^ p[i]) * 16777619u;
  return h;
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <class F>
double best_seconds(F&& f, double min_total = 0.4) {
  double best = 1e30, total = 0;
  while (total < min_total) {
    const double t0 = now();
    f();
    const double t = now() - t0;
    best = std::min(best, t), total += t;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"q8_kernels: integer-dot linear on the model's own matrices"};
  std::string model = default_model_path();
  std::vector<int> rows{1, 32};
  int threads = 1;
  app.add_option("--model", model, "GGUF file");
  app.add_option("--rows", rows, "input rows M")->delimiter(',');
  app.add_option("--threads", threads, "threads");
  CLI11_PARSE(app, argc, argv);
  omp_set_num_threads(threads);
  const GgufFile f = GgufFile::open(model);
  const ModelConfig cfg = config_from_gguf(f);
  Weights w = load_weights(f, cfg, WeightMode::File);
  interleave_q8_weights(w);  // as Model::load does for the ggml numerics
  const LayerWeights& l = w.layers[0];
  const std::pair<const char*, const WeightMatrix*> mats[] = {
      {"q", &l.wq}, {"k", &l.wk}, {"v", &l.wv}, {"o", &l.wo}, {"gate", &l.w_gate}, {"up", &l.w_up},
      {"down", &l.w_down}, {"lm_head", &w.lm_head()}};
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  for (int M : rows) {
    double layer_macs = 0, layer_s = 0, layer_bytes = 0;
    for (auto [name, m] : mats) {
      Mat x(M, m->cols()), y;
      for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
      quantize_activations(x, ActQuant::Q8Blocks);
      const double t = best_seconds([&] { linear_q8(x, *m, y); });
      const double macs = double(M) * m->rows() * m->cols(), bytes = double(m->rows()) * m->row_bytes();
      std::printf("M=%-3d %-8s %-5s %5ld x %-5ld %7.2f GMAC/s %6.2f GB/s %8.1f us  bits %08x\n", M, name,
                  ggml_type_name(m->type()), long(m->rows()), long(m->cols()), macs / t * 1e-9, bytes / t * 1e-9,
                  t * 1e6, bits_hash(y));
      if (std::string(name) != "lm_head") layer_macs += macs, layer_s += t, layer_bytes += bytes;
    }
    std::printf("M=%-3d layer    %7.2f GMAC/s %6.2f GB/s (one layer's matrices, cache-warm)\n", M,
                layer_macs / layer_s * 1e-9, layer_bytes / layer_s * 1e-9);
    // A decode step's linears: every layer's matrices then the LM head, weights from memory.
    double step_macs = 0, step_bytes = 0;
    std::vector<const WeightMatrix*> step;
    for (const LayerWeights& lw : w.layers)
      for (const WeightMatrix* m : {&lw.wq, &lw.wk, &lw.wv, &lw.wo, &lw.w_gate, &lw.w_up, &lw.w_down}) step.push_back(m);
    step.push_back(&w.lm_head());
    std::vector<Mat> xs;
    for (const WeightMatrix* m : step) {
      xs.emplace_back(M, m->cols());
      for (Eigen::Index i = 0; i < xs.back().size(); ++i) xs.back().data()[i] = nd(rng);
      quantize_activations(xs.back(), ActQuant::Q8Blocks);
      step_macs += double(M) * m->rows() * m->cols(), step_bytes += double(m->rows()) * m->row_bytes();
    }
    Mat y;
    const double t = best_seconds([&] {
      for (size_t i = 0; i < step.size(); ++i) linear_q8(xs[i], *step[i], y);
    });
    std::printf("M=%-3d step     %7.2f GMAC/s %6.2f GB/s %8.1f us (all %zu matrices of a decode step)\n", M,
                step_macs / t * 1e-9, step_bytes / t * 1e-9, t * 1e6, step.size());
  }
  // decode_rows, the input of the fp32 product that prefill-sized batches take: the file's plain
  // rows against the interleaved layout, one thread.
  const Weights plain = load_weights(f, cfg, WeightMode::File);
  const LayerWeights& pl = plain.layers[0];
  const std::pair<const WeightMatrix*, const WeightMatrix*> pairs[] = {
      {&pl.wq, &l.wq}, {&pl.w_up, &l.w_up}, {&pl.w_down, &l.w_down}};
  for (auto [p, q] : pairs) {
    std::vector<float> out(size_t(p->size()));
    const double tp = best_seconds([&] { p->decode_rows(0, p->rows(), out.data()); });
    const double tq = best_seconds([&] { q->decode_rows(0, q->rows(), out.data()); });
    std::printf("decode_rows %-5s %5ld x %-5ld plain %6.3f ns/value, interleaved %6.3f ns/value\n",
                ggml_type_name(p->type()), long(p->rows()), long(p->cols()), tp / double(p->size()) * 1e9,
                tq / double(q->size()) * 1e9);
  }
}
