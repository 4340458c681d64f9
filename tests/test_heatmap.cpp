// Heatmaps: PNG and SVG files created and non-empty (skipped with a WARN without gnuplot);
// a missing gnuplot gives a clear error.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/file_bytes.h"
#include "report/gnuplot.h"
#include "report/heatmap.h"
#include "report/lineplot.h"

namespace fs = std::filesystem;
using namespace cokv;

TEST_CASE("heatmap: PNG and SVG via gnuplot", "[heatmap]") {
  if (!gnuplot_available()) {
    WARN("gnuplot is not installed: heatmap drawing not tested (install gnuplot-nox)");
    return;
  }
  const auto dir = fs::temp_directory_path() / ("cokv-test-heatmap-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::vector<double> v(90);
  for (int p = 0; p < 90; ++p) v[p] = std::sin(p * 0.3);
  const std::string png = (dir / "h it's.png").string(), svg = (dir / "h.svg").string();
  HeatmapOptions o;
  o.title = "SSV qasper_e (alpha_10)";
  write_heatmap(v, 30, 3, png, svg, o);
  const std::string pb = read_file_bytes(png), sb = read_file_bytes(svg);
  REQUIRE(pb.size() > 1000);
  REQUIRE(pb.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  REQUIRE(sb.find("<svg") != std::string::npos);
  REQUIRE(sb.find("qasper_e") != std::string::npos);
  const std::string term = gnuplot_png_terminal();
  REQUIRE((term == "pngcairo" || term == "png"));
  REQUIRE_THROWS_WITH(write_heatmap(v, 30, 2, png, ""), Catch::Contains("n_layers x n_kv_heads"));
  fs::remove_all(dir);
}

TEST_CASE("heatmap: a missing gnuplot is a clear error", "[heatmap]") {
  HeatmapOptions o;
  o.gnuplot = "/nonexistent/gnuplot";
  REQUIRE_THROWS_WITH(write_heatmap(std::vector<double>(6, 1.0), 2, 3, "x.png", "", o),
                      Catch::Contains("x.png") && Catch::Contains("gnuplot-nox"));
}

TEST_CASE("line plot: a missing gnuplot is a clear error", "[heatmap]") {
  LinePlotOptions o;
  o.gnuplot = "/nonexistent/gnuplot";
  LineSeries s{"uniform", {64, 128}, {10, 12}};
  REQUIRE_THROWS_WITH(write_line_plot({s}, "y.png", "", o),
                      Catch::Contains("y.png") && Catch::Contains("gnuplot-nox"));
}

TEST_CASE("heatmap: a gnuplot that fails while drawing reports its exit status and stderr", "[heatmap]") {
  // A stand-in gnuplot: accepts the availability and terminal probes (scripts without
  // "plot"), fails on the drawing script with a message on stderr.
  const auto dir = fs::temp_directory_path() / ("cokv-test-badgnuplot-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string fake = (dir / "gnuplot").string();
  write_file_bytes(fake, "#!/bin/sh\nif grep -q '^plot' \"$1\"; then echo 'boom: no font' >&2; exit 3; fi\nexit 0\n");
  fs::permissions(fake, fs::perms::owner_all);
  HeatmapOptions o;
  o.gnuplot = fake;
  const std::string png = (dir / "z.png").string();
  REQUIRE_THROWS_WITH(write_heatmap(std::vector<double>(6, 1.0), 2, 3, png, "", o),
                      Catch::Contains(png) && Catch::Contains("exit 3") && Catch::Contains("boom: no font"));
  fs::remove_all(dir);
}
