// Line plots through a gnuplot subprocess; see lineplot.h.
#include "report/lineplot.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/file_bytes.h"
#include "report/heatmap.h"

namespace cokv {

namespace {

std::string sh_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string gp_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

std::string temp_path(const std::string& suffix) {
  static std::atomic<int> counter{0};
  return (std::filesystem::temp_directory_path() /
          ("cokv-lineplot-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + suffix))
      .string();
}

}  // namespace

void write_line_plot(const std::vector<LineSeries>& series, const std::string& png_path,
                     const std::string& svg_path, const LinePlotOptions& opt) {
  const std::string where = !png_path.empty() ? png_path : svg_path;
  if (series.empty()) fail(where, "line plot", "at least one series", "none");
  for (const auto& s : series) {
    if (s.x.empty() || s.x.size() != s.y.size())
      fail(where, "series '" + s.name + "'", "as many y as x values (at least one)",
           std::to_string(s.x.size()) + " x, " + std::to_string(s.y.size()) + " y");
    for (size_t i = 0; i < s.x.size(); ++i)
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (opt.log2_x && s.x[i] <= 0))
        fail(where, "series '" + s.name + "'", "finite values (x > 0 on a log axis)");
  }
  if (!gnuplot_available(opt.gnuplot))
    throw Error(where + ": cannot draw the plot: '" + opt.gnuplot + "' does not run (install gnuplot-nox)");

  // One data block per series, separated by two blank lines (gnuplot's "index").
  const std::string data = temp_path(".dat");
  std::string rows;
  char buf[64];
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%.9g %.9g\n", s.x[i], s.y[i]);
      rows += buf;
    }
    rows += "\n\n";
  }
  write_file_bytes(data, rows);

  std::string body;
  body += "set title " + gp_quote(opt.title) + " noenhanced\n";
  body += "set xlabel " + gp_quote(opt.x_label) + " noenhanced\n";
  body += "set ylabel " + gp_quote(opt.y_label) + " noenhanced\n";
  body += "set grid\nset key outside right top noenhanced\nset tics out\n";
  if (opt.log2_x) {
    body += "set logscale x 2\n";
    // Ticks at the data's x values.
    std::vector<double> xs;
    for (const auto& s : series) xs.insert(xs.end(), s.x.begin(), s.x.end());
    std::sort(xs.begin(), xs.end());
    xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
    std::string tics;
    for (double x : xs) {
      std::snprintf(buf, sizeof buf, "%s'%g' %g", tics.empty() ? "" : ", ", x, x);
      tics += buf;
    }
    body += "set xtics (" + tics + ")\n";
    if (xs.size() > 1) {
      std::snprintf(buf, sizeof buf, "set xrange [%g:%g]\n", xs.front() / 1.25, xs.back() * 1.25);
      body += buf;
    }
  }
  std::string plot = "plot ";
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    plot += (k ? ", " : "") + gp_quote(data) + " index " + std::to_string(k) + " using 1:2 with " +
            (s.points ? "linespoints pt 7 ps 0.8" : "lines") + " lw 2" + (s.dashed ? " dt 2" : "") +
            (s.dashed ? std::string(" lc rgb '#000000'") : " lc " + std::to_string(k + 1)) + " title " +
            gp_quote(s.name);
  }
  plot += "\n";
  std::string script;
  const std::string size = std::to_string(opt.width_px) + "," + std::to_string(opt.height_px);
  if (!png_path.empty())
    script += "set terminal " + gnuplot_png_terminal(opt.gnuplot) + " size " + size + "\nset output " +
              gp_quote(png_path) + "\n" + body + plot + "set output\n";
  if (!svg_path.empty())
    script += "set terminal svg size " + size + "\nset output " + gp_quote(svg_path) + "\n" + body + plot +
              "set output\n";

  const std::string err_path = temp_path(".err");
  const std::string cmd = sh_quote(opt.gnuplot) + " 2> " + sh_quote(err_path);
  FILE* pipe = ::popen(cmd.c_str(), "w");
  if (!pipe) throw Error(where + ": cannot start " + opt.gnuplot);
  std::fwrite(script.data(), 1, script.size(), pipe);
  const int status = ::pclose(pipe);
  std::error_code ec;
  std::string err;
  if (std::filesystem::exists(err_path, ec)) {
    err = read_file_bytes(err_path);
    std::filesystem::remove(err_path, ec);
  }
  std::filesystem::remove(data, ec);
  const int rc = status == -1 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  if (rc != 0) throw Error(where + ": gnuplot failed (exit " + std::to_string(rc) + "): " + err);
  for (const auto& p : {png_path, svg_path})
    if (!p.empty() && (!std::filesystem::exists(p, ec) || std::filesystem::file_size(p, ec) == 0))
      throw Error(p + ": gnuplot wrote no image" + (err.empty() ? std::string() : ": " + err));
}

}  // namespace cokv
