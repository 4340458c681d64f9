// Progress reporter; see progress.h.
#include "core/progress.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace cokv {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(std::llround(s));
  char buf[48];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(t / 3600), (long long)(t / 60 % 60),
                  (long long)(t % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", (long long)(t / 60), (long long)(t % 60));
  return buf;
}

bool Progress::is_terminal(const std::ostream& os) {
  if (&os == &std::cerr || &os == &std::clog) return ::isatty(2) == 1;
  if (&os == &std::cout) return ::isatty(1) == 1;
  return false;
}

Progress::Progress(std::ostream& os, std::string what, int64_t total, Options opt)
    : os_(os), what_(std::move(what)), total_(total), opt_(std::move(opt)) {
  if (!opt_.clock)
    opt_.clock = [] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    };
  tty_ = opt_.tty ? *opt_.tty : is_terminal(os_);
  start_ = last_emit_ = opt_.clock();
}

Progress::~Progress() {
  try {
    finish();
  } catch (...) {  // a destructor must not throw; losing the last progress line is acceptable
  }
}

void Progress::update(int64_t done, const std::string& extra) {
  std::lock_guard<std::mutex> lock(mu_);
  done_ = done;
  if (!extra.empty()) extra_ = extra;
  emit_locked(opt_.clock(), false);
}

void Progress::add(int64_t n, const std::string& extra) {
  std::lock_guard<std::mutex> lock(mu_);
  done_ += n;
  if (!extra.empty()) extra_ = extra;
  emit_locked(opt_.clock(), false);
}

void Progress::set_total(int64_t total) {
  std::lock_guard<std::mutex> lock(mu_);
  total_ = total;
}

void Progress::finish(const std::string& extra) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  if (!extra.empty()) extra_ = extra;
  emit_locked(opt_.clock(), true);
  finished_ = true;
}

int64_t Progress::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

std::string Progress::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_locked(opt_.clock());
}

std::string Progress::status_locked(double now) const {
  const double elapsed = now - start_;
  const double rate = elapsed > 0 ? double(done_) / elapsed : 0.0;
  char buf[160];
  std::string s = what_ + ": " + std::to_string(done_);
  if (total_ > 0) {
    std::snprintf(buf, sizeof buf, "/%lld (%.1f%%)", (long long)total_,
                  100.0 * double(done_) / double(total_));
    s += buf;
  }
  if (rate >= 10)
    std::snprintf(buf, sizeof buf, " %.0f/s", rate);
  else if (rate >= 0.1)
    std::snprintf(buf, sizeof buf, " %.2f/s", rate);
  else
    std::snprintf(buf, sizeof buf, " %.1f/min", rate * 60);
  s += buf;
  if (total_ > 0 && !finished_) {
    if (done_ >= total_)
      s += " ETA 0:00";
    else if (rate > 0)
      s += " ETA " + format_duration(double(total_ - done_) / rate);
  }
  s += " elapsed " + format_duration(elapsed);
  if (!extra_.empty()) s += " | " + extra_;
  return s;
}

void Progress::emit_locked(double now, bool final) {
  if (finished_) return;
  const double every = tty_ ? opt_.redraw_every_s : opt_.log_every_s;
  if (!final && now - last_emit_ < every) return;
  last_emit_ = now;
  if (tty_) {
    os_ << '\r' << status_locked(now) << "\x1b[K";
    if (final) os_ << '\n';
  } else {
    os_ << status_locked(now) << (final ? " (done)" : "") << '\n';
  }
  os_.flush();
}

}  // namespace cokv
