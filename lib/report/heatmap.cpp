// Heatmaps through a gnuplot subprocess; see heatmap.h.
#include "report/heatmap.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/file_bytes.h"
#include "report/gnuplot.h"

namespace cokv {

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
  const std::string data = gnuplot_temp_path(".dat");
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
  body += "set title " + gnuplot_quote(opt.title) + " noenhanced\n";
  body += "set xlabel 'KV head'\nset ylabel 'layer'\n";
  body += "set cblabel " + gnuplot_quote(opt.value_label) + " noenhanced\n";
  body += "set xrange [-0.5:" + std::to_string(n_kv_heads - 0.5) + "]\n";
  body += "set yrange [" + std::to_string(n_layers - 0.5) + ":-0.5]\n";  // layer 0 on top
  body += "set xtics 1\nset ytics " + std::to_string(n_layers > 40 ? 8 : n_layers > 16 ? 4 : 1) + "\n";
  body += "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21908d', 0.75 '#5dc863', 1 '#fde725')\n";
  body += "unset key\nset tics out\n";
  std::string script;
  if (!png_path.empty()) {
    script += "set terminal " + gnuplot_png_terminal(opt.gnuplot) + " size " + std::to_string(w) + "," +
              std::to_string(h) + "\n";
    script += "set output " + gnuplot_quote(temp_path_for(png_path)) + "\n" + body;
    script += "plot " + gnuplot_quote(data) + " matrix with image notitle\nset output\n";
  }
  if (!svg_path.empty()) {
    script += "set terminal svg size " + std::to_string(w) + "," + std::to_string(h) + "\n";
    script += "set output " + gnuplot_quote(temp_path_for(svg_path)) + "\n" + body;
    script += "plot " + gnuplot_quote(data) + " matrix with image notitle\nset output\n";
  }
  gnuplot_render(opt.gnuplot, script, data, {png_path, svg_path}, where);
}

}  // namespace cokv
