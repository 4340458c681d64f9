// The bookkeeping of a GPU backend's device memory arena, apart from CUDA so it is tested on
// its own: a first-fit allocator over address ranges (segments) the backend obtained from the
// device once. Blocks are 256-byte aligned (as cudaMalloc's), free neighbours within one segment
// merge, lowest address first, so the same sequence of requests gets the same placement. The
// backend (runtime/cuda/device.h) asks the device for a new segment only when no free block
// fits: after the first record, or the longest prompt so far, every allocation is a reuse.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

namespace cokv {

class ArenaAllocator {
 public:
  static constexpr size_t kAlign = 256;
  static size_t round_up(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

  // A new range [base, base + bytes), base aligned; it never merges with another segment.
  void add_segment(uintptr_t base, size_t bytes);
  // The lowest free block that fits round_up(bytes) (at least one alignment unit), or nothing.
  std::optional<uintptr_t> allocate(size_t bytes);
  // Frees a block allocate() returned; throws cokv::Error for any other address.
  void release(uintptr_t p);

  size_t in_use() const { return in_use_; }      // bytes of live blocks
  size_t peak() const { return peak_; }          // most bytes live at once
  size_t reserved() const { return reserved_; }  // bytes of all segments
  size_t largest_free() const;
  size_t n_segments() const { return segment_starts_.size(); }
  size_t n_blocks() const { return used_.size(); }

 private:
  std::map<uintptr_t, size_t> free_;  // start -> bytes, within segments
  std::unordered_map<uintptr_t, size_t> used_;
  std::set<uintptr_t> segment_starts_;  // a free block never merges across one of these
  size_t in_use_ = 0, peak_ = 0, reserved_ = 0;
};

}  // namespace cokv
