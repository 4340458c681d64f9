// Cooperative stop on SIGINT and SIGTERM. The apps call install_stop_handlers(); long loops in
// lib/ call throw_if_stopped() at points where everything done so far is saved (a journaled
// batch, a flushed record), so a stopped run resumes where it stopped. The handler only sets
// a flag; a second signal kills the process at once (the default action).
#pragma once
#include <string>

#include "core/error.h"

namespace cokv {

// What lib/ throws at a safe point once a stop was requested; the apps print it and exit
// with 128 + the signal number (130 for SIGINT, 143 for SIGTERM), as a shell reports it.
class Stopped : public Error {
 public:
  Stopped(int signal, const std::string& message) : Error(message), signal_(signal) {}
  int signal() const { return signal_; }
  int exit_code() const { return 128 + signal_; }

 private:
  int signal_;
};

// SIGINT and SIGTERM request a stop; SIGXFSZ is ignored so that a file size limit
// (ulimit -f) fails the write with EFBIG ("File too large") and a message, not a core dump.
void install_stop_handlers();
// 0, or the signal that requested the stop.
int stop_signal();
// Throws Stopped("stopped by SIGTERM; <saved>") when a stop was requested.
void throw_if_stopped(const std::string& saved);
// Tests: as if `signal` had arrived (0 clears).
void request_stop_for_test(int signal);

}  // namespace cokv
