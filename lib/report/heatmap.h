// Heatmaps of per-head values (layers x KV heads) as PNG and SVG, drawn by gnuplot run as a
// subprocess (scripts/setup installs gnuplot-nox). The data goes through a temp file, the
// script through the pipe. Without gnuplot, write_heatmap throws a cokv::Error saying so.
// PNG uses gnuplot's "pngcairo" terminal when it works, else the libgd "png" terminal.
#pragma once
#include <string>
#include <vector>

namespace cokv {

struct HeatmapOptions {
  std::string title;                  // drawn verbatim (no gnuplot markup)
  std::string value_label = "score";  // colour-bar label
  std::string gnuplot = "gnuplot";    // executable (name on PATH or a path)
  int width_px = 0;                   // 0: automatic from the number of heads/layers
  int height_px = 0;
};

// values: [n_layers * n_kv_heads], p = il * n_kv_heads + ih. Layer 0 is drawn at the top.
// Either path may be empty to skip that format. Throws naming the file on failure.
void write_heatmap(const std::vector<double>& values, int n_layers, int n_kv_heads,
                   const std::string& png_path, const std::string& svg_path, const HeatmapOptions& opt = {});

// Whether `gnuplot --version` runs.
bool gnuplot_available(const std::string& gnuplot = "gnuplot");
// "pngcairo" or "png" (whichever this gnuplot accepts); throws when neither works.
std::string gnuplot_png_terminal(const std::string& gnuplot = "gnuplot");

}  // namespace cokv
