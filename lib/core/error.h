// cokv::Error: the one exception type lib/ throws. Messages are written for the user:
// they name the file (or input), the field and what was expected, so a user can act on them.
#pragma once
#include <stdexcept>
#include <string>

namespace cokv {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "<where>: <field>: expected <expected>[, got <got>]" -- the house format for bad input.
[[noreturn]] void fail(const std::string& where, const std::string& field, const std::string& expected,
                       const std::string& got = {});

// Throws Error(message) when cond is false; for internal invariants use assert-like CHECK below.
inline void require(bool cond, const std::string& message) {
  if (!cond) throw Error(message);
}

}  // namespace cokv
