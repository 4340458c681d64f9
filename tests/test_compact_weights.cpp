// --weights file and --weights q8_0 on the default model (Q4_1 layers, a Q8_0 embedding that
// is also the LM head) against the fp32 reference, on the parity prompts
// (tests/data/reference/logits_f32.json).
//
// file keeps the file's own blocks, so its weights are exactly the values fp32 mode decodes:
// only the summation order differs (the LM head's single prefill row goes through the
// row-stable kernel instead of a GEMM), which moves logits by ~1e-5 here. Tolerance 1e-3:
// test_parity.cpp measures summation-order effects of up to ~1e-4 between CPUs.
//
// q8_0 re-quantises the Q4_1 layers to Q8_0 (ggml's rule): each weight moves by up to half a
// Q8_0 step, max|block| / 254 (checked per weight below), so small weights move by far more
// than their own 2^-8 that bf16 allows. This model amplifies small weight changes (a 1-ulp
// jitter moves its logits by up to ~0.75, test_parity.cpp): measured here (x86-64 AVX-512,
// 2026-12-02) 0.49 over the top-20 and 0.97 over the vocabulary, and one of the eight prompts
// changes its top-1 (a near-tie in fp32). Tolerances 0.75 and 1.5 (~1.5x the measurement, the
// same rounding on every machine); a top-1 may change only where fp32's top-2 gap is within
// the top-20 tolerance.
//   ./build/cokv-tests "[compact]"
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/paths.h"
#include "model/dequant.h"
#include "model_fixture.h"
#include "runtime/prefill.h"

using namespace cokv;

namespace {

struct LogitDiff {
  double top20 = 0, all = 0;
  int top1_changed = 0;
  double max_flipped_margin = 0;  // the largest fp32 top-1 margin among prompts whose top-1 changed
};

LogitDiff compare_on_parity_prompts(const Model& ref_model, const Model& m) {
  std::ifstream in(std::string(COKV_SOURCE_DIR) + "/tests/data/reference/logits_f32.json");
  REQUIRE(in.good());
  const auto ref = nlohmann::json::parse(in);
  LogitDiff d;
  for (const auto& pr : ref["prompts"]) {
    const auto ids = pr["prompt_ids"].get<std::vector<int32_t>>();
    const PromptKV p = prefill(ref_model, ids), q = prefill(m, ids);
    std::vector<int> order(p.logits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = int(i);
    std::partial_sort(order.begin(), order.begin() + 20, order.end(), [&](int x, int y) { return p.logits[x] > p.logits[y]; });
    for (int i = 0; i < 20; ++i) d.top20 = std::max(d.top20, double(std::abs(p.logits[order[i]] - q.logits[order[i]])));
    for (size_t i = 0; i < p.logits.size(); ++i) d.all = std::max(d.all, double(std::abs(p.logits[i] - q.logits[i])));
    if (argmax(q.logits) != order[0]) {
      d.top1_changed += 1;
      d.max_flipped_margin = std::max(d.max_flipped_margin, double(p.logits[order[0]] - p.logits[order[1]]));
    }
  }
  return d;
}

}  // namespace

TEST_CASE("file weights: the file's blocks kept, memory near the file's size, fp32's logits", "[compact][model]") {
  const Model& f32 = cokv_test::default_model();
  auto m = Model::load(default_model_path(), Model::Numerics::Fp32, WeightMode::File);
  REQUIRE(m->weights == WeightMode::File);
  CHECK(m->w.tok_embd.type() == GgmlType::Q8_0);
  CHECK(m->w.layers[0].wq.type() == GgmlType::Q4_1);
  CHECK(m->w.layers[7].w_down.type() == GgmlType::Q4_1);
  const double file_bytes = double(std::filesystem::file_size(default_model_path()));
  INFO("weights " << m->w.n_bytes() << " bytes, file " << file_bytes);
  CHECK(double(m->w.n_bytes()) <= 1.10 * file_bytes);  // the target: within 10%
  CHECK(m->w.n_bytes() * 5 < f32.w.n_bytes());          // fp32 takes 538 MB
  const LogitDiff d = compare_on_parity_prompts(f32, *m);
  CHECK(d.all <= 1e-3);
  CHECK(d.top1_changed == 0);
  WARN("file vs fp32: max |logit difference| " << d.top20 << " over the top-20, " << d.all << " over the vocabulary");
}

TEST_CASE("q8_0 weights: every matrix Q8_0, logits near fp32, top-1 changes only on near-ties", "[compact][model]") {
  const Model& f32 = cokv_test::default_model();
  auto m = Model::load(default_model_path(), Model::Numerics::Fp32, WeightMode::Q8_0);
  REQUIRE(m->weights == WeightMode::Q8_0);
  CHECK(m->w.layers[0].wq.type() == GgmlType::Q8_0);
  CHECK(m->w.layers[29].w_gate.type() == GgmlType::Q8_0);
  CHECK(int64_t(m->w.n_bytes()) == weight_memory(m->cfg).q8_0_bytes);
  // The loader's re-quantisation: each weight within half a step of its Q4_1 value (plus what
  // d's fp16 rounding moves the largest quant).
  for (const WeightMatrix* w : {&m->w.layers[0].wq, &m->w.layers[15].w_down}) {
    const WeightMatrix& ref = w == &m->w.layers[0].wq ? f32.w.layers[0].wq : f32.w.layers[15].w_down;
    const int64_t K = w->cols();
    std::vector<float> row(static_cast<size_t>(K));
    double worst = 0;  // error / allowed, over all weights
    for (int64_t r = 0; r < w->rows(); ++r) {
      w->decode_rows(r, 1, row.data());
      const float* x = ref.f32().row(r).data();
      for (int64_t b = 0; b < K; b += 32) {
        float amax = 0;
        for (int i = 0; i < 32; ++i) amax = std::max(amax, std::abs(x[b + i]));
        const float d = amax / 127, allowed = d / 2 + 127 * d * 1e-3f + 1e-7f;  // fp16 d: 2^-11 relative
        for (int i = 0; i < 32; ++i) worst = std::max(worst, double(std::abs(row[b + i] - x[b + i]) / allowed));
      }
    }
    CHECK(worst <= 1.0);
  }
  const LogitDiff d = compare_on_parity_prompts(f32, *m);
  CHECK(d.top20 <= 0.75);
  CHECK(d.all <= 1.5);
  CHECK(d.max_flipped_margin <= 0.75);
  WARN("q8_0 vs fp32: max |logit difference| " << d.top20 << " over the top-20, " << d.all << " over the vocabulary; "
                                                << d.top1_changed << " top-1 changed (fp32 margins up to "
                                                << d.max_flipped_margin << ")");
}

TEST_CASE("file weights under ggml numerics: integer dot products, logits near the fp32 kernels'", "[compact][model]") {
  // --numerics ggml rounds every matmul input to 8-bit blocks; with the file's Q4_1/Q8_0 blocks
  // the row-stable matmuls (prompts under 64 tokens, decode, the LM head) then multiply in
  // integers (runtime/q8_linear.h). Against fp32 weights in the same numerics the products are
  // the same and only their summation order differs; but each layer's rounding of its input to
  // 8 bits flips on last-bit differences, and this model amplifies those (up to ~0.75 from a
  // 1-ulp jitter, test_parity.cpp). Measured here (x86-64 AVX-512 VNNI, 2026-12-02): 0.83 over
  // the top-20, 1.29 over the vocabulary, no top-1 changed; and against llama.cpp's logits on
  // the same file both are as close as fp32 numerics (0.60 integer, 0.64 fp32 kernels, 0.76
  // fp32 numerics: test_parity.cpp). Tolerances ~1.5x the measurement; a top-1 may change only
  // on a near-tie.
  auto ref = Model::load(default_model_path(), Model::Numerics::Ggml, WeightMode::Fp32);
  auto m = Model::load(default_model_path(), Model::Numerics::Ggml, WeightMode::File);
  REQUIRE(m->act_quant == ActQuant::Q8Blocks);
  const LogitDiff d = compare_on_parity_prompts(*ref, *m);
  CHECK(d.top20 <= 1.25);
  CHECK(d.all <= 2.0);
  CHECK(d.max_flipped_margin <= 1.25);
  WARN("file vs fp32 weights, ggml numerics: max |logit difference| " << d.top20 << " over the top-20, " << d.all
                                                                      << " over the vocabulary; " << d.top1_changed
                                                                      << " top-1 changed");
}

TEST_CASE("quantize_row_q8_0 follows ggml's reference rule", "[compact]") {
  // d = max|x| / 127 (stored in fp16), q = roundf(x / d): the block's largest value maps to
  // +-127, and each decoded value is within half a step of x, plus what d's fp16 rounding
  // moves the largest quant (127 |d_fp16 - d|).
  float x[32];
  for (int i = 0; i < 32; ++i) x[i] = std::sin(0.7f * float(i)) * (i % 3 == 0 ? 2.f : 0.3f);
  x[5] = -2.54f;
  uint8_t blk[34];
  quantize_row_q8_0(x, blk, 32);
  uint16_t dh;
  std::memcpy(&dh, blk, 2);
  const float d = 2.54f / 127.f;
  CHECK(dh == fp32_to_fp16(d));
  CHECK(int8_t(blk[2 + 5]) == -127);
  std::vector<float> back(32);
  dequantize_row(GgmlType::Q8_0, blk, back.data(), 32);
  const float bound = d / 2 + 127 * std::abs(fp16_to_fp32(dh) - d) + 1e-6f;
  for (int i = 0; i < 32; ++i) CHECK(std::abs(back[i] - x[i]) <= bound);
  CHECK_THROWS_AS(quantize_row_q8_0(x, blk, 31), Error);
}
