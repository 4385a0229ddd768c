#include "transport/pacer.hpp"

#include <doctest/doctest.h>

#include <limits>

#include "transport/constants.hpp"

namespace punch::transport {

namespace {
const util::TimePoint kT0 = util::TimePoint{} + std::chrono::hours(1);
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
