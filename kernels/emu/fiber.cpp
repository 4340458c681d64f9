// Stack switching for the emulator's fibers (see fiber.h).
#include "fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <new>
#include <stdexcept>

#if !defined(__x86_64__) || defined(COKV_EMU_UCONTEXT)
#define COKV_EMU_USE_UCONTEXT 1
#include <ucontext.h>
#endif

namespace cokv::emu {

namespace {

size_t page_size() {
  static const size_t p = size_t(sysconf(_SC_PAGESIZE));
  return p;
}

// Stack with an inaccessible page below it, so an overflow faults instead of corrupting.
void* map_stack() {
  const size_t guard = page_size();
  void* p =
      mmap(nullptr, Fiber::kStackBytes + guard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  mprotect(p, guard, PROT_NONE);
  return p;
}

}  // namespace

#if !COKV_EMU_USE_UCONTEXT

// cokv_emu_switch(void** save, void* load): pushes the callee-saved registers and the SSE/x87
// control words, stores the stack pointer in *save, loads `load` and pops the same frame.
// cokv_emu_start: the first "return address" of a fresh fiber; calls r13(r12) on an aligned
// stack.
asm(R"(
  .text
  .p2align 4
  .globl cokv_emu_switch
  .hidden cokv_emu_switch
  .type cokv_emu_switch,@function
cokv_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size cokv_emu_switch, .-cokv_emu_switch
  .p2align 4
  .globl cokv_emu_start
  .hidden cokv_emu_start
  .type cokv_emu_start,@function
cokv_emu_start:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size cokv_emu_start, .-cokv_emu_start
  .section .note.GNU-stack,"",@progbits
  .text
)");

extern "C" void cokv_emu_switch(void** save, void* load);
extern "C" void cokv_emu_start();

Fiber::~Fiber() {
  if (stack_) munmap(stack_, kStackBytes + page_size());
}

void Fiber::reset(void (*entry)(void*), void* arg) {
  if (!stack_) stack_ = map_stack();
  // Top of the stack, 16-aligned; the frame cokv_emu_switch pops, from low to high:
  // control words, r15, r14, r13 (entry), r12 (arg), rbx, rbp, return address. After the
  // `ret` the stack pointer is 16-aligned, as the call in cokv_emu_start needs.
  auto top = reinterpret_cast<uintptr_t>(stack_) + page_size() + kStackBytes;
  top &= ~uintptr_t(15);
  auto* w = reinterpret_cast<uint64_t*>(top) - 1;  // return address slot at top - 8
  *w-- = reinterpret_cast<uint64_t>(&cokv_emu_start);
  *w-- = 0;                                  // rbp
  *w-- = 0;                                  // rbx
  *w-- = reinterpret_cast<uint64_t>(arg);    // r12
  *w-- = reinterpret_cast<uint64_t>(entry);  // r13
  *w-- = 0;                                  // r14
  *w-- = 0;                                  // r15
  uint32_t mxcsr;
  uint16_t fpucw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  *w = uint64_t(mxcsr) | (uint64_t(fpucw) << 32);
  own_ = w;
}

void Fiber::resume() { cokv_emu_switch(&caller_, own_); }
void Fiber::suspend() { cokv_emu_switch(&own_, caller_); }

#else  // ucontext: portable, slower (swapcontext saves the signal mask with a system call)

namespace {
struct Contexts {
  ucontext_t own, caller;
};
}  // namespace

Fiber::~Fiber() {
  delete static_cast<Contexts*>(own_);
  if (stack_) munmap(stack_, kStackBytes + page_size());
}

void Fiber::reset(void (*entry)(void*), void* arg) {
  if (!stack_) stack_ = map_stack();
  if (!own_) own_ = new Contexts();
  auto* c = static_cast<Contexts*>(own_);
  getcontext(&c->own);
  c->own.uc_stack.ss_sp = static_cast<char*>(stack_) + page_size();
  c->own.uc_stack.ss_size = kStackBytes;
  c->own.uc_link = nullptr;
  // makecontext passes int arguments: split the pointers into two halves.
  const auto e = reinterpret_cast<uintptr_t>(entry), a = reinterpret_cast<uintptr_t>(arg);
  makecontext(&c->own,
              reinterpret_cast<void (*)()>(+[](unsigned e_hi, unsigned e_lo, unsigned a_hi, unsigned a_lo) {
                auto fn = reinterpret_cast<void (*)(void*)>((uintptr_t(e_hi) << 32) | e_lo);
                fn(reinterpret_cast<void*>((uintptr_t(a_hi) << 32) | a_lo));
              }),
              4, unsigned(e >> 32), unsigned(e), unsigned(a >> 32), unsigned(a));
}

void Fiber::resume() {
  auto* c = static_cast<Contexts*>(own_);
  swapcontext(&c->caller, &c->own);
}
void Fiber::suspend() {
  auto* c = static_cast<Contexts*>(own_);
  swapcontext(&c->own, &c->caller);
}

#endif

}  // namespace cokv::emu
