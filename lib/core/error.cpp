#include "core/error.h"

namespace cokv {

void fail(const std::string& where, const std::string& field, const std::string& expected,
          const std::string& got) {
  std::string msg = where + ": " + field + ": expected " + expected;
  if (!got.empty()) msg += ", got " + got;
  throw Error(msg);
}

}  // namespace cokv
