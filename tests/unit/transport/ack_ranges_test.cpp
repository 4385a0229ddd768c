#include "transport/ack_ranges.hpp"

#include <doctest/doctest.h>

#include "test_time.hpp"
#include "transport/constants.hpp"

namespace punch::transport {

namespace {
using testing::kT0;
}

TEST_CASE("ack_ranges: duplicates are detected") {
  AckRanges a;
  CHECK(a.add(0, kT0));
  CHECK(a.add(1, kT0));
  CHECK_FALSE(a.add(1, kT0));
  CHECK(a.is_duplicate(0));
  CHECK_FALSE(a.is_duplicate(2));
  CHECK(a.largest() == 1u);
}

TEST_CASE("ack_ranges: ACK frames list the highest ranges first, with the delay") {
  AckRanges a;
  for (std::uint64_t pn : {0, 1, 2, 5, 6, 9}) a.add(pn, kT0);
  AckFrame f;
  REQUIRE(a.build_ack(kT0 + std::chrono::microseconds(800), 32, f));
  CHECK(f.ack_delay == 100);  // 800 us in units of 8 us.
  REQUIRE(f.ranges.size() == 3);
  CHECK(f.ranges[0] == AckRange{9, 9});
  CHECK(f.ranges[1] == AckRange{5, 6});
  CHECK(f.ranges[2] == AckRange{0, 2});
  REQUIRE(a.build_ack(kT0, 2, f));
  CHECK(f.ranges.size() == 2);
}

TEST_CASE("ack_ranges: ranges acknowledged to the peer are forgotten") {
  AckRanges a;
  for (std::uint64_t pn : {0, 1, 3, 5}) a.add(pn, kT0);
  a.forget_below(4);
  AckFrame f;
  REQUIRE(a.build_ack(kT0, 32, f));
  REQUIRE(f.ranges.size() == 1);
  CHECK(f.ranges[0] == AckRange{5, 5});
  // Packets below the floor count as duplicates: the peer resends their frames anyway.
  CHECK(a.is_duplicate(2));
  CHECK_FALSE(a.add(2, kT0));
  a.forget_below(6);
  CHECK_FALSE(a.build_ack(kT0, 32, f));
  CHECK(a.add(7, kT0));
  REQUIRE(a.build_ack(kT0, 32, f));
  CHECK(f.ranges[0] == AckRange{7, 7});
}

TEST_CASE("ack_ranges: memory stays bounded under heavy loss") {
  AckRanges a;
  for (std::uint64_t pn = 0; pn < 10000; pn += 2) a.add(pn, kT0);
  CHECK(a.range_count() <= kMaxTrackedAckRanges);
  CHECK(a.is_duplicate(0));
  CHECK(a.is_duplicate(1));  // Forgotten, treated as seen.
  CHECK_FALSE(a.is_duplicate(9999));
}

}  // namespace punch::transport
