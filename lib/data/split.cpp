// Validation/test split as CoKV's process_longbench_split does it (see split.h).
#include "data/split.h"

#include <algorithm>

#include "data/numpy_random.h"

namespace cokv::longbench {

size_t validation_size(size_t n) { return n > 200 ? 50 : 30; }

Split validation_test_split(size_t n, uint64_t seed) {
  numpy_random::Pcg64 g(seed);
  const auto perm = numpy_random::permutation(g, static_cast<int64_t>(n));
  const size_t n_val = std::min(n, validation_size(n));
  Split s;
  s.validation.assign(perm.begin(), perm.begin() + static_cast<std::ptrdiff_t>(n_val));
  s.test.assign(perm.begin() + static_cast<std::ptrdiff_t>(n_val), perm.end());
  return s;
}

}  // namespace cokv::longbench
