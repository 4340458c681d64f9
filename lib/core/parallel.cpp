#include "core/parallel.h"

#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace cokv {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

using Clock = std::chrono::steady_clock;

// An idle thread spins this long (the next loop of a decode step usually comes within
// microseconds), then yields the core this long, then sleeps until woken.
constexpr auto kSpin = std::chrono::microseconds(50);
constexpr auto kYield = std::chrono::microseconds(1000);

// Waits until done() while spinning, then yielding; returns false if it gave up (time to sleep)
// and `sleep_after` is set.
template <class Done>
bool wait_until(Done&& done, bool sleep_after) {
  const auto t0 = Clock::now();
  for (int i = 1;; ++i) {
    if (done()) return true;
    if (i % 64 != 0) {
      cpu_relax();
      continue;
    }
    const auto dt = Clock::now() - t0;
    if (sleep_after && dt > kSpin + kYield) return false;
    if (dt > kSpin) sched_yield();
  }
}

// The pool index of the running thread (0: a caller), -1 outside any pool chunk.
thread_local int t_index = -1;

class Pool {
 public:
  Pool() = default;
  ~Pool() {
    quit_.store(true);
    gen_.fetch_add(1);
    gen_.notify_all();
    for (auto& w : workers_) w.join();
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Runs the job on the caller (thread 0) and whichever workers come; false if the pool is
  // owned by another thread (the caller then runs it alone).
  bool run(int64_t n, int64_t chunk, detail::ChunkFn fn, void* ctx, int participants) {
    std::unique_lock lock(owner_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    // Workers are added when a caller asks for more threads than ever before (a new worker
    // starts with the current generation seen, so it waits for the next job).
    while (int(workers_.size()) + 1 < participants) {
      const int i = int(workers_.size()) + 1;
      workers_.emplace_back([this, i, g = gen_.load()] { work(i, g); });
    }
    // No worker is inside (the previous run waited for that) and the job is closed: the fields
    // are the caller's to write.
    fn_ = fn, ctx_ = ctx, n_ = n, chunk_ = chunk, n_chunks_ = (n + chunk - 1) / chunk;
    participants_ = participants;
    next_.store(0, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    open_.store(true);
    gen_.fetch_add(1);
    if (sleepers_.load() > 0) gen_.notify_all();
    claim(0);
    wait_until([&] { return done_.load(std::memory_order_acquire) == n_chunks_; }, false);
    // Closing: a worker that entered checks open_ after announcing itself in inside_, so once
    // inside_ reads 0 here no worker can touch the fields until the next run opens.
    open_.store(false);
    wait_until([&] { return inside_.load() == 0; }, false);
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    return true;
  }

 private:
  void claim(int index) {
    for (;;) {
      const int64_t c = next_.fetch_add(1, std::memory_order_relaxed);
      if (c >= n_chunks_) return;
      const int64_t b = c * chunk_;
      try {
        fn_(ctx_, b, std::min(n_, b + chunk_), index);
      } catch (...) {  // rethrown by the caller once every chunk is done
        std::lock_guard g(error_mutex_);
        if (!error_) error_ = std::current_exception();
      }
      done_.fetch_add(1, std::memory_order_release);
    }
  }

  void work(int index, uint32_t seen) {
    t_index = index;
    omp_set_num_threads(1);  // Eigen products inside a chunk stay on this thread
    for (;;) {
      if (!wait_until([&] { return gen_.load(std::memory_order_acquire) != seen; }, true)) {
        sleepers_.fetch_add(1);
        gen_.wait(seen);
        sleepers_.fetch_sub(1);
      }
      if (quit_.load()) return;
      seen = gen_.load();
      inside_.fetch_add(1);
      if (open_.load() && index < participants_) claim(index);
      inside_.fetch_sub(1);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex owner_;  // one caller at a time
  // The current job: written by the caller only while closed with no worker inside.
  detail::ChunkFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0, chunk_ = 1, n_chunks_ = 0;
  int participants_ = 1;
  std::mutex error_mutex_;
  std::exception_ptr error_;  // the first exception a chunk threw
  alignas(64) std::atomic<uint32_t> gen_{0};  // bumped per job; idle workers sleep on it
  alignas(64) std::atomic<int64_t> next_{0};  // next chunk to claim
  alignas(64) std::atomic<int64_t> done_{0};  // chunks finished
  alignas(64) std::atomic<int> inside_{0};    // workers between entering and leaving a job
  std::atomic<bool> open_{false};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> quit_{false};
};

Pool& pool() {
  static Pool p;
  return p;
}

// Threads a call made now may use: OMP_NUM_THREADS / omp_set_num_threads, within reason.
int wanted_threads() { return std::clamp(omp_get_max_threads(), 1, 256); }

void run_serial(int64_t n, int64_t chunk, detail::ChunkFn fn, void* ctx, int index) {
  for (int64_t b = 0; b < n; b += chunk) fn(ctx, b, std::min(n, b + chunk), index);
}

}  // namespace

int parallel_threads() { return wanted_threads(); }

namespace detail {

void parallel_run(int64_t n, int64_t chunk, ChunkFn fn, void* ctx) {
  if (n <= 0) return;
  chunk = std::max<int64_t>(chunk, 1);
  if (t_index >= 0) return run_serial(n, chunk, fn, ctx, t_index);  // nested in a chunk
  if (omp_in_parallel()) return run_serial(n, chunk, fn, ctx, 0);  // each OpenMP thread its own caller
  const int participants = wanted_threads();
  if (participants <= 1 || n <= chunk) return run_serial(n, chunk, fn, ctx, 0);
  // While the caller runs chunks, nested calls and its Eigen products stay on this thread.
  struct AsPoolThread {
    int saved = omp_get_max_threads();
    AsPoolThread() { omp_set_num_threads(1), t_index = 0; }
    ~AsPoolThread() { omp_set_num_threads(saved), t_index = -1; }
  } guard;
  if (!pool().run(n, chunk, fn, ctx, participants)) run_serial(n, chunk, fn, ctx, 0);
}

}  // namespace detail

}  // namespace cokv
