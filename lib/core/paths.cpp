#include "core/paths.h"

#include <cstdlib>

namespace cokv {

static std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : fallback;
}

std::string cache_dir() {
  return env_or("COKV_CACHE", env_or("HOME", ".") + "/.cache/cokv");
}

std::string default_model_path() {
  return env_or("COKV_MODEL", cache_dir() + "/models/" + COKV_DEFAULT_MODEL_FILE);
}

std::string configs_dir() { return env_or("COKV_CONFIGS", std::string(COKV_SOURCE_DIR) + "/configs"); }

}  // namespace cokv
