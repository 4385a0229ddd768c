#include "transport/rate_sampler.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "test_time.hpp"

namespace punch::transport {
namespace {

using namespace std::chrono_literals;
using testing::kT0;

struct Sent {
  DeliveryState state;
  util::TimePoint time;
};

}  // namespace

TEST_CASE("rate_sampler: a steady flow samples the rate it is acknowledged at") {
  RateSampler s;
  std::vector<Sent> sent;
  std::uint64_t in_flight = 0;
  // 1200 bytes every millisecond, each acknowledged 30 ms after it left: 1.2 MB/s.
  RateSample last;
  for (int i = 0; i < 200; ++i) {
    const util::TimePoint now = kT0 + i * 1ms;
    const int acked = i - 30;
    if (acked >= 0) {
      s.begin_ack(in_flight);
      s.on_packet_delivered(sent[acked].state, sent[acked].time, 1200, now);
      in_flight -= 1200;
      last = s.end_ack(now, 30ms, in_flight);
    }
    sent.push_back({s.on_packet_sent(now, in_flight), now});
    in_flight += 1200;
  }
  CHECK(last.delivery_rate == doctest::Approx(1.2e6).epsilon(0.05));
  CHECK(last.rtt == 30ms);
  CHECK(last.newly_acked == 1200);
  CHECK(last.acked_packets == 1);
  CHECK_FALSE(last.app_limited);
  CHECK(s.delivered() == 170 * 1200);
}

TEST_CASE("rate_sampler: intervals shorter than the min RTT yield no rate") {
  RateSampler s;
  const DeliveryState a = s.on_packet_sent(kT0, 0);
  s.begin_ack(1200);
  s.on_packet_delivered(a, kT0, 1200, kT0 + 10ms);
  const RateSample rs = s.end_ack(kT0 + 10ms, 20ms, 0);
  CHECK(rs.delivery_rate == 0);
  CHECK(rs.newly_acked == 1200);
  CHECK(rs.rtt == 10ms);
}

TEST_CASE("rate_sampler: samples taken while app-limited are marked until the gap is delivered") {
  RateSampler s;
  const DeliveryState a = s.on_packet_sent(kT0, 0);
  s.on_app_limited(1200);  // Nothing more to send with one packet out.
  CHECK(s.app_limited());
  const DeliveryState b = s.on_packet_sent(kT0 + 1ms, 1200);
  CHECK_FALSE(a.app_limited);
  CHECK(b.app_limited);
  s.begin_ack(2400);
  s.on_packet_delivered(a, kT0, 1200, kT0 + 30ms);
  CHECK_FALSE(s.end_ack(kT0 + 30ms, 1ms, 1200).app_limited);
  s.begin_ack(1200);
  s.on_packet_delivered(b, kT0 + 1ms, 1200, kT0 + 31ms);
  const RateSample rs = s.end_ack(kT0 + 31ms, 1ms, 0);
  CHECK(rs.app_limited);
  CHECK_FALSE(s.app_limited());  // Everything in flight then is delivered now.
}

TEST_CASE("rate_sampler: losses are reported once, with the next sample") {
  RateSampler s;
  const DeliveryState a = s.on_packet_sent(kT0, 0);
  s.on_packet_sent(kT0, 1200);
  s.on_packet_lost(1200);
  s.begin_ack(1200);
  s.on_packet_delivered(a, kT0, 1200, kT0 + 30ms);
  const RateSample rs = s.end_ack(kT0 + 30ms, 1ms, 0);
  CHECK(rs.lost_packets == 1);
  CHECK(rs.newly_lost == 1200);
  s.begin_ack(0);
  const RateSample next = s.end_ack(kT0 + 31ms, 1ms, 0);
  CHECK(next.lost_packets == 0);
  CHECK(next.acked_packets == 0);
}

}  // namespace punch::transport
