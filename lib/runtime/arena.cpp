#include "runtime/arena.h"

#include <algorithm>
#include <iterator>
#include <string>

#include "core/error.h"

namespace cokv {

void ArenaAllocator::add_segment(uintptr_t base, size_t bytes) {
  require(base % kAlign == 0, "arena: segment base not 256-byte aligned");
  bytes = bytes / kAlign * kAlign;
  if (bytes == 0) return;
  segment_starts_.insert(base);
  free_.emplace(base, bytes);
  reserved_ += bytes;
}

std::optional<uintptr_t> ArenaAllocator::allocate(size_t bytes) {
  const size_t need = round_up(std::max<size_t>(bytes, 1));
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < need) continue;
    const uintptr_t p = it->first;
    const size_t left = it->second - need;
    free_.erase(it);
    if (left) free_.emplace(p + need, left);
    used_.emplace(p, need);
    in_use_ += need;
    peak_ = std::max(peak_, in_use_);
    return p;
  }
  return std::nullopt;
}

void ArenaAllocator::release(uintptr_t p) {
  const auto u = used_.find(p);
  require(u != used_.end(), "arena: release of an address that is not a live block");
  size_t bytes = u->second;
  used_.erase(u);
  in_use_ -= bytes;
  uintptr_t start = p;
  // Merge with the following free block unless a segment starts there.
  if (auto next = free_.find(p + bytes); next != free_.end() && !segment_starts_.count(next->first)) {
    bytes += next->second;
    free_.erase(next);
  }
  // And with the preceding one when it ends here and this block does not start a segment.
  if (auto after = free_.lower_bound(p); after != free_.begin() && !segment_starts_.count(p)) {
    auto prev = std::prev(after);
    if (prev->first + prev->second == p) {
      start = prev->first;
      bytes += prev->second;
      free_.erase(prev);
    }
  }
  free_.emplace(start, bytes);
}

size_t ArenaAllocator::largest_free() const {
  size_t m = 0;
  for (const auto& [p, b] : free_) m = std::max(m, b);
  return m;
}

}  // namespace cokv
