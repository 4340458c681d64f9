// Where cokv keeps downloaded things, and where the default model is.
#pragma once
#include <string>

namespace cokv {

// $COKV_CACHE, else $HOME/.cache/cokv (scripts/setup writes there).
std::string cache_dir();
// $COKV_MODEL if set, else <cache_dir>/models/<default file from configs/models.json>.
std::string default_model_path();
// The source tree's configs/ folder (compiled in; $COKV_CONFIGS overrides).
std::string configs_dir();

}  // namespace cokv
