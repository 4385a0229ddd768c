// The router model on raw datagrams: each NAT type maps and filters as its nftables
// rule does on Linux, entries expire as conntrack's do, and an unsolicited inbound
// datagram poisons the port a later outbound flow would have kept (LAB.md trap 1).
// Hole-punching tests trust these behaviours, so each one is pinned here.
#include "sim/sim_nat.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "sim/sim_link.hpp"

namespace punch::sim {
namespace {

using namespace std::chrono_literals;
using util::Address;

const Address kWan = Address::v4(203, 0, 113, 1, 0);
const Address kLan = Address::v4(198, 51, 100, 10, 5000);
const Address kServer = Address::v4(192, 0, 2, 1, 3478);
const Address kOther = Address::v4(192, 0, 2, 2, 4000);
const Address kPeer = Address::v4(203, 0, 113, 2, 6000);

Nat make(NatType type, std::uint64_t seed = 1) {
  NatConfig c;
  c.type = type;
  c.wan = kWan;
  c.seed = seed;
  if (type == NatType::kPool) {
    for (std::uint8_t i = 0; i < 4; ++i) c.pool.push_back(Address::v4(203, 0, 113, 100 + i, 0));
  }
  return Nat(c);
}

Address at_port(Address a, std::uint16_t port) {
  a.port = port;
  return a;
}

}  // namespace

TEST_CASE("sim_nat: easy keeps the source port, shares it across destinations, filters by port") {
  Nat nat = make(NatType::kEasy);
  const util::TimePoint t = kSimEpoch;
  const auto to_server = nat.outbound(kLan, kServer, t);
  const auto to_other = nat.outbound(kLan, kOther, t);
  REQUIRE(to_server);
  REQUIRE(to_other);
  CHECK(*to_server == at_port(kWan, 5000));
  CHECK(*to_other == *to_server);  // Endpoint-independent mapping.
  CHECK(nat.stats().translated == 2);
  CHECK(nat.stats().clashes == 0);

  // Replies from exactly the contacted address and port come back to the host.
  CHECK(nat.inbound(kServer, *to_server, t) == kLan);
  CHECK(nat.inbound(kOther, *to_server, t) == kLan);
  // Address-and-port-dependent filtering: another port of a contacted address, or an
  // address never contacted, reaches the router itself and no host.
  CHECK_FALSE(nat.inbound(at_port(kServer, 3479), *to_server, t));
  CHECK_FALSE(nat.inbound(kPeer, *to_server, t));
  CHECK(nat.stats().dropped_local == 2);
}

TEST_CASE("sim_nat: hard and pool give each destination its own random port") {
  for (const NatType type : {NatType::kHard, NatType::kPool}) {
    CAPTURE(to_string(type));
    Nat nat = make(type);
    const util::TimePoint t = kSimEpoch;
    std::set<std::uint16_t> ports;
    std::set<Address> ips;
    for (std::uint8_t d = 1; d <= 16; ++d) {
      const Address dst = Address::v4(192, 0, 2, d, 3478);
      const auto ext = nat.outbound(kLan, dst, t);
      REQUIRE(ext);
      CHECK(ext->port != kLan.port);  // Fully random never tries the source port.
      ports.insert(ext->port);
      ips.insert(at_port(*ext, 0));
      CHECK(nat.owns(*ext));
      // The same flow keeps its mapping.
      CHECK(nat.outbound(kLan, dst, t) == ext);
      CHECK(nat.inbound(dst, *ext, t) == kLan);
    }
    CHECK(ports.size() == 16);
    if (type == NatType::kHard) {
      CHECK(ips == std::set<Address>{kWan});
    } else {
      CHECK_FALSE(ips.contains(kWan));  // Only pool addresses.
      CHECK(ips.size() > 1);
    }
    // One destination's mapping does not admit another destination.
    const auto first = nat.mapping(kLan, Address::v4(192, 0, 2, 1, 3478));
    REQUIRE(first);
    CHECK_FALSE(nat.inbound(Address::v4(192, 0, 2, 2, 3478), *first, t));
  }
}

TEST_CASE("sim_nat: a pool picks its address by source and destination IP, as Linux hashes") {
  Nat nat = make(NatType::kPool);
  const util::TimePoint t = kSimEpoch;
  const auto a = nat.outbound(kLan, kServer, t);
  const auto b = nat.outbound(kLan, at_port(kServer, 9999), t);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(at_port(*a, 0) == at_port(*b, 0));
  CHECK(a->port != b->port);
}

TEST_CASE("sim_nat: a firewall does not translate and drops unsolicited inbound without an entry") {
  Nat nat = make(NatType::kFirewall);
  const util::TimePoint t = kSimEpoch;
  const Address host = Address::v4(203, 0, 113, 50, 5000);
  CHECK_FALSE(nat.inbound(kPeer, host, t));
  CHECK(nat.entries().empty());
  CHECK(nat.stats().dropped_filter == 1);
  CHECK(nat.outbound(host, kServer, t) == host);
  CHECK(nat.stats().translated == 0);
  CHECK(nat.inbound(kServer, host, t) == host);
  CHECK_FALSE(nat.inbound(at_port(kServer, 1), host, t));
  // The earlier unsolicited datagram left nothing to clash with: the host's flow to
  // that peer is a plain new flow whose replies pass.
  CHECK(nat.outbound(host, kPeer, t) == host);
  CHECK(nat.inbound(kPeer, host, t) == host);
}

TEST_CASE("sim_nat: udpblock drops both ways, open forwards everything and keeps no state") {
  Nat block = make(NatType::kUdpBlock);
  CHECK_FALSE(block.outbound(kLan, kServer, kSimEpoch));
  CHECK_FALSE(block.inbound(kServer, at_port(kWan, 5000), kSimEpoch));
  CHECK(block.stats().dropped_filter == 2);
  Nat open = make(NatType::kOpen);
  const Address host = Address::v4(203, 0, 113, 50, 5000);
  CHECK(open.inbound(kPeer, host, kSimEpoch) == host);
  CHECK(open.outbound(host, kServer, kSimEpoch) == host);
  CHECK(open.entries().empty());
}

TEST_CASE("sim_nat: unreplied entries live udp_timeout, replied ones udp_timeout_stream") {
  Nat nat = make(NatType::kEasy);
  const util::TimePoint t0 = kSimEpoch;
  const Address other_lan = Address::v4(198, 51, 100, 11, 7000);
  const auto unreplied = nat.outbound(kLan, kServer, t0);
  const auto replied = nat.outbound(other_lan, kServer, t0);
  REQUIRE(unreplied);
  REQUIRE(replied);
  REQUIRE(nat.inbound(kServer, *replied, t0 + 1s) == other_lan);

  CHECK(nat.is_reply(kServer, *unreplied, t0 + 29s));
  CHECK_FALSE(nat.is_reply(kServer, *unreplied, t0 + 30s));
  CHECK_FALSE(nat.inbound(kServer, *unreplied, t0 + 30s));  // Expired: filtered.
  // Replied within its first 2 s, the flow still has the short timeout (Linux)...
  CHECK(nat.is_reply(kServer, *replied, t0 + 31s - 1ns));
  // ...until a packet passes after those 2 s: then the stream timeout applies.
  REQUIRE(nat.outbound(other_lan, kServer, t0 + 3s) == replied);
  CHECK(nat.inbound(kServer, *replied, t0 + 120s) == other_lan);  // Refreshed at 3 s.
  nat.expire(t0 + 240s - 1ns);
  CHECK(nat.mapping(other_lan, kServer));
  nat.expire(t0 + 240s);
  CHECK_FALSE(nat.mapping(other_lan, kServer));
  // A flow that goes quiet after a quick exchange dies after the short timeout.
  const Address third_lan = Address::v4(198, 51, 100, 12, 7000);
  const auto quick = nat.outbound(third_lan, kServer, t0 + 250s);
  REQUIRE(quick);
  REQUIRE(nat.inbound(kServer, *quick, t0 + 251s) == third_lan);
  nat.expire(t0 + 281s);
  CHECK_FALSE(nat.mapping(third_lan, kServer));

  // Each outbound datagram refreshes, and the timeouts are configurable.
  nat.set_timeouts(10s, 20s);
  const util::TimePoint t1 = t0 + 300s;
  REQUIRE(nat.outbound(kLan, kServer, t1));
  REQUIRE(nat.outbound(kLan, kServer, t1 + 8s));
  CHECK(nat.is_reply(kServer, at_port(kWan, 5000), t1 + 17s));
  CHECK_FALSE(nat.is_reply(kServer, at_port(kWan, 5000), t1 + 18s));
}

TEST_CASE("sim_nat: an unsolicited inbound datagram makes the later outbound flow clash") {
  Nat nat = make(NatType::kEasy);
  const util::TimePoint t = kSimEpoch;
  const auto to_server = nat.outbound(kLan, kServer, t);
  REQUIRE(to_server);
  REQUIRE(to_server->port == 5000);
  // The peer knocks on the host's public address before the host sent it anything.
  CHECK_FALSE(nat.inbound(kPeer, *to_server, t + 1ms));
  REQUIRE(nat.entries().size() == 2);
  // The host's flow to the peer would have reply tuple peer -> wan:5000, which is the
  // knock's original tuple: Linux moves it to another port.
  const auto to_peer = nat.outbound(kLan, kPeer, t + 2ms);
  REQUIRE(to_peer);
  CHECK(to_peer->port != 5000);
  CHECK(nat.stats().clashes == 1);
  CHECK(nat.entries().size() == 3);
  // Both keep sending for longer than udp_timeout: the peer's knocks on the old port
  // are dropped and keep the bad entry alive, so the clash never resolves itself.
  for (const auto at : {t + 20s, t + 40s}) {
    CHECK_FALSE(nat.inbound(kPeer, *to_server, at));
    CHECK(nat.outbound(kLan, kPeer, at) == to_peer);
  }
  nat.expire(t + 45s);
  CHECK(nat.entries().size() == 2);  // The knock's entry and the flow to the peer.
  // Only the new port answers the peer.
  CHECK(nat.inbound(kPeer, *to_peer, t + 45s) == kLan);
}

TEST_CASE("sim_nat: flush forgets mappings; rebind moves the next mapping to a new port") {
  Nat nat = make(NatType::kEasy);
  const util::TimePoint t = kSimEpoch;
  REQUIRE(nat.outbound(kLan, kServer, t) == at_port(kWan, 5000));
  nat.flush();
  CHECK(nat.entries().empty());
  CHECK_FALSE(nat.inbound(kServer, at_port(kWan, 5000), t));
  nat.flush();  // The knock's local entry goes too.
  CHECK(nat.outbound(kLan, kServer, t) == at_port(kWan, 5000));  // Same port again.
  nat.rebind();
  const auto rebound = nat.outbound(kLan, kServer, t);
  REQUIRE(rebound);
  CHECK(rebound->port != 5000);
  CHECK(nat.stats().clashes == 0);  // Not a clash: the old port is gone, not taken.
  CHECK_FALSE(nat.inbound(kServer, at_port(kWan, 5000), t));
  CHECK(nat.inbound(kServer, *rebound, t) == kLan);
  // Still endpoint-independent: the host's other flows share the new port.
  CHECK(nat.outbound(kLan, kOther, t) == rebound);
  // A hard NAT just draws new ports, never an old one.
  Nat hard = make(NatType::kHard);
  const auto old_port = hard.outbound(kLan, kServer, t);
  REQUIRE(old_port);
  hard.rebind();
  const auto new_port = hard.outbound(kLan, kServer, t);
  REQUIRE(new_port);
  CHECK(new_port != old_port);
}

}  // namespace punch::sim

namespace punch::sim {
namespace {

Nat make_ranged(NatType type, PortAllocation allocation, std::uint16_t first, std::uint16_t last,
                std::uint64_t seed = 1) {
  NatConfig c;
  c.type = type;
  c.wan = Address::v4(203, 0, 113, 1, 0);
  c.seed = seed;
  c.allocation = allocation;
  c.first_port = first;
  c.last_port = last;
  return Nat(c);
}

// The i-th of many destinations, all on other IPs and ports.
Address destination(int i) {
  return Address::v4(192, 0, 2, static_cast<std::uint8_t>(1 + i % 200),
                     static_cast<std::uint16_t>(4000 + i));
}

}  // namespace

TEST_CASE("sim_nat: sequential allocation takes the next port after the last, wrapping") {
  const Address lan = Address::v4(198, 51, 100, 10, 5000);
  for (const NatType type : {NatType::kHard, NatType::kPool}) {
    CAPTURE(to_string(type));
    // A range of ten ports: 25 flows from one socket to 25 destinations wrap twice.
    Nat nat = make_ranged(type, PortAllocation::kSequential, 40000, 40009, 7);
    std::vector<std::uint16_t> ports;
    for (int i = 0; i < 25; ++i) {
      const auto out = nat.outbound(lan, destination(i), kSimEpoch);
      REQUIRE(out);
      ports.push_back(out->port);
    }
    for (std::size_t i = 1; i < ports.size(); ++i) {
      CAPTURE(i);
      CHECK(ports[i] >= 40000);
      CHECK(ports[i] <= 40009);
      CHECK(ports[i] == (ports[i - 1] == 40009 ? 40000 : ports[i - 1] + 1));
    }
    // The start is the seed's, not the range's first port, for every seed alike.
    std::set<std::uint16_t> starts;
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
      Nat other = make_ranged(type, PortAllocation::kSequential, 40000, 40009, seed);
      starts.insert(other.outbound(lan, destination(0), kSimEpoch)->port);
    }
    CHECK(starts.size() > 1);
  }
}

TEST_CASE("sim_nat: sequential allocation skips a port whose reply tuple is taken") {
  const Address lan = Address::v4(198, 51, 100, 10, 5000);
  const Address wan = Address::v4(203, 0, 113, 1, 0);
  Nat nat = make_ranged(NatType::kHard, PortAllocation::kSequential, 1024, 65535, 3);
  const auto first = nat.outbound(lan, destination(0), kSimEpoch);
  REQUIRE(first);
  REQUIRE(first->port < 65000);  // No wrap in what follows (seed 3 starts low enough).
  // The peer's knock on the next port reaches the router itself and confirms an
  // entry (trap 1): the flow to that peer cannot have that port and takes the one
  // after it; the flow after that goes on from there.
  const Address peer = destination(1);
  Address knocked = wan;
  knocked.port = static_cast<std::uint16_t>(first->port + 1);
  CHECK_FALSE(nat.inbound(peer, knocked, kSimEpoch));
  const auto to_peer = nat.outbound(lan, peer, kSimEpoch);
  REQUIRE(to_peer);
  CHECK(to_peer->port == first->port + 2);
  const auto next = nat.outbound(lan, destination(2), kSimEpoch);
  REQUIRE(next);
  CHECK(next->port == first->port + 3);
  // Towards another destination the knocked port is free: only the tuple clashes.
  Nat fresh = make_ranged(NatType::kHard, PortAllocation::kSequential, 1024, 65535, 3);
  fresh.outbound(lan, destination(0), kSimEpoch);
  CHECK_FALSE(fresh.inbound(peer, knocked, kSimEpoch));
  CHECK(fresh.outbound(lan, destination(2), kSimEpoch)->port == first->port + 1);
}

TEST_CASE("sim_nat: a full range ends sequential allocation; random stays inside the range") {
  const Address lan = Address::v4(198, 51, 100, 10, 5000);
  const Address peer = destination(0);
  // Four ports, four flows from four LAN sockets to one destination: the fifth finds
  // every reply tuple taken and is dropped.
  Nat seq = make_ranged(NatType::kHard, PortAllocation::kSequential, 50000, 50003);
  std::set<std::uint16_t> used;
  for (std::uint16_t i = 0; i < 4; ++i) {
    Address src = lan;
    src.port = static_cast<std::uint16_t>(5000 + i);
    const auto out = seq.outbound(src, peer, kSimEpoch);
    REQUIRE(out);
    used.insert(out->port);
  }
  CHECK(used.size() == 4);
  Address fifth = lan;
  fifth.port = 5004;
  CHECK_FALSE(seq.outbound(fifth, peer, kSimEpoch));
  CHECK(seq.stats().dropped_filter == 1);

  Nat rnd = make_ranged(NatType::kHard, PortAllocation::kRandom, 2000, 2009);
  std::set<std::uint16_t> seen;
  for (int i = 0; i < 200; ++i) {
    const auto out = rnd.outbound(lan, destination(i), kSimEpoch);
    REQUIRE(out);
    CHECK(out->port >= 2000);
    CHECK(out->port <= 2009);
    seen.insert(out->port);
  }
  CHECK(seen.size() == 10);
  // Random draws are not sequential: consecutive flows rarely take consecutive ports.
  Nat wide = make_ranged(NatType::kHard, PortAllocation::kRandom, 1024, 65535);
  int consecutive = 0;
  std::uint16_t last = wide.outbound(lan, destination(0), kSimEpoch)->port;
  for (int i = 1; i < 100; ++i) {
    const std::uint16_t p = wide.outbound(lan, destination(i), kSimEpoch)->port;
    if (p == last + 1) ++consecutive;
    last = p;
  }
  CHECK(consecutive <= 1);
  CHECK(std::string(to_string(PortAllocation::kSequential)) == "sequential");
}

}  // namespace punch::sim
