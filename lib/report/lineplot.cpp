// Line plots through a gnuplot subprocess; see lineplot.h.
#include "report/lineplot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/file_bytes.h"
#include "report/gnuplot.h"

namespace cokv {

void write_line_plot(const std::vector<LineSeries>& series, const std::string& png_path,
                     const std::string& svg_path, const LinePlotOptions& opt) {
  const std::string where = !png_path.empty() ? png_path : svg_path;
  if (series.empty()) fail(where, "line plot", "at least one series", "none");
  for (const auto& s : series) {
    if (s.x.empty() || s.x.size() != s.y.size())
      fail(where, "series '" + s.name + "'", "as many y as x values (at least one)",
           std::to_string(s.x.size()) + " x, " + std::to_string(s.y.size()) + " y");
    for (size_t i = 0; i < s.x.size(); ++i)
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || ((opt.log2_x || opt.log_xy) && s.x[i] <= 0) ||
          (opt.log_xy && s.y[i] <= 0))
        fail(where, "series '" + s.name + "'", "finite values (x > 0 on a log axis)");
    if (!s.y_lo.empty() && (s.y_lo.size() != s.x.size() || s.y_hi.size() != s.x.size()))
      fail(where, "series '" + s.name + "'", "one error bar (low, high) per x value");
  }
  if (!gnuplot_available(opt.gnuplot))
    throw Error(where + ": cannot draw the plot: '" + opt.gnuplot + "' does not run (install gnuplot-nox)");

  // One data block per series, separated by two blank lines (gnuplot's "index").
  const std::string data = gnuplot_temp_path(".dat");
  std::string rows;
  char buf[64];
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      const bool bars = !s.y_lo.empty();
      std::snprintf(buf, sizeof buf, "%.9g %.9g %.9g %.9g\n", s.x[i], s.y[i], bars ? s.y_lo[i] : s.y[i],
                    bars ? s.y_hi[i] : s.y[i]);
      rows += buf;
    }
    rows += "\n\n";
  }
  write_file_bytes(data, rows);

  std::string body;
  body += "set title " + gnuplot_quote(opt.title) + " noenhanced\n";
  body += "set xlabel " + gnuplot_quote(opt.x_label) + " noenhanced\n";
  body += "set ylabel " + gnuplot_quote(opt.y_label) + " noenhanced\n";
  body += "set grid\nset key outside right top noenhanced\nset tics out\n";
  if (opt.log_xy) body += "set logscale xy 10\n";
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
    plot += (k ? ", " : "") + gnuplot_quote(data) + " index " + std::to_string(k) + " using 1:2 with " +
            (s.points ? "linespoints pt 7 ps 0.8" : "lines") + " lw 2" + (s.dashed ? " dt 2" : "") +
            (s.dashed ? std::string(" lc rgb '#000000'") : " lc " + std::to_string(k + 1)) + " title " +
            gnuplot_quote(s.name);
    if (!s.y_lo.empty())
      plot += ", " + gnuplot_quote(data) + " index " + std::to_string(k) + " using 1:2:3:4 with yerrorbars pt 7 ps 0.5" +
              (s.dashed ? std::string(" lc rgb '#000000'") : " lc " + std::to_string(k + 1)) + " notitle";
  }
  plot += "\n";
  std::string script;
  const std::string size = std::to_string(opt.width_px) + "," + std::to_string(opt.height_px);
  if (!png_path.empty())
    script += "set terminal " + gnuplot_png_terminal(opt.gnuplot) + " size " + size + "\nset output " +
              gnuplot_quote(temp_path_for(png_path)) + "\n" + body + plot + "set output\n";
  if (!svg_path.empty())
    script += "set terminal svg size " + size + "\nset output " + gnuplot_quote(temp_path_for(svg_path)) + "\n" + body + plot +
              "set output\n";

  gnuplot_render(opt.gnuplot, script, data, {png_path, svg_path}, where);
}

}  // namespace cokv
