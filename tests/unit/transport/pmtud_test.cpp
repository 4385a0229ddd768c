#include "transport/pmtud.hpp"

#include <doctest/doctest.h>

#include "test_time.hpp"
#include "transport/constants.hpp"

namespace punch::transport {
namespace {

using namespace std::chrono_literals;

using testing::kT0;
constexpr std::size_t kPacketOverhead = 34;
constexpr std::size_t kProbeCeiling = 16384 - kPacketOverhead;  // What the session can protect.
const ProbeGate kMeasured{false, true, 30ms};

PathMtuDiscovery searching() {
  PathMtuDiscovery p;
  p.set_overhead(kPacketOverhead);
  return p;
}

}  // namespace

TEST_CASE("pmtud: packets fill the validated size within the caller's ceiling") {
  PathMtuDiscovery p = searching();
  CHECK(p.datagram_size() == kBaseDatagramSize);
  CHECK(p.packet_payload(kProbeCeiling) == kBaseDatagramSize - kPacketOverhead);
  CHECK(p.packet_payload(500) == 500);
  CHECK(p.payload_for(20) == 0);
}

TEST_CASE("pmtud: a probe waits for an RTT sample, a quiet path and no PTO recovery") {
  PathMtuDiscovery p = searching();
  CHECK(p.probe_due(kT0, kProbeCeiling, ProbeGate{false, false, 30ms}) == 0);
  CHECK(p.probe_due(kT0, kProbeCeiling, ProbeGate{true, true, 30ms}) == 0);
  CHECK(p.probe_due(kT0, kProbeCeiling, kMeasured) == 1452);
  p.on_other_loss(kT0);
  CHECK(p.probe_due(kT0 + 59ms, kProbeCeiling, kMeasured) == 0);  // Two RTTs of quiet.
  CHECK(p.probe_due(kT0 + 60ms, kProbeCeiling, kMeasured) == 1452);
  // Never above what the caller can protect; without an overhead nothing fits a probe.
  CHECK(p.probe_due(kT0 + 60ms, 1452 - kPacketOverhead - 1, kMeasured) == 0);
  PathMtuDiscovery bare;
  CHECK(bare.probe_due(kT0, 1166, kMeasured) == 0);
}

TEST_CASE("pmtud: an acknowledged probe validates its size; one probe at a time") {
  PathMtuDiscovery p = searching();
  REQUIRE(p.probe_due(kT0, kProbeCeiling, kMeasured) == 1452);
  p.on_probe_sent(7);
  CHECK(p.probe_due(kT0, kProbeCeiling, kMeasured) == 0);  // In flight.
  CHECK(p.on_probe_acked(7, 1452 - kPacketOverhead));
  CHECK(p.datagram_size() == 1452);
  CHECK(p.probe_due(kT0, kProbeCeiling, kMeasured) == 8952);
  p.on_probe_sent(9);
  CHECK(p.on_probe_acked(9, 8952 - kPacketOverhead));
  CHECK(p.probe_due(kT0, kProbeCeiling, kMeasured) == 16384);
  p.on_probe_sent(11);
  CHECK(p.on_probe_acked(11, 16384 - kPacketOverhead));
  CHECK(p.datagram_size() == 16384);
  CHECK(p.probe_due(kT0, kProbeCeiling, kMeasured) == 0);     // The table is done.
  CHECK_FALSE(p.on_probe_acked(12, 1452 - kPacketOverhead));  // Never shrinks on an ACK.
}

TEST_CASE("pmtud: three lost probes end the search until the raise interval") {
  PathMtuDiscovery p = searching();
  for (std::uint64_t pn = 1; pn <= kMaxProbeAttempts; ++pn) {
    REQUIRE(p.probe_due(kT0, kProbeCeiling, kMeasured) == 1452);
    p.on_probe_sent(pn);
    p.on_probe_lost(pn, 1452 - kPacketOverhead, kT0);
  }
  CHECK(p.datagram_size() == kBaseDatagramSize);
  CHECK(p.probe_due(kT0, kProbeCeiling, kMeasured) == 0);
  CHECK(p.probe_due(kT0 + kProbeRaiseInterval - 1ms, kProbeCeiling, kMeasured) == 0);
  CHECK(p.probe_due(kT0 + kProbeRaiseInterval, kProbeCeiling, kMeasured) == 1452);
}

TEST_CASE("pmtud: PTOs in a row at a big size fall back to the base, then search later") {
  PathMtuDiscovery p = searching();
  p.on_probe_sent(1);
  REQUIRE(p.on_probe_acked(1, 1452 - kPacketOverhead));
  CHECK_FALSE(p.on_pto(kBlackHolePtos - 1, kT0));
  CHECK(p.on_pto(kBlackHolePtos, kT0));
  CHECK(p.datagram_size() == kBaseDatagramSize);
  CHECK_FALSE(p.on_pto(kBlackHolePtos + 1, kT0));  // Already at the base.
  CHECK(p.probe_due(kT0 + kBlackHoleHoldoff - 1ms, kProbeCeiling, kMeasured) == 0);
  CHECK(p.probe_due(kT0 + kBlackHoleHoldoff, kProbeCeiling, kMeasured) == 1452);
}

TEST_CASE("pmtud: after reset() probes of the old path count for nothing") {
  PathMtuDiscovery p = searching();
  p.on_probe_sent(3);
  REQUIRE(p.on_probe_acked(3, 1452 - kPacketOverhead));
  p.on_probe_sent(4);
  p.reset(kT0, 5);
  CHECK(p.datagram_size() == kBaseDatagramSize);
  CHECK_FALSE(p.on_probe_acked(4, 8952 - kPacketOverhead));
  CHECK(p.datagram_size() == kBaseDatagramSize);
  CHECK(p.probe_due(kT0, kProbeCeiling, kMeasured) ==
        1452);  // The old probe is no longer in flight.
  for (int i = 0; i < 5; ++i) p.on_probe_lost(4, 1452 - kPacketOverhead, kT0);  // Ignored too.
  CHECK(p.probe_due(kT0, kProbeCeiling, kMeasured) == 1452);
}

}  // namespace punch::transport
