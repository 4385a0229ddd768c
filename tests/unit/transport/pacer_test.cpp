#include "transport/pacer.hpp"

#include <doctest/doctest.h>

#include <limits>

#include "test_time.hpp"
#include "transport/constants.hpp"

namespace punch::transport {

namespace {
using testing::kT0;
}

TEST_CASE("pacer: unpaced by default") {
  Pacer p;
  for (int i = 0; i < 1000; ++i) {
    CHECK(p.can_send(kT0, 1200));
    p.on_sent(kT0, 1200);
  }
}

TEST_CASE("pacer: a full bucket allows a burst, then packets leave at the rate") {
  Pacer p;
  p.set_rate(1e6);  // 1 MB/s: 1200 bytes every 1.2 ms; bucket = kMinPacingBurst.
  int burst = 0;
  while (p.can_send(kT0, 1200)) {
    p.on_sent(kT0, 1200);
    ++burst;
  }
  CHECK(burst == static_cast<int>(kMinPacingBurst / 1200));
  const util::TimePoint next = p.next_send_time(1200);
  CHECK(next > kT0);
  CHECK(next <= kT0 + 1201us);
  Pacer early = p;
  CHECK_FALSE(early.can_send(next - 1us, 1200));
  CHECK(p.can_send(next, 1200));
  p.on_sent(next, 1200);
  CHECK_FALSE(p.can_send(next, 1200));
  CHECK(p.can_send(next + 1201us, 1200));
}

TEST_CASE("pacer: the bucket never holds more than the burst allowance") {
  Pacer p;
  p.set_rate(1e6);
  CHECK(p.can_send(kT0, 1));
  // A long idle period does not bank unlimited credit.
  int burst = 0;
  while (p.can_send(kT0 + 10s, 1200)) {
    p.on_sent(kT0 + 10s, 1200);
    ++burst;
  }
  CHECK(burst == static_cast<int>(kMinPacingBurst / 1200));
  // At a high rate the bucket covers kPacingBurstInterval of sending.
  p.set_rate(1e9);
  CHECK(p.can_send(kT0 + 20s, 1200));
  int fast = 0;
  while (p.can_send(kT0 + 20s, 1200)) {
    p.on_sent(kT0 + 20s, 1200);
    ++fast;
  }
  CHECK(fast == static_cast<int>(1e9 * 0.002 / 1200));
  p.set_rate(std::numeric_limits<double>::infinity());
  CHECK(p.can_send(kT0 + 20s, 1200));
}

}  // namespace punch::transport

namespace punch::transport {

TEST_CASE("pacer: the bucket always holds the largest packet, even at a low rate") {
  Pacer p;
  constexpr std::uint64_t kBig = 16350;  // Above kMinPacingBurst.
  static_assert(kBig > kMinPacingBurst);
  p.set_max_packet(kBig);
  p.set_rate(1e5);  // 100 kB/s: 2 ms of it is 200 bytes, the bucket is the packet.
  REQUIRE(p.can_send(kT0, kBig));
  p.on_sent(kT0, kBig);
  CHECK_FALSE(p.can_send(kT0, kBig));
  // It refills at the rate, and the packet fits again once the bucket is full.
  const util::TimePoint next = p.next_send_time(kBig);
  CHECK(next - kT0 >= 163ms);
  CHECK(next - kT0 <= 164ms);
  CHECK(p.can_send(next, kBig));
  // Without set_max_packet a packet above the bucket could never leave at this rate.
  Pacer q;
  q.set_rate(1e5);
  CHECK_FALSE(q.can_send(kT0 + 10s, kBig));
}

}  // namespace punch::transport
