#include "transport/sent_packet_tracker.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "test_time.hpp"
#include "transport/constants.hpp"
#include "transport/new_reno.hpp"

namespace punch::transport {
namespace {

using testing::kT0;

struct LossRecorder final : LossListener {
  void on_packet_acked(const SentPacket& p) override { acked.push_back(p.packet_number); }
  void on_packet_lost(const SentPacket& p) override { lost.push_back(p.packet_number); }
  std::vector<std::uint64_t> acked;
  std::vector<std::uint64_t> lost;
};

struct TrackerFixture {
  RttEstimator rtt;
  NewReno cc;
  SentPacketTracker t{rtt, cc};
  LossRecorder rec;

  void send(util::TimePoint at, bool eliciting = true, std::uint32_t bytes = 1200) {
    SentPacket p;
    p.packet_number = t.next_packet_number();
    p.time_sent = at;
    p.bytes = bytes;
    p.ack_eliciting = eliciting;
    p.frames.push_back({SentFrameKind::kStream, false, 0, p.packet_number * 1000, 1000});
    t.on_packet_sent(std::move(p));
  }
  util::Status ack(std::vector<AckRange> ranges, util::TimePoint now,
                   util::Duration delay = util::Duration{0}) {
    AckFrame f;
    f.ranges = std::move(ranges);
    return t.on_ack_received(f, delay, now, rec);
  }
};

}  // namespace

TEST_CASE("sent_packet_tracker: acknowledgement updates RTT and bytes in flight") {
  TrackerFixture f;
  f.send(kT0);
  f.send(kT0);
  f.send(kT0, false, 50);  // ACK-only: not in flight.
  CHECK(f.t.bytes_in_flight() == 2400);
  REQUIRE(f.ack({{0, 1}}, kT0 + 100ms, 5ms).ok());
  CHECK(f.rec.acked == std::vector<std::uint64_t>{0, 1});
  CHECK(f.t.bytes_in_flight() == 0);
  CHECK(f.rtt.has_sample());
  CHECK(f.rtt.smoothed() == 100ms);        // The first sample ignores the ACK delay.
  CHECK(f.cc.window() == kInitialWindow);  // 2 packets in flight: application-limited.
  // Acknowledging the same packets again changes nothing.
  REQUIRE(f.ack({{0, 1}}, kT0 + 200ms).ok());
  CHECK(f.rec.acked.size() == 2);
  CHECK(f.rtt.smoothed() == 100ms);
}

TEST_CASE("sent_packet_tracker: an ACK of a packet never sent is an error") {
  TrackerFixture f;
  f.send(kT0);
  CHECK_FALSE(f.ack({{0, 1}}, kT0 + 10ms).ok());
  CHECK(f.ack({{0, 0}}, kT0 + 10ms).ok());
}

TEST_CASE("sent_packet_tracker: packet threshold, then time threshold") {
  TrackerFixture f;
  for (int i = 0; i < 6; ++i) f.send(kT0 + i * 1ms);
  // Packet 5 acknowledged: 0, 1, 2 are 3+ behind it and lost; 3 and 4 wait for the timer.
  REQUIRE(f.ack({{5, 5}}, kT0 + 100ms).ok());
  CHECK(f.rec.lost == std::vector<std::uint64_t>{0, 1, 2});
  CHECK(f.t.packets_lost() == 3);
  CHECK(f.cc.window() == kInitialWindow / 2);
  // The loss timer is 9/8 of the RTT (95 ms sample) after packet 3 was sent.
  const util::TimePoint expected = kT0 + 3ms + f.rtt.loss_delay();
  CHECK(f.t.deadline() == expected);
  CHECK(f.t.on_timeout(expected - 1us, f.rec) == SentPacketTracker::TimeoutResult::kNone);
  CHECK(f.t.on_timeout(expected, f.rec) == SentPacketTracker::TimeoutResult::kLossDetected);
  CHECK(f.rec.lost == std::vector<std::uint64_t>{0, 1, 2, 3});
  // Packet 4 goes at its own time.
  CHECK(f.t.deadline() == kT0 + 4ms + f.rtt.loss_delay());
  f.t.on_timeout(f.t.deadline(), f.rec);
  CHECK(f.rec.lost == std::vector<std::uint64_t>{0, 1, 2, 3, 4});
  CHECK(f.t.bytes_in_flight() == 0);
  CHECK(f.t.deadline() == util::kNever);
  // One recovery period: the window was cut once.
  CHECK(f.cc.window() == kInitialWindow / 2);
}

TEST_CASE("sent_packet_tracker: a late ACK of lost packets reveals reordering") {
  TrackerFixture f;
  for (int i = 0; i < 5; ++i) f.send(kT0);
  REQUIRE(f.ack({{4, 4}}, kT0 + 50ms).ok());
  CHECK(f.rec.lost == std::vector<std::uint64_t>{0, 1});
  CHECK(f.t.packet_threshold() == kPacketThreshold);
  // They arrive after all: reported (so their requeued frames need not go again), not in
  // flight twice, and the thresholds grow to the reordering seen (packet 0 was 4 behind).
  REQUIRE(f.ack({{0, 4}}, kT0 + 60ms).ok());
  CHECK(f.rec.acked == std::vector<std::uint64_t>{4, 0, 1, 2, 3});
  CHECK(f.t.bytes_in_flight() == 0);
  CHECK(f.t.spurious_losses() == 2);
  CHECK(f.t.packet_threshold() == 5);
  CHECK(f.t.time_threshold() == kTimeThresholdNumerator + 2);
  // Now a packet 4 behind the largest acknowledged is not lost yet.
  for (int i = 0; i < 5; ++i) f.send(kT0 + 61ms);  // 5..9
  REQUIRE(f.ack({{9, 9}}, kT0 + 62ms).ok());
  CHECK(f.rec.lost == std::vector<std::uint64_t>{0, 1});
  REQUIRE(f.ack({{5, 9}}, kT0 + 63ms).ok());
  CHECK(f.t.spurious_losses() == 2);
  f.t.reset_reordering();
  CHECK(f.t.packet_threshold() == kPacketThreshold);
  CHECK(f.t.time_threshold() == kTimeThresholdNumerator);
}

TEST_CASE("sent_packet_tracker: lost packets are forgotten a PTO period after their loss") {
  TrackerFixture f;
  for (int i = 0; i < 5; ++i) f.send(kT0);
  REQUIRE(f.ack({{4, 4}}, kT0 + 50ms).ok());
  CHECK(f.t.tracked_packets() == 5);  // 0 and 1 lost but kept, so everything after too.
  REQUIRE(f.ack({{2, 3}}, kT0 + 51ms).ok());
  CHECK(f.t.tracked_packets() == 5);
  f.send(kT0 + 50ms + f.rtt.pto_base() + kMaxAckDelay);
  CHECK(f.t.tracked_packets() == 1);        // Only the new one.
  REQUIRE(f.ack({{0, 1}}, kT0 + 2s).ok());  // Too late to matter: ignored.
  CHECK(f.t.spurious_losses() == 0);
}

TEST_CASE("sent_packet_tracker: PTO fires with exponential backoff, capped at kMaxPtoPeriod") {
  TrackerFixture f;
  f.rtt.update(10ms, util::Duration{0}, kT0 - 1s);
  f.send(kT0);
  const util::Duration period = f.rtt.pto_base() + kMaxAckDelay;  // 10 + 20 + 25 ms
  CHECK(f.t.deadline() == kT0 + period);
  CHECK(f.t.on_timeout(kT0 + period - 1ms, f.rec) == SentPacketTracker::TimeoutResult::kNone);
  CHECK(f.t.on_timeout(kT0 + period, f.rec) == SentPacketTracker::TimeoutResult::kProbe);
  CHECK(f.t.pto_count() == 1);
  f.send(kT0 + period);  // The probe.
  CHECK(f.t.deadline() == kT0 + period + 2 * period);
  CHECK(f.t.on_timeout(kT0 + 3 * period, f.rec) == SentPacketTracker::TimeoutResult::kProbe);
  CHECK(f.t.deadline() == kT0 + period + 4 * period);
  // 32 periods (1.76 s) would exceed the cap: an outage that ends is noticed within it.
  CHECK(f.t.on_timeout(kT0 + 5 * period, f.rec) == SentPacketTracker::TimeoutResult::kProbe);
  CHECK(f.t.deadline() == kT0 + period + 8 * period);
  CHECK(f.t.on_timeout(kT0 + 9 * period, f.rec) == SentPacketTracker::TimeoutResult::kProbe);
  CHECK(f.t.deadline() == kT0 + period + 16 * period);
  CHECK(f.t.on_timeout(kT0 + 17 * period, f.rec) == SentPacketTracker::TimeoutResult::kProbe);
  CHECK(f.t.deadline() == kT0 + period + kMaxPtoPeriod);
  std::vector<std::uint64_t> oldest;
  f.t.for_oldest_in_flight(1, [&](const SentPacket& p) { oldest.push_back(p.packet_number); });
  CHECK(oldest == std::vector<std::uint64_t>{0});
  // An acknowledgement resets the backoff.
  REQUIRE(f.ack({{1, 1}}, kT0 + 20 * period).ok());
  CHECK(f.t.pto_count() == 0);
}

TEST_CASE(
    "sent_packet_tracker: losses spanning the persistent congestion period collapse the window") {
  TrackerFixture f;
  f.send(kT0);
  REQUIRE(f.ack({{0, 0}}, kT0 + 20ms).ok());  // RTT sample: 20 ms, PTO ~ 20 + 40 + 25 ms.
  for (int i = 0; i < 10; ++i) f.send(kT0 + 30ms + i * 100ms);  // Over 900 ms: > 3 PTOs.
  f.send(kT0 + 1100ms);
  REQUIRE(f.ack({{11, 11}}, kT0 + 1120ms).ok());
  CHECK(f.rec.lost.size() == 10);
  // Collapsed to the minimum, then (as in RFC 9002's order) slow start counts packet 11.
  CHECK(f.cc.window() == kMinimumWindow + 1200);
}

TEST_CASE("sent_packet_tracker: tracked packets stay bounded as ACKs arrive") {
  TrackerFixture f;
  util::TimePoint now = kT0;
  for (int round = 0; round < 100; ++round) {
    const std::uint64_t first = f.t.next_packet_number();
    for (int i = 0; i < 10; ++i) f.send(now);
    now += 10ms;
    REQUIRE(f.ack({{first, first + 9}}, now).ok());
  }
  CHECK(f.t.tracked_packets() == 0);
  CHECK(f.t.bytes_in_flight() == 0);
}

}  // namespace punch::transport

namespace punch::transport {

TEST_CASE("sent_packet_tracker: a lost MTU probe leaves the controller and loss count alone") {
  TrackerFixture f;
  f.send(kT0);
  REQUIRE(f.ack({{0, 0}}, kT0 + 10ms).ok());
  f.cc.on_congestion_event(kT0, kT0);  // Leave slow start, so the window shows any halving.
  const std::uint64_t window = f.cc.window();
  SentPacket probe;
  probe.packet_number = f.t.next_packet_number();
  probe.time_sent = kT0 + 20ms;
  probe.bytes = 8918;
  probe.ack_eliciting = true;
  probe.mtu_probe = true;
  f.t.on_packet_sent(std::move(probe));
  CHECK(f.t.bytes_in_flight() == 8918);  // Probes count in flight while they are out.
  for (int i = 0; i < 3; ++i) f.send(kT0 + 20ms);
  REQUIRE(f.ack({{2, 4}}, kT0 + 30ms).ok());
  CHECK(f.rec.lost == std::vector<std::uint64_t>{1});  // The listener still hears of it.
  CHECK(f.t.packets_lost() == 0);
  CHECK(f.t.probes_lost() == 1);
  CHECK(f.t.bytes_in_flight() == 0);
  CHECK(f.cc.window() >= window);
  // A late acknowledgement of the probe teaches nothing about reordering.
  REQUIRE(f.ack({{1, 1}}, kT0 + 31ms).ok());
  CHECK(f.t.spurious_losses() == 0);
  CHECK(f.t.packet_threshold() == kPacketThreshold);
}

}  // namespace punch::transport
