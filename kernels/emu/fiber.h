// Fibers for the kernel emulator: each emulated GPU thread is a stackful coroutine that runs
// on the calling OS thread and switches only where the kernel synchronises (barriers, warp
// collectives) or ends. On x86-64 a switch is a few instructions (callee-saved registers and
// the FP control words); elsewhere, or with -DCOKV_EMU_UCONTEXT=ON, glibc's ucontext does it (a
// system call per switch).
#pragma once
#include <cstddef>

namespace cokv::emu {

class Fiber {
 public:
  Fiber() = default;
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;
  ~Fiber();

  // Prepares the fiber to run entry(arg) on its own stack (allocated once, reused). entry
  // must never return: it ends by switching back for good.
  void reset(void (*entry)(void*), void* arg);
  // Runs the fiber until it calls suspend(); returns then.
  void resume();
  // From inside the fiber: back to whoever resumed it.
  void suspend();

  static constexpr size_t kStackBytes = 256 * 1024;  // kernel frames are small; Eigen never runs here

 private:
  void* stack_ = nullptr;   // mmap'd, with a guard page below it
  void* own_ = nullptr;     // saved context of the fiber
  void* caller_ = nullptr;  // saved context of the scheduler
};

}  // namespace cokv::emu
