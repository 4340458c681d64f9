// SIGINT/SIGTERM as a stop request; see stop.h.
#include "core/stop.h"

#include <signal.h>

#include <atomic>
#include <cstring>

namespace cokv {

namespace {

std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the handler needs a lock-free flag");

extern "C" void on_stop_signal(int sig) { g_stop_signal.store(sig, std::memory_order_relaxed); }

}  // namespace

void install_stop_handlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_RESTART;  // the second signal takes the default action: exit
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGXFSZ, SIG_IGN);
}

int stop_signal() { return g_stop_signal.load(std::memory_order_relaxed); }

void throw_if_stopped(const std::string& saved) {
  const int sig = stop_signal();
  if (sig == 0) return;
  const char* name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
  throw Stopped(sig, std::string("stopped by ") + name + (saved.empty() ? std::string() : "; " + saved));
}

void request_stop_for_test(int signal) { g_stop_signal.store(signal, std::memory_order_relaxed); }

}  // namespace cokv
