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

// Whether an image gnuplot wrote is whole: a PNG ends with its IEND chunk, an SVG with
// </svg>. gnuplot can exit 0 after a failed write (a full disk), leaving a cut file.
bool image_complete(const std::string& path) {
  std::string bytes;
  try {
    bytes = read_file_bytes(path);
  } catch (const Error&) {
    return false;
  }
  if (bytes.empty()) return false;
  const std::string ext = std::filesystem::path(path).extension().string();
  const std::string p = std::filesystem::path(path).stem().extension().string();  // "x.png.tmp" -> ".png"
  const std::string kind = ext == ".tmp" ? p : ext;
  if (kind == ".png") {
    static const std::string iend("IEND\xae\x42\x60\x82", 8);
    return bytes.size() >= 8 && bytes.compare(bytes.size() - 8, 8, iend) == 0;
  }
  if (kind == ".svg") return bytes.find("</svg>", bytes.size() > 64 ? bytes.size() - 64 : 0) != std::string::npos;
  return true;
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
  int rc = -1;
  std::error_code ec;
  auto remove_temps = [&] {
    for (const auto& p : outputs)
      if (!p.empty()) std::filesystem::remove(temp_path_for(p), ec);
  };
  try {
    rc = run_script(gnuplot, script, err);
  } catch (...) {
    remove_temps();
    throw;
  }
  if (!data_path.empty()) std::filesystem::remove(data_path, ec);
  if (rc != 0) {
    remove_temps();
    throw Error(where + ": gnuplot failed (exit " + std::to_string(rc) + "): " + err);
  }
  for (const auto& p : outputs) {
    if (p.empty()) continue;
    const std::string tmp = temp_path_for(p);
    if (!image_complete(tmp)) {
      remove_temps();
      throw Error(p + ": gnuplot wrote no complete image" + (err.empty() ? std::string() : ": " + err) +
                  " (or a cut one: a full disk?); the previous file, if any, is unchanged");
    }
  }
  for (const auto& p : outputs)
    if (!p.empty()) commit_temp_file(temp_path_for(p), p);
}

}  // namespace cokv
