// gnuplot subprocess runner; see gnuplot.h.
#include "report/gnuplot.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "core/error.h"
#include "core/file_bytes.h"

namespace cokv {

namespace {

// Single-quoted for /bin/sh.
std::string sh_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs gnuplot on a script file; returns the exit status (127: not found) and gnuplot's stderr.
int run_script(const std::string& exe, const std::string& script, std::string& err) {
  const std::string script_path = gnuplot_temp_path(".gp"), err_path = gnuplot_temp_path(".err");
  write_file_bytes(script_path, script);
  const std::string cmd =
      sh_quote(exe) + " " + sh_quote(script_path) + " < /dev/null > /dev/null 2> " + sh_quote(err_path);
  const int status = std::system(cmd.c_str());
  std::error_code ec;
  if (std::filesystem::exists(err_path, ec)) err = read_file_bytes(err_path);
  std::filesystem::remove(err_path, ec);
  std::filesystem::remove(script_path, ec);
  if (status == -1) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

}  // namespace

std::string gnuplot_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

std::string gnuplot_temp_path(const std::string& suffix) {
  static std::atomic<int> counter{0};
  return (std::filesystem::temp_directory_path() /
          ("cokv-gnuplot-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + suffix))
      .string();
}

bool gnuplot_available(const std::string& gnuplot) {
  std::string err;
  return run_script(gnuplot, "exit\n", err) == 0;
}

std::string gnuplot_png_terminal(const std::string& gnuplot) {
  static std::mutex mu;
  static std::map<std::string, std::string> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(gnuplot); it != cache.end()) return it->second;
  for (const char* term : {"pngcairo", "png"}) {
    std::string err;
    if (run_script(gnuplot, std::string("set terminal ") + term + "\nexit\n", err) == 0 && err.empty())
      return cache[gnuplot] = term;
  }
  throw Error(gnuplot + ": neither the 'pngcairo' nor the 'png' terminal works (install gnuplot-nox)");
}

void gnuplot_render(const std::string& gnuplot, const std::string& script, const std::string& data_path,
                    const std::vector<std::string>& outputs, const std::string& where) {
  std::string err;
  const int rc = run_script(gnuplot, script, err);
  std::error_code ec;
  if (!data_path.empty()) std::filesystem::remove(data_path, ec);
  if (rc != 0) throw Error(where + ": gnuplot failed (exit " + std::to_string(rc) + "): " + err);
  for (const auto& p : outputs)
    if (!p.empty() && (!std::filesystem::exists(p, ec) || std::filesystem::file_size(p, ec) == 0))
      throw Error(p + ": gnuplot wrote no image" + (err.empty() ? std::string() : ": " + err));
}

}  // namespace cokv
