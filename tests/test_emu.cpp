// The kernel emulator's own tests (kernels/emu): barrier ordering, warp shuffles and votes,
// shared-memory reductions, atomics, wmma, the cuBLAS shim, fp16/bf16 rounding, and the bugs
// it must expose: a missing barrier (results differ between schedules), divergent or
// malformed warp collectives, deadlocks, reads of unwritten shared memory, writes past an
// allocation, invalid launches. The small kernels here are written as kernels/*.cu are.
#include <catch2/catch.hpp>
#include <numeric>
#include <vector>

#include "device.cuh"

using namespace cokv::kernels;
namespace emu = cokv::emu;

namespace {

const emu::Schedule kSchedules[] = {
    {emu::Order::Forward, 0}, {emu::Order::Reverse, 0}, {emu::Order::Shuffled, 1}, {emu::Order::Shuffled, 2}};

struct ScheduleGuard {  // restores the default schedule after a test
  ~ScheduleGuard() { emu::set_schedule({}); }
};

template <class T>
struct DevBuf {
  T* p = nullptr;
  size_t n = 0;
  explicit DevBuf(size_t n_) : n(n_) { check_cuda(cudaMalloc(&p, n * sizeof(T)), "cudaMalloc"); }
  explicit DevBuf(const std::vector<T>& h) : DevBuf(h.size()) { upload(h); }
  ~DevBuf() { cudaFree(p); }
  void upload(const std::vector<T>& h) { cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice); }
  std::vector<T> download() const {
    std::vector<T> h(n);
    cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
  }
};

// ---- kernels ----------------------------------------------------------------------------------

// Each thread logs (phase, tid) into a global journal on both sides of a barrier.
__global__ void barrier_log(int* journal, int* cursor) {
  const int t = int(threadIdx.x);
  journal[atomicAdd(cursor, 1)] = t;
  __syncthreads();
  journal[atomicAdd(cursor, 1)] = 1000 + t;
  __syncthreads();
  journal[atomicAdd(cursor, 1)] = 2000 + t;
}

// out[t] = what each shuffle variant returns for lane t (value = 100 + lane).
__global__ void shuffles(int* out, int width) {
  const int lane = int(threadIdx.x % 32), v = 100 + lane;
  int* o = out + threadIdx.x * 8;
  o[0] = __shfl_sync(0xffffffffu, v, 5, width);
  o[1] = __shfl_sync(0xffffffffu, v, lane + 3, width);
  o[2] = __shfl_up_sync(0xffffffffu, v, 3, width);
  o[3] = __shfl_down_sync(0xffffffffu, v, 3, width);
  o[4] = __shfl_xor_sync(0xffffffffu, v, 1, width);
  o[5] = __shfl_xor_sync(0xffffffffu, v, 6, width);
  o[6] = int(__ballot_sync(0xffffffffu, lane % 3 == 0));
  o[7] = __any_sync(0xffffffffu, lane == 7) * 10 + __all_sync(0xffffffffu, lane < 31);
}

// Two independent half-warp shuffles at the same time (disjoint masks are legal).
__global__ void half_warp_shuffles(int* out) {
  const int lane = int(threadIdx.x % 32);
  const unsigned mask = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  out[threadIdx.x] = __shfl_xor_sync(mask, lane, 1);
}

// Tree reduction in shared memory; with_barrier = false leaves out the barriers between
// levels (the race the emulator must expose).
__global__ void tree_sum(const float* x, float* out, int n, bool with_barrier) {
  COKV_SHARED(float, s, 256);
  const int t = int(threadIdx.x);
  s[t] = t < n ? x[blockIdx.x * n + t] : 0.f;
  __syncthreads();
  for (int half = 128; half > 0; half /= 2) {
    if (t < half) s[t] += s[t + half];
    if (with_barrier) __syncthreads();
  }
  __syncthreads();
  if (t == 0) out[blockIdx.x] = s[0];
}

// block_sum from device.cuh, and warp_max.
__global__ void reductions(const float* x, float* sums, float* maxes) {
  COKV_SHARED(float, scratch, 32);
  const float v = x[blockIdx.x * blockDim.x + threadIdx.x];
  const float s = block_sum(v, scratch);
  const float m = warp_max(v);
  sums[blockIdx.x * blockDim.x + threadIdx.x] = s;
  maxes[blockIdx.x * blockDim.x + threadIdx.x] = m;
}

__global__ void atomics(int* count, unsigned* maxv, float* fsum, int* cas_winner) {
  const int id = int(blockIdx.x * blockDim.x + threadIdx.x);
  atomicAdd(count, 1);
  atomicMax(maxv, unsigned(id * 7 % 1000));
  atomicAdd(fsum, 0.5f);
  atomicCAS(cas_winner, -1, id);
}

__global__ void read_unwritten_shared(float* out) {
  COKV_SHARED(float, s, 64);
  if (threadIdx.x % 2 == 0) s[threadIdx.x] = 1.f;
  __syncthreads();
  out[threadIdx.x] = s[threadIdx.x];
}

__global__ void divergent_collectives(int* out) {
  const int lane = int(threadIdx.x % 32);
  if (lane < 8)
    out[lane] = __shfl_xor_sync(0xffffffffu, lane, 1);
  else
    __syncwarp();
}

__global__ void shuffle_outside_mask(int* out) {
  const int lane = int(threadIdx.x % 32);
  if (lane < 16) out[lane] = __shfl_sync(0x0000ffffu, lane, 20);  // lane 20 is not in the mask
}

// Half the warp waits at the barrier, the other half at a shuffle that needs the first half.
__global__ void barrier_vs_warp_deadlock(int* out) {
  const int t = int(threadIdx.x);
  if (t < 16) __syncthreads();
  out[t] = __shfl_xor_sync(0xffffffffu, t, 1);
}

__global__ void exit_while_awaited(int* out) {
  const int lane = int(threadIdx.x % 32);
  if (lane == 3) return;
  out[lane] = __shfl_xor_sync(0xffffffffu, lane, 1);
}

__global__ void write_past_end(float* x, int n) { x[n + threadIdx.x] = 1.f; }

__global__ void too_much_static_shared(float* out) {
  COKV_SHARED(float, a, 8192);
  COKV_SHARED(float, b, 8192);  // 64 KiB in all: beyond the 48 KiB static limit
  a[threadIdx.x] = b[threadIdx.x] = 0.f;
  out[0] = a[0];
}

__global__ void dynamic_shared_copy(const float* x, float* out, int n) {
  float* s = dynamic_smem<float>();
  for (int i = int(threadIdx.x); i < n; i += int(blockDim.x)) s[i] = x[i];
  __syncthreads();
  for (int i = int(threadIdx.x); i < n; i += int(blockDim.x)) out[i] = s[n - 1 - i];
}

__global__ void wmma_tile(const bf16* a, const bf16* b, const float* c, float* d, bool misaligned) {
  using namespace nvcuda;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> fc;
  wmma::load_matrix_sync(fa, a + (misaligned ? 8 : 0), 16);
  wmma::load_matrix_sync(fb, b, 16);
  wmma::load_matrix_sync(fc, c, 16, wmma::mem_row_major);
  wmma::mma_sync(fc, fa, fb, fc);
  wmma::store_matrix_sync(d, fc, 16, wmma::mem_col_major);
}

void run_tree_sum(const DevBuf<float>& x, DevBuf<float>& out, int n_blocks, int n, bool with_barrier) {
  emu::launch(tree_sum, dim3(n_blocks), dim3(256), 0, nullptr, x.p, out.p, n, with_barrier);
}

}  // namespace

TEST_CASE("emulator: no thread passes a barrier before every thread reached it", "[emu]") {
  ScheduleGuard guard;
  for (const emu::Schedule& s : kSchedules) {
    emu::set_schedule(s);
    for (int n : {1, 31, 64, 97}) {
      DevBuf<int> journal(3 * size_t(n)), cursor(std::vector<int>{0});
      emu::launch(barrier_log, dim3(1), dim3(n), 0, nullptr, journal.p, cursor.p);
      const std::vector<int> j = journal.download();
      INFO("schedule " << emu::order_name(s.order) << " seed " << s.seed << ", " << n << " threads");
      for (int i = 0; i < 3 * n; ++i) CHECK(j[i] / 1000 == i / n);  // phases never interleave
      for (int ph = 0; ph < 3; ++ph) {                              // each phase holds every thread once
        std::vector<int> ids(j.begin() + ph * n, j.begin() + (ph + 1) * n);
        std::sort(ids.begin(), ids.end());
        for (int t = 0; t < n; ++t) CHECK(ids[t] == 1000 * ph + t);
      }
    }
  }
}

TEST_CASE("emulator: schedules really reorder threads between barriers", "[emu]") {
  ScheduleGuard guard;
  std::vector<std::vector<int>> orders;
  for (const emu::Schedule& s : kSchedules) {
    emu::set_schedule(s);
    DevBuf<int> journal(3 * 64), cursor(std::vector<int>{0});
    emu::launch(barrier_log, dim3(1), dim3(64), 0, nullptr, journal.p, cursor.p);
    orders.push_back(journal.download());
  }
  CHECK(orders[0][0] == 0);   // forward: thread 0 first
  CHECK(orders[1][0] == 63);  // reverse: thread 63 first
  CHECK(orders[2] != orders[0]);
  CHECK(orders[2] != orders[1]);
  CHECK(orders[2] != orders[3]);  // another seed, another order
}

TEST_CASE("emulator: shuffle patterns (idx, up, down, xor) and votes at widths 32, 16, 8", "[emu]") {
  for (int width : {32, 16, 8}) {
    DevBuf<int> out(64 * 8);
    emu::launch(shuffles, dim3(1), dim3(64), 0, nullptr, out.p, width);
    const std::vector<int> o = out.download();
    for (int t = 0; t < 64; ++t) {
      const int lane = t % 32, base = lane / width * width, v = 100 + lane;
      const int* r = &o[t * 8];
      INFO("width " << width << " lane " << lane);
      CHECK(r[0] == 100 + base + 5 % width);
      CHECK(r[1] == 100 + base + (lane + 3) % width);
      CHECK(r[2] == (lane - 3 >= base ? v - 3 : v));         // up: own value below the segment
      CHECK(r[3] == (lane + 3 < base + width ? v + 3 : v));  // down: own value past it
      CHECK(r[4] == 100 + (lane ^ 1));
      CHECK(r[5] == ((lane ^ 6) < base + width ? 100 + (lane ^ 6) : v));
      unsigned ballot = 0;
      for (int l = 0; l < 32; l += 3) ballot |= 1u << l;
      CHECK(unsigned(r[6]) == ballot);
      CHECK(r[7] == 10);  // any(lane == 7) true, all(lane < 31) false
    }
  }
  DevBuf<int> out(32);
  emu::launch(half_warp_shuffles, dim3(1), dim3(32), 0, nullptr, out.p);
  const std::vector<int> o = out.download();
  for (int l = 0; l < 32; ++l) CHECK(o[l] == (l ^ 1));
}

TEST_CASE("emulator: shared-memory and warp reductions are exact and schedule-independent", "[emu]") {
  ScheduleGuard guard;
  const int n_blocks = 3, n = 200;
  std::vector<float> x(size_t(n_blocks) * n);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 37 % 101) - 50);  // integers: exact sums
  DevBuf<float> dx(x), out(n_blocks);
  std::vector<float> bsum_x(256 * 2);
  for (size_t i = 0; i < bsum_x.size(); ++i) bsum_x[i] = float(int(i * 13 % 17));
  DevBuf<float> dbx(bsum_x), sums(bsum_x.size()), maxes(bsum_x.size());
  for (const emu::Schedule& s : kSchedules) {
    emu::set_schedule(s);
    run_tree_sum(dx, out, n_blocks, n, true);
    const std::vector<float> got = out.download();
    for (int b = 0; b < n_blocks; ++b)
      CHECK(got[b] == std::accumulate(x.begin() + b * n, x.begin() + (b + 1) * n, 0.f));
    emu::launch(reductions, dim3(2), dim3(256), 0, nullptr, dbx.p, sums.p, maxes.p);
    const std::vector<float> sv = sums.download(), mv = maxes.download();
    for (int b = 0; b < 2; ++b)
      for (int t = 0; t < 256; ++t) {
        const auto blk = bsum_x.begin() + b * 256, warp = blk + t / 32 * 32;
        CHECK(sv[b * 256 + t] == std::accumulate(blk, blk + 256, 0.f));
        CHECK(mv[b * 256 + t] == *std::max_element(warp, warp + 32));
      }
  }
}

TEST_CASE("emulator: a missing barrier gives different results under different schedules", "[emu]") {
  ScheduleGuard guard;
  const int n = 256;
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[i] = float(i % 7 + 1);
  const float exact = std::accumulate(x.begin(), x.end(), 0.f);
  DevBuf<float> dx(x), out(1);
  std::vector<float> racy;
  for (const emu::Schedule& s : kSchedules) {
    emu::set_schedule(s);
    run_tree_sum(dx, out, 1, n, false);
    racy.push_back(out.download()[0]);
    run_tree_sum(dx, out, 1, n, true);
    CHECK(out.download()[0] == exact);
  }
  INFO("racy sums: forward " << racy[0] << ", reverse " << racy[1] << ", shuffled " << racy[2] << ", "
                             << racy[3]);
  // Without barriers, forward order lets thread 0 add partial sums before their owners
  // (threads 1..127) have written them; reverse order happens to run every owner first.
  // The race shows as sums that differ between schedules, at least one of them wrong.
  CHECK((racy[0] != racy[1] || racy[1] != racy[2] || racy[2] != racy[3]));
  CHECK((racy[0] != exact || racy[1] != exact || racy[2] != exact));
}

TEST_CASE("emulator: atomics", "[emu]") {
  DevBuf<int> count(std::vector<int>{0}), winner(std::vector<int>{-1});
  DevBuf<unsigned> maxv(std::vector<unsigned>{0});
  DevBuf<float> fsum(std::vector<float>{0.f});
  emu::launch(atomics, dim3(5), dim3(96), 0, nullptr, count.p, maxv.p, fsum.p, winner.p);
  CHECK(count.download()[0] == 480);
  unsigned mx = 0;
  for (int id = 0; id < 480; ++id) mx = std::max(mx, unsigned(id * 7 % 1000));
  CHECK(maxv.download()[0] == mx);
  CHECK(fsum.download()[0] == 240.f);
  const int w = winner.download()[0];
  CHECK((w >= 0 && w < 480));  // exactly one thread's CAS succeeded
}

TEST_CASE("emulator: dynamic shared memory, and unwritten shared memory reads NaN", "[emu]") {
  const int n = 3000;  // 12 KB
  std::vector<float> x(n);
  std::iota(x.begin(), x.end(), 0.f);
  DevBuf<float> dx(x), out(n);
  emu::launch(dynamic_shared_copy, dim3(1), dim3(128), n * sizeof(float), nullptr, dx.p, out.p, n);
  const std::vector<float> o = out.download();
  for (int i = 0; i < n; ++i) CHECK(o[i] == x[n - 1 - i]);

  DevBuf<float> r(64);
  emu::launch(read_unwritten_shared, dim3(1), dim3(64), 0, nullptr, r.p);
  const std::vector<float> rv = r.download();
  for (int t = 0; t < 64; ++t) CHECK((t % 2 == 0 ? rv[t] == 1.f : std::isnan(rv[t])));
}

TEST_CASE("emulator: kernel bugs it reports instead of running on", "[emu]") {
  DevBuf<int> out(64);
  CHECK_THROWS_WITH(emu::launch(divergent_collectives, dim3(1), dim3(32), 0, nullptr, out.p),
                    Catch::Contains("diverged"));
  CHECK_THROWS_WITH(emu::launch(shuffle_outside_mask, dim3(1), dim3(32), 0, nullptr, out.p),
                    Catch::Contains("outside the mask"));
  CHECK_THROWS_WITH(emu::launch(barrier_vs_warp_deadlock, dim3(1), dim3(32), 0, nullptr, out.p),
                    Catch::Contains("deadlock"));
  CHECK_THROWS_WITH(emu::launch(exit_while_awaited, dim3(1), dim3(32), 0, nullptr, out.p),
                    Catch::Contains("exited"));
  DevBuf<float> f(1);
  CHECK_THROWS_WITH(emu::launch(too_much_static_shared, dim3(1), dim3(32), 0, nullptr, f.p),
                    Catch::Contains("48 KiB"));
  // The emulator is still usable after a failed launch.
  DevBuf<int> ok(64);
  emu::launch(half_warp_shuffles, dim3(1), dim3(32), 0, nullptr, ok.p);
  CHECK(ok.download()[1] == 0);
}

TEST_CASE("emulator: invalid launches fail as on the GPU", "[emu]") {
  DevBuf<float> x(16), out(16);
  cudaGetLastError();
  emu::launch(dynamic_shared_copy, dim3(1), dim3(2048), 0, nullptr, x.p, out.p, 16);  // > 1024 threads
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  emu::launch(dynamic_shared_copy, dim3(1), dim3(32), 64 * 1024, nullptr, x.p, out.p,
              16);  // > 48 KiB, no opt-in
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  REQUIRE(cudaFuncSetAttribute(dynamic_shared_copy, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024) ==
          cudaSuccess);
  emu::launch(dynamic_shared_copy, dim3(1), dim3(32), 64 * 1024, nullptr, x.p, out.p, 16);
  CHECK(cudaGetLastError() == cudaSuccess);
  CHECK(cudaFuncSetAttribute(dynamic_shared_copy, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024) ==
        cudaErrorInvalidValue);  // beyond sm_80's 163 KiB
  // launch() of device.cuh turns a failed launch into cokv::Error naming the op.
  CHECK_THROWS_WITH(launch("test_op", dynamic_shared_copy, dim3(1), dim3(4096), 0, nullptr, x.p, out.p, 16),
                    Catch::Contains("test_op") && Catch::Contains("invalid configuration"));
}

TEST_CASE("emulator: a write past the end of a device allocation is found on cudaFree", "[emu]") {
  float* p = nullptr;
  REQUIRE(cudaMalloc(&p, 10 * sizeof(float)) == cudaSuccess);  // 40 bytes; the canary fills to 256
  emu::launch(write_past_end, dim3(1), dim3(2), 0, nullptr, p, 10);
  CHECK_THROWS_WITH(cudaFree(p), Catch::Contains("past the end"));
  CHECK(cudaFree(reinterpret_cast<void*>(0x1000)) == cudaErrorInvalidDevicePointer);
  CHECK(cudaGetLastError() == cudaErrorInvalidDevicePointer);  // as CUDA: recorded, and cleared by reading
  CHECK(cudaGetLastError() == cudaSuccess);
}

TEST_CASE("emulator: wmma 16x16x16 bf16 multiply-accumulate", "[emu]") {
  std::vector<bf16> a(16 * 16 + 8), b(16 * 16);
  std::vector<float> c(16 * 16), fa(16 * 16), fb(16 * 16);
  for (int i = 0; i < 256; ++i) {
    fa[i] = float((i * 7) % 11 - 5) / 4.f, fb[i] = float((i * 5) % 13 - 6) / 8.f;  // exact in bf16
    a[i] = __float2bfloat16(fa[i]), b[i] = __float2bfloat16(fb[i]);
    c[i] = float(i % 3);
  }
  DevBuf<bf16> da(a), db(b);
  DevBuf<float> dc(c), dd(256);
  emu::launch(wmma_tile, dim3(1), dim3(32), 0, nullptr, da.p, db.p, dc.p, dd.p, false);
  const std::vector<float> d = dd.download();
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      float s = c[i * 16 + j];  // a row-major, b col-major (b[j*16+k] is B(k, j)), d stored col-major
      for (int k = 0; k < 16; ++k) s += fa[i * 16 + k] * fb[j * 16 + k];
      CHECK(d[j * 16 + i] == s);  // small integers over powers of two: exact
    }
  CHECK_THROWS_WITH(emu::launch(wmma_tile, dim3(1), dim3(32), 0, nullptr, da.p, db.p, dc.p, dd.p, true),
                    Catch::Contains("32-byte aligned"));
}

TEST_CASE("emulator: cublasGemmEx (column-major, transposes, bf16 in, f32 out, beta)", "[emu]") {
  const int m = 5, n = 3, k = 7;
  std::vector<bf16> A(size_t(k) * m), B(size_t(k) * n);  // A stored k x m (op T), B k x n (op N)
  std::vector<float> fA(A.size()), fB(B.size()), C(size_t(m) * n, 1.f);
  for (size_t i = 0; i < A.size(); ++i) fA[i] = float(int(i % 9) - 4), A[i] = __float2bfloat16(fA[i]);
  for (size_t i = 0; i < B.size(); ++i) fB[i] = float(int(i % 5) - 2), B[i] = __float2bfloat16(fB[i]);
  DevBuf<bf16> dA(A), dB(B);
  DevBuf<float> dC(C);
  cublasHandle_t h;
  REQUIRE(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS);
  const float alpha = 2.f, beta = 1.f;
  REQUIRE(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, dA.p, CUDA_R_16BF, k, dB.p, CUDA_R_16BF,
                       k, &beta, dC.p, CUDA_R_32F, m, CUBLAS_COMPUTE_32F,
                       CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
  const std::vector<float> got = dC.download();
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      float s = 0;
      for (int x = 0; x < k; ++x) s += fA[size_t(i) * k + x] * fB[size_t(j) * k + x];
      CHECK(got[size_t(j) * m + i] == alpha * s + beta * 1.f);
    }
  CHECK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, dA.p, CUDA_R_16BF, k - 1, dB.p,
                     CUDA_R_16BF, k, &beta, dC.p, CUDA_R_32F, m, CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_INVALID_VALUE);  // lda < k
  CHECK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, dA.p, CUDA_R_16BF, k, dB.p, CUDA_R_16F, k,
                     &beta, dC.p, CUDA_R_32F, m, CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_NOT_SUPPORTED);
  cublasDestroy(h);
}

TEST_CASE("emulator: fp16 and bf16 round to nearest even, keep NaN and overflow to infinity", "[emu]") {
  // bf16 keeps 8 significant bits: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 -> even (1).
  CHECK(__bfloat162float(__float2bfloat16(1.f + 0x1p-8f)) == 1.f);
  CHECK(__bfloat162float(__float2bfloat16(1.f + 0x1p-8f + 0x1p-12f)) == 1.f + 0x1p-7f);
  CHECK(__bfloat162float(__float2bfloat16(1.f + 3 * 0x1p-8f)) == 1.f + 0x1p-6f);  // tie -> even
  CHECK(std::isnan(__bfloat162float(__float2bfloat16(std::nanf("")))));
  CHECK(__bfloat162float(__float2bfloat16(-3.5f)) == -3.5f);
  // fp16: 11 significant bits; the max 65504; 65520 and up overflow; subnormals to 2^-24.
  CHECK(__half2float(__float2half(1.f + 0x1p-11f)) == 1.f);
  CHECK(__half2float(__float2half(1.f + 3 * 0x1p-11f)) == 1.f + 0x1p-9f);
  CHECK(__half2float(__float2half(65504.f)) == 65504.f);
  CHECK(__half2float(__float2half(65519.f)) == 65504.f);
  CHECK(std::isinf(__half2float(__float2half(65520.f))));
  CHECK(__half2float(__float2half(0x1p-24f)) == 0x1p-24f);
  CHECK(__half2float(__float2half(0x1p-25f)) == 0.f);           // tie with 0 -> even (0)
  CHECK(__half2float(__float2half(0x1p-25f * 3)) == 0x1p-23f);  // 1.5 ulp -> 2 ulp
  CHECK(__half2float(__float2half(-0x1p-14f)) == -0x1p-14f);    // smallest normal
  CHECK(std::isnan(__half2float(__float2half(std::nanf("")))));
#ifdef __FLT16_MAX__
  // Against the compiler's own fp16 conversion on a sweep of magnitudes and mantissas.
  for (int e = -30; e <= 17; ++e)
    for (int m = 0; m < 4096; m += 7) {
      const float f = std::ldexp(1.f + float(m) / 4096.f, e);
      const float ref = float(_Float16(f)), got = __half2float(__float2half(f));
      if (ref != got) FAIL("fp16 of " << f << ": " << got << ", _Float16 gives " << ref);
    }
#endif
}
