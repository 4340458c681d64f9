// Progress reporting for long runs (profiling, evaluation): what, done/total, rate, ETA and an
// optional extra field (e.g. "mae 0.004"). Apps create one on std::cerr and hand lib code a
// Progress* (which may be null: use the free helpers below). lib/ never prints otherwise.
//
// Output: on a terminal, one line redrawn in place ("\r...\x1b[K", at most every
// redraw_every_s); elsewhere (logs, CI) plain lines at most every log_every_s seconds.
// finish() (or the destructor) writes the final state and a newline. update()/add() are
// thread-safe.
//
//   cokv::Progress prog(std::cerr, "profile qasper", n_samples);
//   run_profile(..., &prog);            // lib calls cokv::progress_add(p, 1, "mae 0.004")
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>

namespace cokv {

class Progress {
 public:
  struct Options {
    double log_every_s = 10.0;      // non-terminal: minimum seconds between lines
    double redraw_every_s = 0.1;    // terminal: minimum seconds between redraws
    std::optional<bool> tty;        // force terminal / log mode; default: isatty of cerr/cout/clog
    std::function<double()> clock;  // seconds; default steady_clock (tests inject a fake one)
  };

  // total <= 0: unknown (no percentage or ETA).
  Progress(std::ostream& os, std::string what, int64_t total, Options opt);
  Progress(std::ostream& os, std::string what, int64_t total)
      : Progress(os, std::move(what), total, Options{}) {}
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(int64_t done, const std::string& extra = {});  // absolute position
  void add(int64_t n = 1, const std::string& extra = {});    // relative
  void set_total(int64_t total);
  void finish(const std::string& extra = {});
  int64_t done() const;
  // The status text as it would be printed now, e.g.
  // "profile: 120/400 (30.0%) 12.3/s ETA 0:22 | mae 0.004".
  std::string status() const;
  // True for std::cerr/std::clog/std::cout attached to a terminal.
  static bool is_terminal(const std::ostream& os);

 private:
  void emit_locked(double now, bool final);
  std::string status_locked(double now) const;

  std::ostream& os_;
  std::string what_;
  int64_t total_;
  Options opt_;
  bool tty_;
  mutable std::mutex mu_;
  int64_t done_ = 0;
  std::string extra_;
  double start_ = 0, last_emit_ = 0;
  bool finished_ = false;
};

inline void progress_add(Progress* p, int64_t n = 1, const std::string& extra = {}) {
  if (p) p->add(n, extra);
}
inline void progress_update(Progress* p, int64_t done, const std::string& extra = {}) {
  if (p) p->update(done, extra);
}

// "0:07", "12:03", "1:02:03".
std::string format_duration(double seconds);

}  // namespace cokv
