// gnuplot as a subprocess, shared by the heatmap and line plots. The script and the data go
// through temp files (never a pipe: a missing or crashing gnuplot must not SIGPIPE us).
#pragma once
#include <string>
#include <vector>

namespace cokv {

// Whether `gnuplot` runs at all (an empty script exits 0).
bool gnuplot_available(const std::string& gnuplot = "gnuplot");
// "pngcairo" or "png" (whichever this gnuplot accepts); throws when neither works.
std::string gnuplot_png_terminal(const std::string& gnuplot = "gnuplot");

// Single-quoted for gnuplot ('' is a literal quote inside).
std::string gnuplot_quote(const std::string& s);

// A fresh temp path (not created), unique within this process.
std::string gnuplot_temp_path(const std::string& suffix);

// Runs `script` (which may read `data`, a temp file it is given the path of). The script must
// write each non-empty path P of `outputs` as temp_path_for(P) (core/file_bytes.h): each one
// is checked and renamed over P, so a failed or interrupted drawing leaves the previous image
// in place and no temporary behind. `where` names the output in errors. The data file is
// removed afterwards. Throws a cokv::Error with gnuplot's stderr on failure.
void gnuplot_render(const std::string& gnuplot, const std::string& script, const std::string& data_path,
                    const std::vector<std::string>& outputs, const std::string& where);

}  // namespace cokv
