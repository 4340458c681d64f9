// The device arena's bookkeeping (runtime/arena.h): first fit by address, 256-byte blocks,
// merging of free neighbours within a segment only, the peak, refusals.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "runtime/arena.h"

using cokv::ArenaAllocator;

TEST_CASE("arena: first fit by address, aligned blocks, in-use and peak bytes", "[arena]") {
  ArenaAllocator a;
  a.add_segment(0x10000, 4096);
  REQUIRE(a.reserved() == 4096);
  const auto p = a.allocate(1), q = a.allocate(300), r = a.allocate(256);
  REQUIRE(p);
  REQUIRE(q);
  REQUIRE(r);
  CHECK(*p == 0x10000);
  CHECK(*q == 0x10000 + 256);        // 1 byte takes one 256-byte unit
  CHECK(*r == 0x10000 + 256 + 512);  // 300 bytes take two
  CHECK(a.in_use() == 1024);
  a.release(*q);
  CHECK(a.in_use() == 512);
  CHECK(a.peak() == 1024);
  // The freed hole is the lowest fit again: the same requests get the same places.
  const auto q2 = a.allocate(512);
  REQUIRE(q2);
  CHECK(*q2 == *q);
  CHECK(!a.allocate(4096));  // only 3072 bytes are left
  CHECK(a.largest_free() == 3072);
}

TEST_CASE("arena: freed neighbours merge, but never across segments", "[arena]") {
  ArenaAllocator a;
  a.add_segment(0x10000, 1024);
  a.add_segment(0x10000 + 1024, 1024);  // adjacent addresses, another allocation of the device
  const auto x = a.allocate(512), y = a.allocate(512), z = a.allocate(1024);
  REQUIRE(x);
  REQUIRE(y);
  REQUIRE(z);
  CHECK(*z == 0x10000 + 1024);
  a.release(*y);
  a.release(*x);  // merges with y's block into one of 1024 bytes
  CHECK(a.largest_free() == 1024);
  a.release(*z);
  CHECK(a.largest_free() == 1024);  // not 2048: the two segments stay apart
  CHECK(!a.allocate(2048));
  CHECK(a.in_use() == 0);
  CHECK(a.n_blocks() == 0);
  CHECK(a.n_segments() == 2);
}

TEST_CASE("arena: a release of anything but a live block is refused", "[arena]") {
  ArenaAllocator a;
  a.add_segment(0x20000, 1024);
  const auto x = a.allocate(10);
  REQUIRE(x);
  CHECK_THROWS_AS(a.release(*x + 256), cokv::Error);
  a.release(*x);
  CHECK_THROWS_AS(a.release(*x), cokv::Error);  // twice
  CHECK_THROWS_AS(a.add_segment(0x20001, 512), cokv::Error);
}
