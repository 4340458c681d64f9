// The emulator's scheduler: runs a grid block by block, each block's threads as fibers,
// with barriers and warp collectives as the only switch points (see emu.h).
#include <exception>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "emu.h"
#include "fiber.h"

namespace cokv::emu {

namespace {

enum class State : uint8_t { Runnable, AtBarrier, AtWarp, Done };

struct Thread {
  Fiber fiber;
  uint3 idx;
  int linear = 0, lane = 0, warp = 0;
  State state = State::Runnable;
  size_t smem_top = 0;  // bump pointer of COKV_SHARED arrays in the block's arena
  const char* waits_at = nullptr;
};

// One collective in progress in a warp: the lanes of `mask` that arrived so far.
struct Pending {
  unsigned mask = 0, arrived = 0;
  const char* what = nullptr;
  Lane* lanes[32] = {};
};

struct Block {
  uint3 idx;
  dim3 dim, grid;
  int n_threads = 0, n_done = 0, n_barrier = 0;
  size_t dynamic_bytes = 0, arena_bytes = 0;
  unsigned char* arena = nullptr;
  KernelBody body{};
  std::vector<std::vector<Pending>> warps;  // per warp: collectives waiting for lanes
  std::exception_ptr error;
};

constexpr size_t kStaticSmem = 48 * 1024;       // static __shared__ limit of every GPU
constexpr int kDefaultDynamicSmem = 48 * 1024;  // without cudaFuncSetAttribute
constexpr int kMaxDynamicSmem = 163 * 1024;     // sm_80's opt-in limit, the lowest target built

// Per OS thread: the emulated threads (fibers and stacks reused from launch to launch).
struct Emulator {
  std::vector<std::unique_ptr<Thread>> threads;
  std::vector<unsigned char> arena_storage;
  Block* block = nullptr;
  Thread* thread = nullptr;
};
thread_local Emulator emu_state;

std::mutex g_mutex;  // guards the globals below
Schedule g_schedule;
Stats g_stats;
std::unordered_map<const void*, int> g_max_dynamic_smem;

Thread& cur() {
  if (!emu_state.thread) throw EmuError("emulator: a device function was called outside a kernel launch");
  return *emu_state.thread;
}

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The order in which n items (threads of a phase, or blocks) run under schedule s.
void make_order(std::vector<int>& order, int n, const Schedule& s, uint64_t salt) {
  order.resize(n);
  for (int i = 0; i < n; ++i) order[i] = s.order == Order::Reverse ? n - 1 - i : i;
  if (s.order != Order::Shuffled) return;
  uint64_t state = splitmix(s.seed ^ splitmix(salt));
  for (int i = n - 1; i > 0; --i) {
    state = splitmix(state);
    std::swap(order[i], order[int(state % uint64_t(i + 1))]);
  }
}

std::string dims(const uint3& u) {
  return "(" + std::to_string(u.x) + "," + std::to_string(u.y) + "," + std::to_string(u.z) + ")";
}

std::string hex(unsigned m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", m);
  return buf;
}

[[noreturn]] void fail_block(const std::string& msg) {
  throw EmuError("emulated kernel, block " + dims(emu_state.block->idx) + ": " + msg);
}

// Lanes that exist in warp w of the block (the last warp of a block may be partial).
unsigned existing_lanes(const Block& b, int w) {
  const int n = std::min(32, b.n_threads - 32 * w);
  return n >= 32 ? 0xffffffffu : (1u << n) - 1;
}

void thread_entry(void* arg) {
  auto* t = static_cast<Thread*>(arg);
  Block& b = *emu_state.block;
  try {
    b.body.run(b.body.ctx);
    // A lane may not leave while others wait for it at a warp collective.
    for (const Pending& p : b.warps[t->warp])
      if (p.mask & (1u << t->lane))
        fail_block("thread " + dims(t->idx) + " exited while lanes of its warp wait for it at " + p.what +
                   " (mask " + hex(p.mask) + ")");
  } catch (...) {
    if (!b.error) b.error = std::current_exception();
  }
  t->state = State::Done;
  ++b.n_done;
  for (;;) t->fiber.suspend();  // never resumed again
}

std::string describe_deadlock(const Block& b, const std::vector<std::unique_ptr<Thread>>& threads) {
  std::string s = "deadlock: no thread can run;";
  int shown = 0;
  for (int i = 0; i < b.n_threads && shown < 6; ++i) {
    const Thread& t = *threads[i];
    if (t.state == State::AtWarp) {
      s += " thread " + dims(t.idx) + " waits at " + t.waits_at + ";";
      ++shown;
    }
  }
  s += " " + std::to_string(b.n_barrier) + " threads wait at __syncthreads, " + std::to_string(b.n_done) +
       " have exited";
  return s;
}

void run_block(Block& b, const Schedule& sched, uint64_t block_linear) {
  auto& threads = emu_state.threads;
  while (int(threads.size()) < b.n_threads) threads.push_back(std::make_unique<Thread>());
  for (int i = 0; i < b.n_threads; ++i) {
    Thread& t = *threads[i];
    t.linear = i, t.lane = i % 32, t.warp = i / 32;
    t.idx = {unsigned(i % b.dim.x), unsigned(i / b.dim.x % b.dim.y), unsigned(i / (b.dim.x * b.dim.y))};
    t.state = State::Runnable;
    t.smem_top = b.dynamic_bytes;
    t.fiber.reset(&thread_entry, &t);
  }
  b.warps.assign((b.n_threads + 31) / 32, {});
  std::memset(b.arena, 0xff, b.arena_bytes);  // NaN for floats: reads before writes show
  std::vector<int> order;
  uint64_t phase = 0, switches = 0;
  make_order(order, b.n_threads, sched, block_linear * 0x100000001ull);
  for (;;) {
    bool ran = false;
    for (int i : order) {
      Thread& t = *threads[i];
      if (t.state != State::Runnable) continue;
      emu_state.thread = &t;
      t.fiber.resume();
      ++switches;
      ran = true;
      if (b.error) break;
    }
    emu_state.thread = nullptr;
    if (b.error) break;
    if (ran) continue;
    if (b.n_done == b.n_threads) break;
    if (b.n_barrier + b.n_done != b.n_threads) {  // someone waits at a warp collective forever
      try {
        emu_state.thread = threads[0].get();
        fail_block(describe_deadlock(b, threads));
      } catch (...) {
        b.error = std::current_exception();
      }
      emu_state.thread = nullptr;
      break;
    }
    for (int i = 0; i < b.n_threads; ++i)  // every live thread is at the barrier: release it
      if (threads[i]->state == State::AtBarrier) threads[i]->state = State::Runnable;
    b.n_barrier = 0;
    make_order(order, b.n_threads, sched, block_linear * 0x100000001ull + ++phase);
  }
  std::lock_guard lock(g_mutex);
  g_stats.switches += switches;
}

}  // namespace

void set_schedule(Schedule s) {
  std::lock_guard lock(g_mutex);
  g_schedule = s;
}
Schedule schedule() {
  std::lock_guard lock(g_mutex);
  return g_schedule;
}
const char* order_name(Order o) {
  switch (o) {
    case Order::Forward:
      return "forward";
    case Order::Reverse:
      return "reverse";
    case Order::Shuffled:
      return "shuffled";
  }
  return "?";
}
Stats stats() {
  std::lock_guard lock(g_mutex);
  return g_stats;
}

const uint3& thread_idx() { return cur().idx; }
const uint3& block_idx() {
  cur();
  return emu_state.block->idx;
}
const dim3& block_dim() {
  cur();
  return emu_state.block->dim;
}
const dim3& grid_dim() {
  cur();
  return emu_state.block->grid;
}
int lane_id() { return cur().lane; }

void syncthreads() {
  Thread& t = cur();
  t.state = State::AtBarrier;
  ++emu_state.block->n_barrier;
  t.fiber.suspend();
}

void* shared_alloc(size_t bytes, size_t align) {
  Thread& t = cur();
  Block& b = *emu_state.block;
  const size_t off = (t.smem_top + align - 1) / align * align;
  if (off + bytes > b.dynamic_bytes + kStaticSmem)
    fail_block("static shared memory beyond 48 KiB (COKV_SHARED of " + std::to_string(bytes) + " bytes)");
  t.smem_top = off + bytes;
  return b.arena + off;
}

void* dynamic_shared() {
  cur();
  return emu_state.block->arena;
}

void warp_collective(unsigned mask, const char* what, Combine combine, Lane& mine) {
  Thread& t = cur();
  Block& b = *emu_state.block;
  const unsigned bit = 1u << t.lane;
  if (!(mask & bit))
    fail_block("thread " + dims(t.idx) + " calls " + what + " with mask " + hex(mask) +
               " that leaves out its own lane");
  if (mask & ~existing_lanes(b, t.warp))
    fail_block(std::string(what) + " mask " + hex(mask) + " names lanes beyond the block's last thread");
  auto& pending = b.warps[t.warp];
  Pending* p = nullptr;
  for (Pending& q : pending) {
    if (q.mask == mask && q.what == what && !(q.arrived & bit))
      p = &q;
    else if (q.mask & mask)
      fail_block("warp " + std::to_string(t.warp) + " diverged: lane " + std::to_string(t.lane) + " calls " +
                 what + " (mask " + hex(mask) + ") while lanes " + hex(q.arrived) + " wait at " + q.what +
                 " (mask " + hex(q.mask) + ")");
  }
  for (int l = 0; l < 32; ++l)
    if ((mask >> l & 1) && emu_state.threads[t.warp * 32 + l]->state == State::Done)
      fail_block(std::string(what) + ": lane " + std::to_string(l) + " of warp " + std::to_string(t.warp) +
                 " is in the mask but has exited");
  if (!p) {
    pending.push_back({mask, 0, what, {}});
    p = &pending.back();
  }
  p->lanes[t.lane] = &mine;
  p->arrived |= bit;
  if (p->arrived != mask) {
    t.state = State::AtWarp;
    t.waits_at = what;
    t.fiber.suspend();
    return;
  }
  // The last lane to arrive exchanges for everyone and runs on.
  Pending done = *p;
  pending.erase(pending.begin() + (p - pending.data()));
  combine(mask, done.lanes);
  for (int l = 0; l < 32; ++l)
    if ((mask >> l & 1) && l != t.lane) emu_state.threads[t.warp * 32 + l]->state = State::Runnable;
}

namespace {
void shuffle_combine(unsigned mask, Lane* const* lanes) {
  for (int l = 0; l < 32; ++l) {
    if (!(mask >> l & 1)) continue;
    const int src = lanes[l]->arg;
    if (src < 0) {
      lanes[l]->result = lanes[l]->value;
    } else if (!(mask >> src & 1)) {
      fail_block("lane " + std::to_string(l) + " shuffles from lane " + std::to_string(src) +
                 ", outside the mask " + hex(mask));
    } else {
      lanes[l]->result = lanes[src]->value;
    }
  }
}
void ballot_combine(unsigned mask, Lane* const* lanes) {
  unsigned votes = 0;
  for (int l = 0; l < 32; ++l)
    if ((mask >> l & 1) && lanes[l]->value) votes |= 1u << l;
  for (int l = 0; l < 32; ++l)
    if (mask >> l & 1) lanes[l]->result = votes;
}
}  // namespace

uint64_t shuffle_bits(unsigned mask, uint64_t bits, int src_lane, const char* what) {
  Lane mine;
  mine.value = bits;
  mine.arg = src_lane;
  warp_collective(mask, what, &shuffle_combine, mine);
  return mine.result;
}

unsigned ballot(unsigned mask, bool pred, const char* what) {
  Lane mine;
  mine.value = pred;
  warp_collective(mask, what, &ballot_combine, mine);
  return unsigned(mine.result);
}

int check_width(int width, const char* what) {
  if (width < 1 || width > 32 || (width & (width - 1)))
    fail_block(std::string(what) + ": width " + std::to_string(width) + " is not a power of two in [1, 32]");
  return width;
}

namespace cuda {
void __syncwarp(unsigned mask) {
  Lane mine;
  warp_collective(
      mask, "__syncwarp", [](unsigned, Lane* const*) {}, mine);
}
unsigned __activemask() {
  Thread& t = cur();
  unsigned m = 0;
  for (int l = 0; l < 32 && t.warp * 32 + l < emu_state.block->n_threads; ++l)
    if (emu_state.threads[t.warp * 32 + l]->state != State::Done) m |= 1u << l;
  return m;
}
cudaError_t set_func_max_dynamic_smem(const void* kernel, int bytes) {
  if (bytes < 0 || bytes > kMaxDynamicSmem) return cudaErrorInvalidValue;
  std::lock_guard lock(g_mutex);
  g_max_dynamic_smem[kernel] = bytes;
  return cudaSuccess;
}
}  // namespace cuda

void set_last_error(cuda::cudaError_t e);  // runtime.cpp

bool run_grid(const void* kernel, dim3 grid, dim3 block, size_t dynamic_smem, KernelBody body) {
  if (emu_state.block) throw EmuError("emulator: kernel launched from inside a kernel (not emulated)");
  const uint64_t n_threads = uint64_t(block.x) * block.y * block.z;
  const uint64_t n_blocks = uint64_t(grid.x) * grid.y * grid.z;
  int max_dyn = kDefaultDynamicSmem;
  Schedule sched;
  {
    std::lock_guard lock(g_mutex);
    if (auto it = g_max_dynamic_smem.find(kernel); it != g_max_dynamic_smem.end()) max_dyn = it->second;
    sched = g_schedule;
  }
  if (n_threads == 0 || n_threads > 1024 || block.z > 64 || n_blocks == 0 || grid.x > 0x7fffffffu ||
      grid.y > 65535 || grid.z > 65535 || dynamic_smem > size_t(max_dyn)) {
    set_last_error(cuda::cudaErrorInvalidConfiguration);
    return false;
  }
  Block b;
  b.dim = block, b.grid = grid, b.n_threads = int(n_threads), b.body = body;
  b.dynamic_bytes = dynamic_smem;
  b.arena_bytes = (dynamic_smem + kStaticSmem + 127) / 128 * 128;
  auto& storage = emu_state.arena_storage;
  if (storage.size() < b.arena_bytes + 128) storage.resize(b.arena_bytes + 128);
  b.arena = reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(storage.data()) + 127) / 128 * 128);
  std::vector<int> order;
  make_order(order, int(n_blocks), sched, 0xb10c5ull);
  emu_state.block = &b;
  for (int lin : order) {
    b.idx = {unsigned(lin % grid.x), unsigned(lin / grid.x % grid.y),
             unsigned(lin / (uint64_t(grid.x) * grid.y))};
    b.n_done = b.n_barrier = 0;
    run_block(b, sched, uint64_t(lin));
    if (b.error) break;
  }
  emu_state.block = nullptr;
  {
    std::lock_guard lock(g_mutex);
    ++g_stats.launches;
    g_stats.blocks += n_blocks;
    g_stats.threads += n_blocks * n_threads;
  }
  if (b.error) std::rethrow_exception(b.error);
  return true;
}

}  // namespace cokv::emu
