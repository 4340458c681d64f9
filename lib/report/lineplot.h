// Line plots (y against x, one line per series) as PNG and SVG, drawn by gnuplot run as a
// subprocess, like heatmap.h. Used for score-vs-budget curves. Without gnuplot,
// write_line_plot throws a cokv::Error saying so.
#pragma once
#include <string>
#include <vector>

namespace cokv {

struct LineSeries {
  std::string name;  // legend entry, drawn verbatim
  std::vector<double> x, y;
  std::vector<double> y_lo, y_hi;  // error bars (e.g. 95% intervals); empty: none
  bool dashed = false;  // e.g. the full-cache reference
  bool points = true;
};

struct LinePlotOptions {
  std::string title, x_label, y_label;
  bool log2_x = false;  // budgets double: a log2 x axis spaces them evenly
  bool log_xy = false;  // decimal log scales on both axes (convergence plots); values > 0
  std::string gnuplot = "gnuplot";
  int width_px = 720, height_px = 460;
};

// Either path may be empty to skip that format. Series need x.size() == y.size() >= 1 and
// finite values (x > 0 with log2_x); error bars, when given, one low and high value per x. Throws naming the file on failure.
void write_line_plot(const std::vector<LineSeries>& series, const std::string& png_path,
                     const std::string& svg_path, const LinePlotOptions& opt = {});

}  // namespace cokv
