// core/parallel.h: the thread pool every runtime loop runs on, and the promise that the
// runtime's bits do not depend on the thread count.
#include <omp.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <random>
#include <stdexcept>
#include <vector>

#include "core/parallel.h"
#include "model_fixture.h"
#include "runtime/batch_decode.h"
#include "runtime/ops.h"

using namespace cokv;

namespace {

// Runs f with omp_set_num_threads(n) (the pool follows it), restoring the count after.
template <class F>
void with_threads(int n, F&& f) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(n);
  try {
    f();
  } catch (...) {
    omp_set_num_threads(saved);
    throw;
  }
  omp_set_num_threads(saved);
}

}  // namespace

TEST_CASE("parallel_for: every item once, in chunks of at most `chunk`, thread ids in range", "[threads]") {
  for (int threads : {1, 2, 3}) {
    with_threads(threads, [&] {
      REQUIRE(parallel_threads() == threads);
      for (int64_t n : {int64_t(0), int64_t(1), int64_t(7), int64_t(1000), int64_t(100003)}) {
        for (int64_t chunk : {int64_t(1), int64_t(16), int64_t(4096)}) {
          INFO("threads " << threads << " n " << n << " chunk " << chunk);
          std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
          std::atomic<bool> ok{true};
          parallel_for(n, chunk, [&](int64_t b, int64_t e, int t) {
            if (b >= e || e - b > chunk || t < 0 || t >= threads) ok = false;
            for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
          });
          CHECK(ok);
          int64_t wrong = 0;
          for (auto& h : hits) wrong += h.load() != 1;
          CHECK(wrong == 0);
        }
      }
    });
  }
}

TEST_CASE("parallel_for: nested calls run on the calling thread, exceptions reach the caller", "[threads]") {
  with_threads(2, [&] {
    std::atomic<int64_t> sum{0};
    std::atomic<bool> same_thread{true};
    parallel_for(64, 1, [&](int64_t b, int64_t e, int t) {
      parallel_for(10, 3, [&](int64_t ib, int64_t ie, int it) {
        if (it != t) same_thread = false;
        for (int64_t i = ib; i < ie; ++i) sum += i;
      });
    });
    CHECK(sum == 64 * 45);
    CHECK(same_thread);
    // A throwing chunk: the caller gets the exception after every chunk is done, and the pool
    // keeps working afterwards.
    std::atomic<int> ran{0};
    CHECK_THROWS_AS(parallel_for(100, 1,
                                 [&](int64_t b, int64_t, int) {
                                   ran++;
                                   if (b == 37) throw std::runtime_error("chunk 37");
                                 }),
                    std::runtime_error);
    CHECK(ran == 100);
    std::atomic<int> after{0};
    parallel_for(100, 1, [&](int64_t, int64_t, int) { after++; });
    CHECK(after == 100);
  });
}

TEST_CASE("linear (both paths) and prefill + decode give the same bits with 1, 2 and 3 threads", "[threads][model]") {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  Mat x(300, 576), w(1536, 576);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
  for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = nd(rng);
  const WeightMatrix wq = WeightMatrix::from_f32(w, GgmlType::BF16);
  Mat g1, r1, c1;
  with_threads(1, [&] {
    linear(x, w, g1, Matmul::Gemm);
    linear(x, w, r1, Matmul::RowStable);
    linear(x, wq, c1, Matmul::Gemm);
  });
  for (int threads : {2, 3}) {
    INFO("threads " << threads);
    Mat g, r, c;
    with_threads(threads, [&] {
      linear(x, w, g, Matmul::Gemm);
      linear(x, w, r, Matmul::RowStable);
      linear(x, wq, c, Matmul::Gemm);
    });
    CHECK(g == g1);
    CHECK(r == r1);
    CHECK(c == c1);
  }

  // The default model: a 200-token prompt's prefill logits and K/V, then 4 greedy tokens.
  const Model& m = cokv_test::default_model();
  std::vector<int32_t> toks(200);
  for (int i = 0; i < 200; ++i) toks[i] = int32_t(500 + (7919 * i) % 20000);
  std::vector<Policy> pols(2, Policy{BudgetVector::all(m.cfg.n_kv_players()), nullptr});
  GenOptions go;
  go.max_new = 4;
  PromptKV p1;
  std::vector<GenResult> gen1;
  with_threads(1, [&] {
    p1 = prefill(m, toks);
    gen1 = generate(m, p1, pols, go);
  });
  with_threads(2, [&] {
    const PromptKV p2 = prefill(m, toks);
    CHECK(p2.logits == p1.logits);
    CHECK(p2.k == p1.k);
    CHECK(p2.v == p1.v);
    const auto gen2 = generate(m, p2, pols, go);
    for (size_t s = 0; s < pols.size(); ++s) CHECK(gen2[s].tokens == gen1[s].tokens);
  });
}
