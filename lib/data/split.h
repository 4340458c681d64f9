// CoKV's validation/test split of a LongBench dataset: Hugging Face Dataset.shuffle(seed=42)
// (np.random.default_rng(42).permutation(n)), then the first 30 shuffled records (50 when the
// dataset has more than 200) are validation and the rest test, both in shuffled order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cokv::longbench {

struct Split {
  std::vector<size_t> validation;  // indices into the file's record order, shuffled order
  std::vector<size_t> test;
};

// 30, or 50 when n > 200. The reference (datasets' select(range(30))) fails for n < 30;
// cokv clamps to n instead and the test part is then empty.
size_t validation_size(size_t n);
Split validation_test_split(size_t n, uint64_t seed = 42);

}  // namespace cokv::longbench
