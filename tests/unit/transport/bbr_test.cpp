#include "transport/bbr.hpp"

#include <doctest/doctest.h>

#include <limits>

#include "test_time.hpp"
#include "transport/constants.hpp"

namespace punch::transport {
namespace {

using namespace std::chrono_literals;
using testing::kT0;

// Feeds a Bbr one ACK per round trip, each acknowledging a round's worth of data at `bw`.
struct Driver {
  Bbr cc;
  std::uint64_t delivered = 0;
  util::TimePoint now = kT0;

  void round(double bw, util::Duration rtt, std::uint64_t in_flight, std::uint64_t lost = 0,
             std::uint64_t acked_bytes = 0) {
    const auto bytes =
        acked_bytes != 0
            ? acked_bytes
            : static_cast<std::uint64_t>(bw * std::chrono::duration<double>(rtt).count());
    RateSample rs;
    rs.prior_delivered = delivered;
    delivered += bytes;
    rs.total_delivered = delivered;
    rs.delivered = bytes;
    rs.delivery_rate = bw;
    rs.interval = rtt;
    rs.rtt = rtt;
    rs.newly_acked = bytes;
    rs.acked_packets = bytes / kMaxDatagramSize;
    rs.lost_packets = lost;
    rs.newly_lost = lost * kMaxDatagramSize;
    rs.prior_in_flight = in_flight;
    rs.bytes_in_flight = in_flight;
    now += rtt;
    cc.on_ack_sample(rs, now);
  }
  // Startup until the pipe is full, then drained into ProbeBW (10 Mbit/s, 30 ms).
  void settle() {
    for (int i = 0; i < 10 && cc.mode() != Bbr::Mode::kProbeBw; ++i) round(kBw, 30ms, 30000);
  }
  static constexpr double kBw = 1.25e6;
};

}  // namespace

TEST_CASE("bbr: starts in Startup with the initial window, pacing it over the RTT") {
  Bbr cc;
  RttEstimator rtt;
  CHECK(cc.mode() == Bbr::Mode::kStartup);
  CHECK(cc.window() == kInitialWindow);
  const double expected = kBbrHighGain * kInitialWindow / 0.333;
  CHECK(cc.pacing_rate(rtt) == doctest::Approx(expected));
  rtt.update(30ms, util::Duration{0}, kT0);
  CHECK(cc.pacing_rate(rtt) == doctest::Approx(kBbrHighGain * kInitialWindow / 0.030));
}

TEST_CASE("bbr: Startup ends when bandwidth stops growing, then ProbeBW keeps gain x BDP") {
  Driver d;
  d.round(Driver::kBw, 30ms, 30000);
  CHECK(d.cc.mode() == Bbr::Mode::kStartup);
  CHECK(d.cc.bandwidth() == Driver::kBw);
  CHECK(d.cc.min_rtt() == 30ms);
  d.settle();
  CHECK(d.cc.filled_pipe());
  CHECK(d.cc.mode() == Bbr::Mode::kProbeBw);
  const std::uint64_t bdp = d.cc.bdp();
  CHECK(bdp == doctest::Approx(37500).epsilon(0.001));
  // One ACK per round trip is the burstiest acknowledgement there is: the
  // aggregation allowance covers that whole round.
  CHECK(d.cc.aggregation_window() == doctest::Approx(37500).epsilon(0.001));
  CHECK(d.cc.window() == static_cast<std::uint64_t>(kBbrCwndGain * static_cast<double>(bdp)) +
                             kBbrWindowQuanta + d.cc.aggregation_window());
  RttEstimator rtt;
  CHECK(d.cc.pacing_rate(rtt) == doctest::Approx(d.cc.pacing_gain() * Driver::kBw));
  // The gain cycles through probing up and draining within a few rounds.
  bool saw_up = false;
  bool saw_down = false;
  for (int i = 0; i < 12; ++i) {
    d.round(Driver::kBw, 31ms, 60000);
    saw_up = saw_up || d.cc.pacing_gain() > 1.0;
    saw_down = saw_down || d.cc.pacing_gain() < 1.0;
  }
  CHECK(saw_up);
  CHECK(saw_down);
}

TEST_CASE("bbr: random loss leaves the model and the window alone") {
  Driver d;
  d.settle();
  const std::uint64_t w = d.cc.window();
  for (int i = 0; i < 30; ++i) d.round(Driver::kBw, 30ms, 37500, /*lost=*/i % 3 == 0 ? 2 : 0);
  CHECK(d.cc.window() == w);
  CHECK(d.cc.bandwidth() == Driver::kBw);
  CHECK(d.cc.inflight_cap() == std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("bbr: sustained heavy loss caps in flight; clean rounds lift the cap") {
  Driver d;
  d.settle();
  // Two rounds losing most packets are a burst, not a verdict.
  d.round(Driver::kBw, 30ms, 60000, 40);
  d.round(Driver::kBw, 30ms, 60000, 40);
  d.round(Driver::kBw, 30ms, 60000, 0);
  CHECK(d.cc.inflight_cap() == std::numeric_limits<std::uint64_t>::max());
  // Three in a row are.
  for (int i = 0; i < 3; ++i) d.round(Driver::kBw, 30ms, 60000, 40);
  const auto cap = static_cast<std::uint64_t>(kBbrInflightCapBeta * 60000);
  CHECK(d.cc.inflight_cap() == cap);
  CHECK(d.cc.window() == cap);
  // Each further heavy round cuts again.
  d.round(Driver::kBw, 30ms, 60000, 40);
  CHECK(d.cc.inflight_cap() < cap);
  const std::uint64_t low = d.cc.inflight_cap();
  d.round(Driver::kBw, 30ms, 20000, 0);
  CHECK(d.cc.inflight_cap() == low + kMaxDatagramSize);
  for (int i = 0; i < 200; ++i) d.round(Driver::kBw, 30ms, 20000, 0);
  CHECK(d.cc.inflight_cap() == std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("bbr: persistent congestion restarts from the minimum window and regrows") {
  Driver d;
  d.settle();
  const std::uint64_t w = d.cc.window();
  d.cc.on_persistent_congestion();
  CHECK(d.cc.window() == kBbrMinWindow);
  d.round(Driver::kBw, 30ms, 0, 0, 10 * kMaxDatagramSize);
  CHECK(d.cc.window() == kBbrMinWindow + 10 * kMaxDatagramSize);
  for (int i = 0; i < 5; ++i) d.round(Driver::kBw, 30ms, 20000);
  CHECK(d.cc.window() == w);
  CHECK(d.cc.bandwidth() == Driver::kBw);  // The model survived the outage.
}

TEST_CASE("bbr: an expired min RTT sends it to ProbeRTT, which re-measures and returns") {
  Driver d;
  d.settle();
  // Ten seconds of slightly higher RTT samples: the 30 ms minimum expires.
  while (d.cc.mode() != Bbr::Mode::kProbeRtt && d.now < kT0 + 12s) {
    d.round(Driver::kBw, 32ms, 40000);
  }
  REQUIRE(d.cc.mode() == Bbr::Mode::kProbeRtt);
  CHECK(d.now >= kT0 + kBbrMinRttWindow);
  CHECK(d.cc.window() == kBbrMinWindow);
  // In flight drains to the minimum window, then ProbeRTT dwells for its duration and a round.
  const util::TimePoint start = d.now;
  while (d.cc.mode() == Bbr::Mode::kProbeRtt && d.now < start + 2s) {
    d.round(Driver::kBw, 32ms, kBbrMinWindow);
  }
  CHECK(d.cc.mode() == Bbr::Mode::kProbeBw);
  CHECK(d.now - start >= kBbrProbeRttDuration);
  CHECK(d.cc.min_rtt() == 32ms);
  CHECK(d.cc.window() > kBbrMinWindow);
}

TEST_CASE("bbr: reset returns to Startup without a model") {
  Driver d;
  d.settle();
  d.cc.on_persistent_congestion();
  d.cc.reset();
  CHECK(d.cc.mode() == Bbr::Mode::kStartup);
  CHECK(d.cc.bandwidth() == 0);
  CHECK(d.cc.min_rtt() == util::Duration{0});
  CHECK(d.cc.window() == kInitialWindow);
}

}  // namespace punch::transport

namespace punch::transport {

TEST_CASE("bbr: the minimum window holds four datagrams of the size in use") {
  Bbr cc;
  CHECK(cc.window() == kInitialWindow);
  cc.set_max_datagram(16384);
  cc.on_persistent_congestion();
  CHECK(cc.window() == 4 * 16384);
  cc.reset();
  CHECK(cc.window() == 4 * 16384);  // Above the initial window of two datagrams.
}

TEST_CASE("bbr: the ACK-aggregation allowance follows bursts, not a smooth ACK stream") {
  constexpr double kBw = 1.25e6;  // 10 Mbit/s
  constexpr auto kRtt = 30ms;
  // Smooth: an ACK every 1.2 kB, spaced at 96 % of the bandwidth (a real ACK
  // stream runs below the max-filtered bandwidth, so each epoch soon ends).
  Driver smooth;
  smooth.settle();
  const util::Duration spacing = std::chrono::microseconds(1000);
  for (int i = 0; i < 2000; ++i) {
    RateSample rs;
    rs.prior_delivered = smooth.delivered;
    smooth.delivered += 1200;
    rs.total_delivered = smooth.delivered;
    rs.delivered = 1200;
    rs.delivery_rate = kBw;
    rs.interval = kRtt;
    rs.rtt = kRtt;
    rs.newly_acked = 1200;
    rs.acked_packets = 1;
    rs.prior_in_flight = 40000;
    rs.bytes_in_flight = 40000;
    smooth.now += spacing;
    smooth.cc.on_ack_sample(rs, smooth.now);
  }
  // Bursty: the same bandwidth acknowledged 12 kB at a time, every 9.6 ms.
  Driver bursty;
  bursty.settle();
  for (int i = 0; i < 200; ++i) bursty.round(kBw, 9600us, 40000, 0, 12000);
  MESSAGE("aggregation allowance: smooth " << smooth.cc.aggregation_window() << " B, bursty "
                                           << bursty.cc.aggregation_window() << " B");
  // Filter halves rotate every kBbrExtraAckedRounds rounds, so Startup's bursts are gone.
  CHECK(smooth.cc.aggregation_window() <= 2 * 1200);
  CHECK(bursty.cc.aggregation_window() >= 12000);
  // The window holds the burst on top of gain x BDP.
  CHECK(bursty.cc.window() >=
        static_cast<std::uint64_t>(kBbrCwndGain * static_cast<double>(bursty.cc.bdp())) +
            bursty.cc.aggregation_window());
  // Never more than 100 ms at the bottleneck rate, however bursty.
  Driver extreme;
  extreme.settle();
  for (int i = 0; i < 50; ++i) extreme.round(kBw, 1s, 40000, 0, 1250000);
  CHECK(extreme.cc.aggregation_window() <=
        static_cast<std::uint64_t>(extreme.cc.bandwidth() * 0.1) + 1);
  // A new path forgets it.
  bursty.cc.reset();
  CHECK(bursty.cc.aggregation_window() == 0);
}

}  // namespace punch::transport
