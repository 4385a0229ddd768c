#include "transport/new_reno.hpp"

#include <doctest/doctest.h>

#include "test_time.hpp"
#include "transport/constants.hpp"

namespace punch::transport {

namespace {
using testing::kT0;
}

TEST_CASE("new_reno: slow start grows the window by the bytes acknowledged") {
  NewReno cc;
  CHECK(cc.window() == kInitialWindow);
  CHECK(cc.in_slow_start());
  cc.on_packet_acked(kT0, 1200, kInitialWindow, kT0 + 20ms);
  CHECK(cc.window() == kInitialWindow + 1200);
  for (int i = 0; i < 10; ++i) cc.on_packet_acked(kT0, 1200, cc.window(), kT0 + 20ms);
  CHECK(cc.window() == kInitialWindow + 11 * 1200);
}

TEST_CASE("new_reno: an application-limited sender does not grow the window") {
  NewReno cc;
  cc.on_packet_acked(kT0, 1200, 2400, kT0 + 20ms);  // Only 2 packets were in flight.
  CHECK(cc.window() == kInitialWindow);
}

TEST_CASE("new_reno: a loss halves the window once per recovery period") {
  NewReno cc;
  for (int i = 0; i < 10; ++i) cc.on_packet_acked(kT0, 1200, cc.window(), kT0 + 20ms);
  const std::uint64_t before = cc.window();  // 24000
  cc.on_congestion_event(kT0 + 10ms, kT0 + 100ms);
  CHECK(cc.window() == before / 2);
  CHECK(cc.ssthresh() == before / 2);
  CHECK_FALSE(cc.in_slow_start());
  // Another loss of a packet sent before recovery began: same event, no further cut.
  cc.on_congestion_event(kT0 + 50ms, kT0 + 110ms);
  CHECK(cc.window() == before / 2);
  // Acknowledgements of packets sent before recovery do not grow the window.
  cc.on_packet_acked(kT0 + 90ms, 1200, cc.window(), kT0 + 120ms);
  CHECK(cc.window() == before / 2);
  // A loss of a packet sent after recovery began is a new event.
  cc.on_congestion_event(kT0 + 101ms, kT0 + 200ms);
  CHECK(cc.window() == before / 4);
}

TEST_CASE("new_reno: congestion avoidance adds one datagram per window acknowledged") {
  NewReno cc;
  cc.on_congestion_event(kT0, kT0);  // ssthresh = window = 6000
  const std::uint64_t w = cc.window();
  CHECK(w == kInitialWindow / 2);
  std::uint64_t acked = 0;
  while (acked + 1200 <= w - 1200) {
    cc.on_packet_acked(kT0 + 1ms, 1200, w, kT0 + 30ms);
    acked += 1200;
  }
  CHECK(cc.window() == w);
  cc.on_packet_acked(kT0 + 1ms, 1200, w, kT0 + 30ms);
  CHECK(cc.window() == w + kMaxDatagramSize);
}

TEST_CASE(
    "new_reno: the window never drops below the minimum; persistent congestion collapses it") {
  NewReno cc;
  for (int i = 0; i < 10; ++i) cc.on_congestion_event(kT0 + i * 1s, kT0 + i * 1s + 1ms);
  CHECK(cc.window() == kMinimumWindow);
  NewReno cc2;
  for (int i = 0; i < 50; ++i) cc2.on_packet_acked(kT0, 1200, cc2.window(), kT0 + 20ms);
  cc2.on_persistent_congestion();
  CHECK(cc2.window() == kMinimumWindow);
  cc2.reset();
  CHECK(cc2.window() == kInitialWindow);
  CHECK(cc2.in_slow_start());
}

TEST_CASE("new_reno: pacing rate is the window per smoothed RTT, doubled in slow start") {
  NewReno cc;
  RttEstimator rtt;
  rtt.update(100ms, 0ms, kT0);
  CHECK(cc.pacing_rate(rtt) == doctest::Approx(2.0 * 12000 / 0.1));
  cc.on_congestion_event(kT0, kT0);
  CHECK(cc.pacing_rate(rtt) == doctest::Approx(1.25 * 6000 / 0.1));
}

}  // namespace punch::transport

namespace punch::transport {

TEST_CASE("new_reno: windows kept in packets scale with the datagram size") {
  NewReno cc;
  cc.set_max_datagram(16384);
  cc.reset();
  CHECK(cc.window() == 2 * 16384);  // The initial window holds two datagrams at least.
  cc.on_persistent_congestion();
  CHECK(cc.window() == 2 * 16384);  // So does the minimum window.
  cc.set_max_datagram(kMaxDatagramSize);
  CHECK(cc.window() == 2 * 16384);  // Shrinking the size leaves the window as it is.
  cc.reset();
  CHECK(cc.window() == kInitialWindow);
}

}  // namespace punch::transport
