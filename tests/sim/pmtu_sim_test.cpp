// Datagram packetization-layer PMTU discovery (RFC 8899, simplified) on the simulator:
// links with an MTU drop bigger datagrams as a router drops DF packets, and the sender
// must settle at the largest probe size the path carries, lose no data on the way, not
// take lost probes for congestion, and start over (or fall back) when the path changes.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "sim/connection_pair.hpp"
#include "sim/sim_app.hpp"
#include "transport/constants.hpp"
#include "transport/frame.hpp"

namespace punch::sim {
namespace {

using transport::CongestionAlgorithm;
using transport::kBaseDatagramSize;
using transport::StreamId;
using namespace std::chrono_literals;

// What the session adds to a payload (protected header and AEAD tag), so that the
// simulated sizes are the real binary's.
constexpr std::size_t kOverhead = 34;
constexpr std::size_t kCeiling = transport::kMaxProbeDatagramSize - kOverhead;
// IP MTUs of the paths (the link counts 28 bytes of IPv4 and UDP headers on top).
constexpr std::size_t kEthernetMtu = 1500;
constexpr std::size_t kJumboMtu = 9000;

// A 100 Mbit/s, 20 ms RTT path with an MTU (0: unlimited) and a queue of 256 KiB.
PairConfig mtu_path(std::size_t mtu, std::uint64_t seed = 1) {
  PairConfig c;
  c.seed = seed;
  c.max_payload = kCeiling;
  c.datagram_overhead = kOverhead;
  c.a_to_b.delay = 10ms;
  c.a_to_b.rate_bytes_per_second = 12.5e6;
  c.a_to_b.queue_bytes = 256 * 1024;
  c.a_to_b.mtu = mtu;
  c.b_to_a = c.a_to_b;
  return c;
}

// True for a payload that is an MTU probe: PING, then PADDING only.
bool is_probe(util::ByteView payload) {
  if (payload.size() <= kBaseDatagramSize - kOverhead || payload[0] != 0x01) return false;
  for (std::size_t i = 1; i < payload.size(); ++i) {
    if (payload[i] != 0x00) return false;
  }
  return true;
}

struct Run {
  bool done = false;
  bool intact = false;
  transport::Stats sender;
  LinkStats forward;
  std::size_t oversize = 0;      // Non-probe packets above the size validated then.
  std::size_t largest_data = 0;  // Largest non-probe payload sent by a.
  bool window_shrank = false;    // The sender's window ever went down.
  double seconds = 0;
};

// Moves `size` bytes from a to b; `setup` may schedule path changes.
Run transfer(const PairConfig& config, std::size_t size, util::Duration budget,
             const std::function<void(ConnectionPair&)>& setup = {}) {
  ConnectionPair p(config);
  Endpoint a(p.a());
  Endpoint b(p.b());
  a.keep_events = false;
  b.keep_events = false;
  Run r;
  std::uint64_t last_window = 0;
  p.set_app([&] {
    a.step();
    b.step();
    const std::uint64_t w = p.a().stats().congestion_window;
    r.window_shrank = r.window_shrank || w < last_window;
    last_window = w;
  });
  p.sim().set_observer([&](const Observed& o) {
    if (o.delivered || o.from != 0 || is_probe(o.payload)) return;
    r.largest_data = std::max(r.largest_data, o.payload.size());
    if (o.payload.size() + kOverhead > p.a().stats().max_datagram) ++r.oversize;
  });
  if (setup) setup(p);
  const util::Bytes data = pattern(size, config.seed);
  const StreamId id = p.a().open_stream();
  b.in(id).data.reserve(size);
  a.send(id, data);
  r.done = p.run_until([&] { return b.complete(id, size); }, budget);
  CHECK_FALSE(p.cap_hit());
  // A little longer, so that the last probes are resolved too.
  p.run_for(200ms);
  r.intact = b.in(id).data == data;
  r.sender = p.a().stats();
  r.forward = p.a_to_b().stats();
  r.seconds = std::chrono::duration<double>(p.elapsed()).count();
  MESSAGE("max_datagram " << r.sender.max_datagram << ", probes sent/lost "
                          << r.sender.mtu_probes_sent << "/" << r.sender.mtu_probes_lost
                          << ", packets " << r.sender.packets_sent << " lost "
                          << r.sender.packets_lost << ", link MTU drops " << r.forward.dropped_mtu
                          << ", " << r.seconds << " s");
  return r;
}

std::size_t transfer_size() { return seeds(8, 2) * 1000 * 1000; }
// Transfers with a path change at 300 ms must still be running then, sanitized or not.
constexpr std::size_t kPathChangeTransfer = 8 * 1000 * 1000;

}  // namespace

TEST_CASE("sim pmtu: the sender settles at the largest size the path MTU carries") {
  struct Case {
    const char* name;
    std::size_t mtu;
    std::size_t expected;
  };
  const Case cases[] = {
      {"Ethernet 1500", kEthernetMtu, 1452},
      {"jumbo 9000", kJumboMtu, 8952},
      {"unlimited", 0, 16384},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const Run r = transfer(mtu_path(c.mtu), transfer_size(), 10s);
    CHECK(r.done);
    CHECK(r.intact);
    CHECK(r.sender.max_datagram == c.expected);
    CHECK(r.largest_data + kOverhead == c.expected);
    // Only probes ever exceed the path: no data packet was too big for it.
    CHECK(r.oversize == 0);
    CHECK(r.forward.dropped_mtu == r.sender.mtu_probes_lost);
    // The size that failed was tried kMaxProbeAttempts times, then the search stopped.
    CHECK(r.sender.mtu_probes_lost == (c.mtu == 0 ? 0 : transport::kMaxProbeAttempts));
  }
}

TEST_CASE("sim pmtu: no probe above the ceiling the caller passes, none without overhead") {
  PairConfig c = mtu_path(0);
  c.max_payload = 8952 - kOverhead;  // The caller can protect no more than 8952-byte datagrams.
  Run r = transfer(c, transfer_size() / 4, 10s);
  CHECK(r.intact);
  CHECK(r.sender.max_datagram == 8952);
  CHECK(r.sender.mtu_probes_lost == 0);

  c.max_payload = 1166;  // The old fixed budget: nothing to probe for.
  c.datagram_overhead = 0;
  r = transfer(c, transfer_size() / 4, 10s);
  CHECK(r.intact);
  CHECK(r.sender.max_datagram == kBaseDatagramSize);
  CHECK(r.sender.mtu_probes_sent == 0);
  CHECK(r.largest_data == 1166);
}

TEST_CASE("sim pmtu: lost probes are not congestion: the window never shrinks for them") {
  // An unlimited rate and queue: the only losses are the probes the MTU drops, so a
  // loss-based controller would halve its window for each if they counted.
  for (const auto algorithm : {CongestionAlgorithm::kNewReno, CongestionAlgorithm::kBbr}) {
    CAPTURE(static_cast<int>(algorithm));
    PairConfig c = mtu_path(kEthernetMtu);
    c.algorithm = algorithm;
    c.a_to_b.rate_bytes_per_second = 0;
    c.b_to_a.rate_bytes_per_second = 0;
    const Run r = transfer(c, transfer_size(), 10s);
    CHECK(r.intact);
    CHECK(r.sender.mtu_probes_lost == transport::kMaxProbeAttempts);
    CHECK(r.sender.packets_lost == 0);
    if (algorithm == CongestionAlgorithm::kNewReno) CHECK_FALSE(r.window_shrank);
  }
}

TEST_CASE("sim pmtu: reset_path to a smaller MTU goes back to the base size and re-probes") {
  std::uint64_t after_reset = 0;
  const Run r = transfer(mtu_path(0), kPathChangeTransfer, 20s, [&](ConnectionPair& p) {
    p.sim().at(kSimEpoch + 300ms, [&p, &after_reset] {
      REQUIRE(p.a().stats().max_datagram == 16384);
      LinkConfig l = p.a_to_b().config();
      l.mtu = kEthernetMtu;
      l.delay = 25ms;
      p.a_to_b().set_config(l);
      p.b_to_a().set_config(l);
      p.a().reset_path(p.now());
      p.b().reset_path(p.now());
      after_reset = p.a().stats().max_datagram;
    });
  });
  CHECK(r.done);
  CHECK(r.intact);
  CHECK(after_reset == kBaseDatagramSize);
  CHECK(r.sender.max_datagram == 1452);
}

TEST_CASE("sim pmtu: a black hole for big datagrams falls back to the base size") {
  // The MTU shrinks under the connection without a reset_path (a route change): the big
  // packets vanish, PTOs follow, and the sender must fall back rather than stall.
  const Run r = transfer(mtu_path(0), kPathChangeTransfer, 30s, [](ConnectionPair& p) {
    p.sim().at(kSimEpoch + 300ms, [&p] {
      LinkConfig l = p.a_to_b().config();
      l.mtu = kEthernetMtu;
      p.a_to_b().set_config(l);
      p.b_to_a().set_config(l);
    });
  });
  CHECK(r.done);
  CHECK(r.intact);
  CHECK(r.sender.max_datagram <= 1452);
}

}  // namespace punch::sim
