// cokv-kernel-bench: times the kernels of kernels/ at Llama-3-8B shapes (32 query heads, 8 KV
// heads, head_dim 128, hidden 4096, ffn 14336, vocab 128256) and prints each figure next to
// its napkin bound, llm.c dev/cuda style: achieved TFLOP/s against the bf16 tensor-core peak
// for compute-bound kernels (prefill attention, prefill GEMMs), achieved GB/s against the
// HBM bandwidth for memory-bound ones (decode attention over the kept KV, decode GEMMs over
// the weights, norms, logits). Correctness is the parity suite's business (cokv-cuda-tests);
// here outputs are only checked to be finite.
//
//   cokv-kernel-bench [--tokens 8192,32768] [--policies 1,8,32] [--repeats 20]
//                     [--hbm-gbs B] [--peak-tflops F] [--smoke]
// scripts/gpu-check runs it after the parity suite. The same source builds against the
// emulator (cokv-kernel-bench-emu) so that CI runs it once at toy shapes (--smoke); its
// timings mean nothing.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "compact.cuh"
#include "decode_attention.cuh"
#include "linear.cuh"
#include "logits.cuh"
#include "prefill_attention.cuh"
#include "rank.cuh"
#include "rms_norm.cuh"
#include "rope.cuh"
#include "scores.cuh"
#include "swiglu.cuh"

using namespace cokv::kernels;

namespace {

struct Shape {  // Llama-3-8B
  int H = 32, G = 8, D = 128, E = 4096, F = 14336, V = 128256, L = 32, window = 8, win_rows = 32;
};

struct Device {
  std::string name;
  int sms = 0, cc = 0;
  double hbm_gbs = 0, peak_tflops = 0;
};

int attr(cudaDeviceAttr a) {
  int v = 0;
  cudaDeviceGetAttribute(&v, a, 0);
  return v;
}

// HBM bandwidth from the memory clock and bus width (DDR: two transfers per clock); the bf16
// dense tensor-core peak from SMs x clock x FLOP/clock/SM of the architecture (sm_80: 2048,
// sm_90: 4096 with wgmma; the WMMA kernels here issue mma.sync, which reaches about half of
// that on sm_90). Either can be given instead.
Device query(double hbm_gbs, double peak_tflops) {
  Device d;
  d.sms = attr(cudaDevAttrMultiProcessorCount);
  d.cc = attr(cudaDevAttrComputeCapabilityMajor) * 10 + attr(cudaDevAttrComputeCapabilityMinor);
#if COKV_EMU
  d.name = "emulator (nominal sm_80 figures; timings meaningless)";
#else
  cudaDeviceProp p{};
  cudaGetDeviceProperties(&p, 0);
  d.name = p.name;
#endif
  const double mem_khz = attr(cudaDevAttrMemoryClockRate), bus_bits = attr(cudaDevAttrGlobalMemoryBusWidth);
  d.hbm_gbs = hbm_gbs > 0 ? hbm_gbs : 2.0 * mem_khz * 1e3 * bus_bits / 8 / 1e9;
  const double flop_per_clk = d.cc == 80 ? 2048 : d.cc == 90 ? 4096 : 0;
  d.peak_tflops =
      peak_tflops > 0 ? peak_tflops : flop_per_clk * d.sms * attr(cudaDevAttrClockRate) * 1e3 / 1e12;
  return d;
}

// Device buffer filled with a repeating pseudo-random pattern in [-1, 1) (uploaded once, then
// doubled on the device).
template <class T>
struct Buf {
  T* p = nullptr;
  size_t n = 0;
  explicit Buf(size_t n_, float scale = 1.f) : n(std::max<size_t>(n_, 1)) {
    check_cuda(cudaMalloc(&p, n * sizeof(T)), "cudaMalloc");
    const size_t chunk = std::min<size_t>(n, 1 << 20);
    std::vector<T> h(chunk);
    uint32_t x = 2463534242u;
    for (auto& v : h) {
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;
      const float f = (float(x >> 8) / 16777216.f * 2.f - 1.f) * scale;
      if constexpr (std::is_same_v<T, float>)
        v = f;
      else if constexpr (std::is_same_v<T, bf16>)
        v = __float2bfloat16(f);
      else
        v = T(x);  // integer buffers (plans, workspaces) are overwritten anyway
    }
    check_cuda(cudaMemcpy(p, h.data(), chunk * sizeof(T), cudaMemcpyHostToDevice), "upload");
    for (size_t done = chunk; done < n; done *= 2)
      check_cuda(cudaMemcpy(p + done, p, std::min(done, n - done) * sizeof(T), cudaMemcpyDeviceToDevice),
                 "fill");
  }
  ~Buf() { cudaFree(p); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
};

template <class T>
bool finite_sample(const T* p, size_t n) {
  std::vector<T> h(std::min<size_t>(n, 4096));
  check_cuda(cudaMemcpy(h.data(), p, h.size() * sizeof(T), cudaMemcpyDeviceToHost), "download");
  for (const T& v : h) {
    float f;
    if constexpr (std::is_same_v<T, float>)
      f = v;
    else
      f = __bfloat162float(v);
    if (!std::isfinite(f)) return false;
  }
  return true;
}

// Mean milliseconds per call over `repeats` calls after `warmup` (CUDA events).
double time_ms(int repeats, const std::function<void()>& f, int warmup = 2) {
  for (int i = 0; i < warmup; ++i) f();
  cudaEvent_t a, b;
  cudaEventCreate(&a), cudaEventCreate(&b);
  cudaEventRecord(a);
  for (int i = 0; i < repeats; ++i) f();
  cudaEventRecord(b);
  cudaEventSynchronize(b);
  float ms = 0;
  cudaEventElapsedTime(&ms, a, b);
  cudaEventDestroy(a), cudaEventDestroy(b);
  check_cuda(cudaGetLastError(), "benchmark");
  return ms / repeats;
}

struct Report {
  const Device& dev;
  void flops(const std::string& what, double ms, double flop, bool ok) const {
    const double tf = flop / (ms * 1e-3) / 1e12;
    std::printf("%-58s %9.3f ms %8.1f TFLOP/s  of %6.0f peak: %5.1f%%%s\n", what.c_str(), ms, tf,
                dev.peak_tflops, dev.peak_tflops > 0 ? 100 * tf / dev.peak_tflops : 0.0,
                ok ? "" : "  NON-FINITE OUTPUT");
  }
  void bytes(const std::string& what, double ms, double bytes, bool ok) const {
    const double gbs = bytes / (ms * 1e-3) / 1e9;
    std::printf("%-58s %9.3f ms %8.0f GB/s     of %6.0f HBM:  %5.1f%%%s\n", what.c_str(), ms, gbs,
                dev.hbm_gbs, dev.hbm_gbs > 0 ? 100 * gbs / dev.hbm_gbs : 0.0,
                ok ? "" : "  NON-FINITE OUTPUT");
  }
};

std::string shape(const char* fmt, long a, long b = 0, long c = 0) {
  char buf[128];
  std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return buf;
}

void bench_prefill(const Report& r, const Shape& s, int T, int repeats) {
  Buf<bf16> q(size_t(T) * s.H * s.D), k(size_t(T) * s.G * s.D), v(size_t(T) * s.G * s.D),
      o(size_t(T) * s.H * s.D);
  Buf<float> lse(size_t(s.H) * T);
  const auto run = [&] {
    prefill_attention<bf16>(q.p, s.H * s.D, k.p, s.G * s.D, v.p, s.G * s.D, o.p, s.H * s.D, lse.p, T, s.H,
                            s.G, s.D, 1.f / std::sqrt(float(s.D)), nullptr);
  };
  const double ms = time_ms(repeats, run);
  // Causal: QK^T and PV over T(T+1)/2 (row, key) pairs, 2 FLOPs per multiply-add each.
  const double flop = 4.0 * s.H * s.D * (double(T) * (T + 1) / 2);
  r.flops(shape("prefill_attention bf16 T=%ld H=%ld D=%ld (one layer)", T, s.H, s.D), ms, flop,
          finite_sample(o.p, o.n) && finite_sample(lse.p, lse.n));
}

void bench_linear(const Report& r, const Blas& blas, int M, int N, int K, int repeats, const char* what) {
  Buf<bf16> x(size_t(M) * K), w(size_t(N) * K, 0.02f);
  Buf<float> y(size_t(M) * N);
  LinearArgs a;
  a.x = x.p, a.w = w.p, a.y = y.p, a.x_type = a.w_type = DType::BF16, a.y_type = DType::F32;
  a.ldx = K, a.ldw = K, a.ldy = N, a.m = M, a.n = N, a.k = K;
  const double ms = time_ms(repeats, [&] { linear(blas, a); });
  const bool ok = finite_sample(y.p, y.n);
  const std::string name = shape("linear bf16 M=%ld N=%ld K=%ld ", M, N, K) + what;
  if (M >= 256)
    r.flops(name, ms, 2.0 * M * N * K, ok);
  else
    r.bytes(name, ms, 2.0 * N * K + 2.0 * M * K + 4.0 * M * N, ok);  // weights stream once
}

// K policies decoding one token each against one layer's prompt of T tokens. shared: every
// policy keeps the whole prompt (one set per KV head, read once for all: a coalition batch's
// members); otherwise each policy keeps its own T/4 positions per head (compacted, distinct).
void bench_decode(const Report& r, const Shape& s, int T, int K, bool shared, int chunk, int repeats) {
  const int gs = s.H / s.G, own = T / 4, gen = 16;  // 16 generated tokens so far
  const int per_set = shared ? T : own, n_prompt_sets = shared ? s.G : s.G * K;
  Buf<bf16> pk(size_t(n_prompt_sets) * per_set * s.D), pv(pk.n);
  Buf<bf16> gk(size_t(K) * s.G * gen * s.D), gv(gk.n), q(size_t(K) * s.H * s.D), out(q.n);
  std::vector<DecodeSet> sets;
  for (int i = 0; i < n_prompt_sets; ++i)
    sets.push_back({pk.p + size_t(i) * per_set * s.D, pv.p + size_t(i) * per_set * s.D, s.D, per_set});
  std::vector<DecodeRead> reads;
  std::vector<int64_t> out_off;
  for (int p = 0; p < K; ++p)
    for (int g = 0; g < s.G; ++g) {
      const int gen_set = int(sets.size());
      sets.push_back(
          {gk.p + (size_t(p) * s.G + g) * gen * s.D, gv.p + (size_t(p) * s.G + g) * gen * s.D, s.D, gen});
      const int prompt_set = shared ? g : p * s.G + g;
      for (int e = 0; e < gs; ++e) {
        const int64_t off = (int64_t(p) * s.H + g * gs + e) * s.D;
        reads.push_back({prompt_set, off, per_set, int(out_off.size())});
        reads.push_back({gen_set, off, gen, int(out_off.size())});
        out_off.push_back(off);
      }
    }
  DecodePlan plan(sets, reads, out_off, chunk);
  std::vector<unsigned char> blob(plan.bytes());
  plan.pack(blob.data());
  Buf<unsigned char> dplan(blob.size());
  check_cuda(cudaMemcpy(dplan.p, blob.data(), blob.size(), cudaMemcpyHostToDevice), "plan");
  Buf<float> parts(plan.workspace_floats(s.D));
  const DecodePlanView view = plan.view(dplan.p);
  const double ms = time_ms(repeats, [&] {
    decode_attention<bf16>(view, q.p, out.p, parts.p, s.D, 1.f / std::sqrt(float(s.D)), nullptr);
  });
  // The bytes that must move: every distinct kept K/V row once, plus the queries and outputs.
  const double kv = 2.0 * 2 * s.D * (double(n_prompt_sets) * per_set + double(K) * s.G * gen);
  r.bytes(shape("decode_attention bf16 T=%ld K=%ld ", T, K) +
              (shared ? "shared full prompt" : "own T/4 each") + shape(" chunk %ld", chunk),
          ms, kv + 2.0 * 2 * q.n, finite_sample(out.p, out.n));
}

void bench_rows(const Report& r, const Shape& s, int T, int repeats) {
  Buf<float> x(size_t(T) * s.E), g(s.E);
  Buf<bf16> y(size_t(T) * s.E);
  double ms = time_ms(repeats, [&] { rms_norm<bf16>(x.p, s.E, g.p, y.p, s.E, T, s.E, 1e-5f, nullptr); });
  r.bytes(shape("rms_norm f32 -> bf16 T=%ld E=%ld", T, s.E), ms, (4.0 + 2.0) * T * s.E,
          finite_sample(y.p, y.n));

  Buf<bf16> gu(size_t(T) * 2 * s.F), o(size_t(T) * s.F);
  ms = time_ms(repeats, [&] { swiglu<bf16>(gu.p, 2 * s.F, gu.p + s.F, 2 * s.F, o.p, s.F, T, s.F, nullptr); });
  r.bytes(shape("swiglu bf16 T=%ld F=%ld", T, s.F), ms, 3.0 * 2 * T * s.F, finite_sample(o.p, o.n));

  std::vector<int32_t> pos(T);
  for (int t = 0; t < T; ++t) pos[t] = t;
  std::vector<double> inv(s.D / 2);
  for (int i = 0; i < s.D / 2; ++i) inv[i] = std::pow(500000.0, -2.0 * i / s.D);
  Buf<int32_t> dpos(T);
  Buf<double> dinv(inv.size());
  cudaMemcpy(dpos.p, pos.data(), T * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dinv.p, inv.data(), inv.size() * 8, cudaMemcpyHostToDevice);
  Buf<float> cs(size_t(T) * s.D / 2), sn(cs.n);
  Buf<bf16> qk(size_t(T) * s.H * s.D);
  ms = time_ms(repeats, [&] {
    rope_cache(dpos.p, T, dinv.p, s.D / 2, cs.p, sn.p, nullptr);
    rope<bf16>(qk.p, s.H * s.D, T, s.H, s.D, s.D, RopePairs::Adjacent, cs.p, sn.p, nullptr);
  });
  r.bytes(shape("rope_cache + rope bf16 T=%ld H=%ld (queries)", T, s.H), ms,
          2.0 * 2 * T * s.H * s.D + 3.0 * 4 * T * s.D / 2, finite_sample(qk.p, qk.n));
}

// Scoring and ranking after a prefill of T tokens: AhaKV's window (32 rows, own lse), the
// radix ranking of every head of every layer, and the compaction of a budget of T/8.
void bench_scoring(const Report& r, const Shape& s, int T, int repeats) {
  const int N = T - s.window;
  Buf<bf16> q(size_t(s.win_rows) * s.H * s.D), k(size_t(T) * s.G * s.D), v(k.n);
  WindowInputs<bf16> w;
  w.q = q.p, w.q_row_stride = s.H * s.D, w.q_head_stride = s.D;
  w.k = k.p, w.k_row_stride = s.G * s.D, w.k_head_stride = s.D;
  w.n_tokens = T, w.n_rows = s.win_rows, w.n_heads = s.H, w.n_kv_heads = s.G, w.head_dim = s.D;
  w.scale = WindowScale::Aha, w.budget = 128;
  Buf<float> scores(size_t(s.G) * N), ws(ahakv_workspace(s.H, s.win_rows, s.G, N));
  double ms =
      time_ms(repeats, [&] { ahakv_scores<bf16>(w, v.p, s.G * s.D, s.D, N, 7, scores.p, ws.p, nullptr); });
  r.bytes(shape("ahakv_scores bf16 T=%ld rows=%ld (one layer)", T, s.win_rows), ms, 3.0 * 2 * T * s.G * s.D,
          finite_sample(scores.p, scores.n));

  const int heads = s.L * s.G;
  Buf<float> all_scores(size_t(heads) * N);
  Buf<int32_t> order(all_scores.n), rank(all_scores.n);
  Buf<unsigned char> rws(rank_workspace_bytes(heads, N));
  ms = time_ms(repeats, [&] {
    rank_positions(all_scores.p, N, nullptr, heads, N, order.p, rank.p, N, rws.p, nullptr);
  });
  // 8 passes, each reading and writing (key, position) once.
  r.bytes(shape("rank_positions %ld heads x N=%ld (all layers)", heads, N), ms, 8.0 * 16 * heads * N, true);

  std::vector<CompactSet> sets(s.G);
  for (int g = 0; g < s.G; ++g) {
    sets[g].src = int64_t(g) * s.D, sets[g].src_stride = s.G * s.D, sets[g].n_tokens = T,
    sets[g].window = s.window;
    sets[g].n_ranked = T / 8 - s.window, sets[g].dst = int64_t(g) * (T / 8),
    sets[g].rank = rank.p + size_t(g) * N;
  }
  Buf<unsigned char> dsets(sets.size() * sizeof(CompactSet));
  cudaMemcpy(dsets.p, sets.data(), sets.size() * sizeof(CompactSet), cudaMemcpyHostToDevice);
  // A valid permutation for the ranks: ranking of the (patterned) scores above.
  rank_positions(all_scores.p, N, nullptr, heads, N, order.p, rank.p, N, rws.p, nullptr);
  Buf<bf16> ko(size_t(s.G) * (T / 8) * s.D), vo(ko.n);
  ms = time_ms(repeats, [&] {
    compact_kv<bf16>(reinterpret_cast<const CompactSet*>(dsets.p), s.G, k.p, v.p, s.D, ko.p, vo.p, nullptr,
                     nullptr);
  });
  r.bytes(shape("compact_kv bf16 T=%ld budget T/8 (one layer)", T), ms,
          2.0 * 2 * 2 * s.G * (T / 8) * s.D + 4.0 * s.G * T, finite_sample(ko.p, ko.n));
}

void bench_logits(const Report& r, const Shape& s, int rows, int repeats) {
  Buf<float> l(size_t(rows) * s.V, 8.f), lp(rows);
  Buf<int32_t> am(rows), tg(rows);
  cudaMemset(tg.p, 0, rows * 4);
  const double ms = time_ms(repeats, [&] { logits_rows(l.p, s.V, rows, s.V, am.p, tg.p, lp.p, nullptr); });
  r.bytes(shape("logits_rows argmax + log p rows=%ld V=%ld", rows, s.V), ms, 2.0 * 4 * rows * s.V,
          finite_sample(lp.p, lp.n));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cokv-kernel-bench: the kernels at Llama-3-8B shapes, next to their napkin bounds"};
  std::vector<int> tokens{8192, 32768}, policies{1, 8, 32};
  int repeats = 20;
  double hbm = 0, peak = 0;
  bool smoke = false;
  app.add_option("--tokens", tokens, "prompt lengths")->delimiter(',');
  app.add_option("--policies", policies, "decode batch sizes K")->delimiter(',');
  app.add_option("--repeats", repeats, "timed calls per figure (after 2 warm-up calls)");
  app.add_option("--hbm-gbs", hbm, "HBM bandwidth in GB/s (default: from the memory clock and bus width)");
  app.add_option("--peak-tflops", peak,
                 "bf16 dense tensor-core peak (default: from SMs, clock and architecture)");
  app.add_flag("--smoke", smoke, "toy shapes, one repeat: checks the benchmark runs (CI, emulator)");
  CLI11_PARSE(app, argc, argv);
  Shape s;
  if (smoke) {
    s = {4, 2, 64, 256, 512, 1000, 2, 8, 8};
    tokens = {96}, policies = {1, 3}, repeats = 1;
  }
  try {
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
      std::fprintf(stderr, "cokv-kernel-bench: no CUDA device\n");
      return 77;
    }
    const Device dev = query(hbm, peak);
    std::printf("device: %s, sm_%d, %d SMs; HBM %.0f GB/s, bf16 peak %.0f TFLOP/s%s\n", dev.name.c_str(),
                dev.cc, dev.sms, dev.hbm_gbs, dev.peak_tflops,
                dev.peak_tflops > 0 ? "" : " (unknown: pass --peak-tflops)");
    std::printf("shape: H %d, G %d, D %d, E %d, F %d, V %d, L %d; %d repeats per figure\n", s.H, s.G, s.D,
                s.E, s.F, s.V, s.L, repeats);
    const Report r{dev};
    Blas blas;
    for (int T : tokens) {
      std::printf("\n-- T = %d\n", T);
      bench_prefill(r, s, T, std::max(1, repeats / 4));
      bench_linear(r, blas, T, s.E, s.E, std::max(1, repeats / 4), "(prefill: Q/O projection)");
      bench_linear(r, blas, T, 2 * s.F, s.E, std::max(1, repeats / 4), "(prefill: gate|up)");
      bench_rows(r, s, T, repeats);
      bench_scoring(r, s, T, repeats);
      for (int K : policies)
        for (bool shared : {true, false})
          for (int chunk : smoke ? std::vector<int>{32, 64} : std::vector<int>{256, 1024})
            bench_decode(r, s, T, K, shared, chunk, repeats);
    }
    std::printf("\n-- decode GEMMs (weights bound)\n");
    for (int K : policies) {
      bench_linear(r, blas, K, 2 * s.F, s.E, repeats, "(decode: gate|up)");
      bench_linear(r, blas, K, s.E, s.F, repeats, "(decode: down)");
    }
    for (int K : policies) bench_logits(r, s, K, repeats);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cokv-kernel-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
