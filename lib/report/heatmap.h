// Heatmaps of per-head values (layers x KV heads) as PNG and SVG, drawn by gnuplot run as a
// subprocess (report/gnuplot.h; scripts/setup installs gnuplot-nox). Without gnuplot,
// write_heatmap throws a cokv::Error saying so.
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

}  // namespace cokv
