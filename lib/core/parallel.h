// parallel_for: cokv's own small thread pool for the many short parallel loops of a decode
// step (a few hundred per token).
//
// Why not OpenMP there: a `#pragma omp parallel for` ends in a barrier that waits for every
// thread of the team to arrive. On a machine shared with other jobs a thread is often
// descheduled, and then each of those barriers waits a scheduler time slice for it, a few
// hundred times per token (measured in bench/RESULTS.md). Here the calling thread and the
// workers claim chunks from a shared counter, and the call returns once every chunk is done:
// a worker that is not running never holds the caller back unless it holds a chunk, and one
// that never woke up is simply not waited for (with no worker at all it is the 1-thread run).
// Idle workers spin briefly, then yield, then sleep on a futex, so they leave the cores to
// other processes between steps.
//
// Threads: the caller's omp_get_max_threads() (OMP_NUM_THREADS, omp_set_num_threads), the
// caller included; workers are started when first needed. A call made from inside a pool
// chunk, an OpenMP region, or while another thread owns the pool runs serially on the calling
// thread. While a chunk runs, omp_get_max_threads() is 1 on its thread, so Eigen products
// inside it stay single-threaded.
#pragma once
#include <cstdint>
#include <type_traits>
#include <utility>

namespace cokv {

// Threads a parallel_for called now would use (the caller included): size per-thread scratch
// by it.
int parallel_threads();

namespace detail {
using ChunkFn = void (*)(void* ctx, int64_t begin, int64_t end, int thread);
void parallel_run(int64_t n, int64_t chunk, ChunkFn fn, void* ctx);
}  // namespace detail

// Calls body(begin, end, thread) over disjoint ranges covering [0, n), each at most `chunk`
// items (a few microseconds of work is a good size); thread in [0, parallel_threads()) names
// the running thread's scratch. Which thread runs which range is not fixed: bodies must
// write disjoint outputs and not depend on it for their arithmetic.
template <class F>
void parallel_for(int64_t n, int64_t chunk, F&& body) {
  auto call = [](void* ctx, int64_t b, int64_t e, int t) { (*static_cast<std::remove_reference_t<F>*>(ctx))(b, e, t); };
  detail::parallel_run(n, chunk, call, const_cast<void*>(static_cast<const void*>(&body)));
}

}  // namespace cokv
