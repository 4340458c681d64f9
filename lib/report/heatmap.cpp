// Heatmaps through a gnuplot subprocess; see heatmap.h.
#include "report/heatmap.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
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

// Single-quoted for gnuplot ('' is a literal quote inside).
std::string gp_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

// A fresh temp path (not created).
std::string temp_path(const std::string& suffix) {
  static std::atomic<int> counter{0};
  return (std::filesystem::temp_directory_path() /
          ("cokv-heatmap-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + suffix))
      .string();
}

// Runs gnuplot with `script` on stdin; returns the exit status and fills `err` with stderr.
int run_gnuplot(const std::string& exe, const std::string& script, std::string& err) {
  const std::string err_path = temp_path(".err");
  const std::string cmd = sh_quote(exe) + " 2> " + sh_quote(err_path);
  FILE* pipe = ::popen(cmd.c_str(), "w");
  if (!pipe) throw Error("cannot start " + exe + " (popen failed)");
  std::fwrite(script.data(), 1, script.size(), pipe);
  const int status = ::pclose(pipe);
  std::error_code ec;
  if (std::filesystem::exists(err_path, ec)) {
    err = read_file_bytes(err_path);
    std::filesystem::remove(err_path, ec);
  }
  if (status == -1) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

}  // namespace

bool gnuplot_available(const std::string& gnuplot) {
  std::string err;
  return run_gnuplot(gnuplot, "exit\n", err) == 0;
}

std::string gnuplot_png_terminal(const std::string& gnuplot) {
  static std::mutex mu;
  static std::map<std::string, std::string> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(gnuplot); it != cache.end()) return it->second;
  for (const char* term : {"pngcairo", "png"}) {
    std::string err;
    if (run_gnuplot(gnuplot, std::string("set terminal ") + term + "\nexit\n", err) == 0 && err.empty())
      return cache[gnuplot] = term;
  }
  throw Error(gnuplot + ": neither the 'pngcairo' nor the 'png' terminal works (install gnuplot-nox)");
}

void write_heatmap(const std::vector<double>& values, int n_layers, int n_kv_heads,
                   const std::string& png_path, const std::string& svg_path, const HeatmapOptions& opt) {
  const std::string where = !png_path.empty() ? png_path : svg_path;
  if (n_layers <= 0 || n_kv_heads <= 0 || values.size() != size_t(n_layers) * n_kv_heads)
    fail(where, "heatmap values",
         std::to_string(size_t(std::max(n_layers, 0)) * std::max(n_kv_heads, 0)) +
             " values (n_layers x n_kv_heads)",
         std::to_string(values.size()));
  for (double v : values)
    if (!std::isfinite(v)) fail(where, "heatmap values", "finite numbers", std::to_string(v));
  if (!gnuplot_available(opt.gnuplot))
    throw Error(where + ": cannot draw the heatmap: '" + opt.gnuplot +
                "' does not run (install gnuplot-nox; scripts/setup does)");

  // Matrix data: one row per layer.
  const std::string data = temp_path(".dat");
  std::string rows;
  char buf[40];
  for (int il = 0; il < n_layers; ++il)
    for (int ih = 0; ih < n_kv_heads; ++ih) {
      std::snprintf(buf, sizeof buf, "%.9g", values[size_t(il) * n_kv_heads + ih]);
      rows += buf;
      rows += ih + 1 < n_kv_heads ? ' ' : '\n';
    }
  write_file_bytes(data, rows);

  // Cells at least ~28 px wide and ~14 px tall, plus room for labels and the colour bar.
  const int w = opt.width_px > 0 ? opt.width_px : std::max(360, 120 + 28 * n_kv_heads + 140);
  const int h = opt.height_px > 0 ? opt.height_px : std::max(300, 100 + 14 * n_layers);
  std::string body;
  body += "set title " + gp_quote(opt.title) + " noenhanced\n";
  body += "set xlabel 'KV head'\nset ylabel 'layer'\n";
  body += "set cblabel " + gp_quote(opt.value_label) + " noenhanced\n";
  body += "set xrange [-0.5:" + std::to_string(n_kv_heads - 0.5) + "]\n";
  body += "set yrange [" + std::to_string(n_layers - 0.5) + ":-0.5]\n";  // layer 0 on top
  body += "set xtics 1\nset ytics " + std::to_string(n_layers > 40 ? 8 : n_layers > 16 ? 4 : 1) + "\n";
  body += "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21908d', 0.75 '#5dc863', 1 '#fde725')\n";
  body += "unset key\nset tics out\n";
  std::string script;
  if (!png_path.empty()) {
    script += "set terminal " + gnuplot_png_terminal(opt.gnuplot) + " size " + std::to_string(w) + "," +
              std::to_string(h) + "\n";
    script += "set output " + gp_quote(png_path) + "\n" + body;
    script += "plot " + gp_quote(data) + " matrix with image\nset output\n";
  }
  if (!svg_path.empty()) {
    script += "set terminal svg size " + std::to_string(w) + "," + std::to_string(h) + "\n";
    script += "set output " + gp_quote(svg_path) + "\n" + body;
    script += "plot " + gp_quote(data) + " matrix with image\nset output\n";
  }
  std::string err;
  const int rc = run_gnuplot(opt.gnuplot, script, err);
  std::error_code ec;
  std::filesystem::remove(data, ec);
  if (rc != 0) throw Error(where + ": gnuplot failed (exit " + std::to_string(rc) + "): " + err);
  for (const auto& p : {png_path, svg_path})
    if (!p.empty() && (!std::filesystem::exists(p, ec) || std::filesystem::file_size(p, ec) == 0))
      throw Error(p + ": gnuplot wrote no image" + (err.empty() ? std::string() : ": " + err));
}

}  // namespace cokv
