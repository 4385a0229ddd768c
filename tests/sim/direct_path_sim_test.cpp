// The direct path of the real cores (path::PathManager inside session::Endpoint) on
// the address-level network: which pairs of routers it gets through, how long it
// takes, that its TTL-2 priming defuses LAB.md's trap 1, that it falls back to the
// relay when the direct path dies and returns when it heals, that it follows a NAT
// rebinding, and that --relay-only sends nothing but to the rendezvous.
#include <doctest/doctest.h>

#include <string>

#include "sim/sim_app.hpp"
#include "sim/sim_cores.hpp"
#include "test_time.hpp"

namespace punch::sim {
namespace {

using namespace std::chrono_literals;
using Kind = session::EndpointEvent::Kind;
using PathKind = path::PathEvent::Kind;

using punch::testing::ms;

// The reachability LAB.md's router types allow (sim_net_test.cpp checks the network
// gives exactly this to an ideal puncher): an open side answers anyone; firewalls and
// easy NATs meet once primed; an endpoint-dependent mapping (hard, pool) defeats any
// filtering router on the other side.
bool reachable(NatType x, NatType y) {
  if (x == NatType::kUdpBlock || y == NatType::kUdpBlock) return false;
  if (x == NatType::kOpen || y == NatType::kOpen) return true;
  auto cone = [](NatType t) { return t == NatType::kFirewall || t == NatType::kEasy; };
  return cone(x) && cone(y);
}

// True once both ends moved their session onto a direct path.
bool both_direct(const Cores& c) {
  return c.listener->first_path(PathKind::kSwitched, true) != nullptr &&
         c.connector->first_path(PathKind::kSwitched, true) != nullptr;
}

bool currently_direct(Cores& c, EndpointNode& n) {
  session::Session* s = n.endpoint().session(c.cid);
  return s != nullptr && s->direct();
}

}  // namespace

TEST_CASE("direct_path_sim: the cores go direct exactly where the two routers allow it") {
  const NatType types[] = {NatType::kOpen, NatType::kFirewall, NatType::kEasy, NatType::kHard,
                           NatType::kPool};
  for (const NatType lt : types) {
    for (const NatType ct : types) {
      CAPTURE(to_string(lt));
      CAPTURE(to_string(ct));
      CoresConfig cc;
      cc.listener_type = lt;
      cc.connector_type = ct;
      cc.seed = 31;
      Cores c(cc);
      c.bring_up();
      const util::TimePoint up = c.net->now();
      c.net->run_until([&] { return both_direct(c); }, 20s);
      const bool direct = both_direct(c);
      CHECK(direct == reachable(lt, ct));
      if (direct) {
        const util::Duration to_direct =
            std::max(c.listener->first_path(PathKind::kSwitched)->at,
                     c.connector->first_path(PathKind::kSwitched)->at) -
            up;
        MESSAGE(std::string(to_string(lt)), " listener, ", std::string(to_string(ct)),
                " connector: direct both ways ", ms(to_direct), " ms after session up");
        CHECK(to_direct < 2s);
      }
      // Bytes flow either way; on a direct path the relay carries almost none of them.
      const auto relayed_before = c.server->server().stats().relayed_bytes;
      const util::Bytes up_data = pattern(200'000, 7), down_data = pattern(200'000, 8);
      util::Bytes up_got, down_got;
      REQUIRE(c.transfer(up_data, down_data, up_got, down_got, 60s));
      CHECK(up_got == up_data);
      CHECK(down_got == down_data);
      const auto relayed = c.server->server().stats().relayed_bytes - relayed_before;
      if (direct) {
        CHECK(relayed < 20'000);
      } else {
        CHECK(relayed > 400'000);
      }
      CHECK_FALSE(c.listener->has(Kind::kSessionDown));
      CHECK_FALSE(c.connector->has(Kind::kSessionDown));
    }
  }
}

TEST_CASE("direct_path_sim: priming defuses trap 1 between two easy NATs: no clash, no knock") {
  for (std::uint64_t seed = 1; seed <= seeds(8, 3); ++seed) {
    CAPTURE(seed);
    CoresConfig cc;
    cc.seed = seed;
    Cores c(cc);
    c.bring_up();
    REQUIRE(c.net->run_until([&] { return both_direct(c); }, 20s));
    for (const SiteId s : {c.listener_site, c.connector_site}) {
      CHECK(c.net->site_stats(s).clashes == 0);
      // Every priming packet died at the core, never at the peer's router.
      CHECK(c.net->site_stats(s).dropped_local == 0);
    }
    CHECK(c.net->stats().core_dropped_ttl > 0);
    // Each side reached the other at the port the rendezvous saw: no mapping moved.
    const auto l_to_c =
        c.net->nat(c.listener_site)
            .mapping(c.listener->address(), c.connector->endpoint().reflexive_address());
    REQUIRE(l_to_c);
    CHECK(*l_to_c == c.listener->endpoint().reflexive_address());
  }
}

TEST_CASE("direct_path_sim: relay-only sessions send nothing but to the rendezvous") {
  CoresConfig cc;
  cc.path.relay_only = true;
  Cores c(cc);
  std::uint64_t elsewhere = 0;
  const util::Address rv = c.server->address();
  c.net->set_observer([&](const Trace& t) {
    if (t.kind == TraceKind::kSent && t.dst != rv && t.src != rv) ++elsewhere;
  });
  c.bring_up();
  util::Bytes up_got, down_got;
  REQUIRE(c.transfer(pattern(50'000, 1), pattern(50'000, 2), up_got, down_got, 60s));
  c.net->run_for(30s);
  CHECK(elsewhere == 0);
  CHECK_FALSE(c.listener->first_path(PathKind::kSwitched));
  CHECK(c.net->stats().core_dropped_ttl == 0);
}

TEST_CASE("direct_path_sim: a dead direct path falls back to the relay in time, and comes back") {
  CoresConfig cc;
  cc.seed = 3;
  Cores c(cc);
  c.bring_up();
  REQUIRE(c.net->run_until([&] { return both_direct(c); }, 20s));
  // The two sites lose each other (the relay still reaches both) in mid-transfer.
  const util::TimePoint cut = c.net->now() + 300ms;
  c.net->at(cut, [&] { c.net->block(c.listener_site, c.connector_site); });
  const util::Bytes up_data = pattern(300'000, 3), down_data = pattern(300'000, 4);
  util::Bytes up_got, down_got;
  REQUIRE(c.transfer(up_data, down_data, up_got, down_got, 60s));
  CHECK(up_got == up_data);
  CHECK(down_got == down_data);
  const TimedEvent* lc = c.connector->first_path(PathKind::kSwitched, false);
  const TimedEvent* ll = c.listener->first_path(PathKind::kSwitched, false);
  REQUIRE(lc);
  REQUIRE(ll);
  const util::Duration fallback = std::max(lc->at, ll->at) - cut;
  MESSAGE("direct path cut: both ends back on the relay after ", ms(fallback), " ms");
  CHECK(fallback < 3s);
  CHECK(c.net->stats().dropped_blocked > 0);
  CHECK_FALSE(c.listener->has(Kind::kSessionDown));

  // Healed: a later probing round finds the direct path again.
  c.net->unblock(c.listener_site, c.connector_site);
  const util::TimePoint healed = c.net->now();
  REQUIRE(c.net->run_until(
      [&] { return currently_direct(c, *c.listener) && currently_direct(c, *c.connector); }, 90s));
  MESSAGE("healed: direct again after ", ms(c.net->now() - healed), " ms");
}

TEST_CASE("direct_path_sim: a NAT rebinding under a direct session: back to the relay, no loss") {
  CoresConfig cc;
  cc.seed = 4;
  Cores c(cc);
  c.bring_up();
  REQUIRE(c.net->run_until([&] { return both_direct(c); }, 20s));
  const util::TimePoint t0 = c.net->now() + 300ms;
  c.net->at(t0, [&] { c.net->nat(c.connector_site).rebind(); });
  const util::Bytes up_data = pattern(300'000, 5), down_data = pattern(300'000, 6);
  util::Bytes up_got, down_got;
  REQUIRE(c.transfer(up_data, down_data, up_got, down_got, 60s));
  CHECK(up_got == up_data);
  CHECK(down_got == down_data);
  // The rebinding also moved the connector's mapping to the rendezvous, so the relay
  // is dead too until the connector's next keepalive re-registers it.
  MESSAGE("rebinding on the direct path: 300 kB each way done ", ms(c.net->now() - t0),
          " ms after the rebind");
  const TimedEvent* back = c.listener->first_path(PathKind::kSwitched, false);
  REQUIRE(back);
  CHECK(back->at - t0 < 3s);
  CHECK_FALSE(c.connector->has(Kind::kSessionDown));
  CHECK_FALSE(c.listener->has(Kind::kSessionDown));
}

// After one side's NAT rebinds, its first packets from the new port knock on the
// peer's NAT before the peer ever sent there, and the peer's later flow to that port
// clashes (LAB.md trap 1). Quick rounds keep those entries alive; the first slow
// round (kSlowRoundInterval, longer than conntrack's 30 s) meets clean routers and
// both ends prime before probing (ROUND), so the path comes back.
TEST_CASE("direct_path_sim: after a NAT rebinding the session finds the direct path again") {
  CoresConfig cc;
  cc.seed = 4;
  Cores c(cc);
  c.bring_up();
  REQUIRE(c.net->run_until([&] { return both_direct(c); }, 20s));
  const util::TimePoint rebound = c.net->now();
  c.net->nat(c.connector_site).rebind();
  c.net->run_for(5s);  // Long enough to notice and fall back.
  REQUIRE(c.net->run_until(
      [&] { return currently_direct(c, *c.listener) && currently_direct(c, *c.connector); }, 120s));
  MESSAGE("direct again ", ms(c.net->now() - rebound), " ms after the rebinding");
  const auto mapped =
      c.net->nat(c.connector_site)
          .mapping(c.connector->address(), c.listener->endpoint().reflexive_address());
  REQUIRE(mapped);
  CHECK(c.listener->endpoint().session(c.cid)->path() == *mapped);
}

TEST_CASE("direct_path_sim: two homes with the same LAN address and port still meet directly") {
  // Both hosts are 198.51.100.10:5000 behind their routers, so each one's host
  // candidate is the other's own address: a probe to it reaches the sender itself.
  CoresConfig cc;
  cc.seed = 6;
  cc.listener_port = 5000;
  cc.connector_port = 5000;
  Cores c(cc);
  REQUIRE(c.listener->address() == c.connector->address());
  c.bring_up();
  REQUIRE(c.net->run_until([&] { return both_direct(c); }, 20s));
  const util::Address self = c.listener->address();
  CHECK(c.listener->endpoint().session(c.cid)->path() != self);
  CHECK(c.connector->endpoint().session(c.cid)->path() != self);
  util::Bytes up_got, down_got;
  const util::Bytes up_data = pattern(100'000, 9), down_data = pattern(100'000, 10);
  REQUIRE(c.transfer(up_data, down_data, up_got, down_got, 60s));
  CHECK(up_got == up_data);
  CHECK(down_got == down_data);
}

}  // namespace punch::sim

namespace punch::sim {
namespace {

// One-way delays giving `rtt` from a host to the rendezvous (LAN 0.5 ms, then two
// WAN hops of equal delay) and, within 1 ms, between the two peers.
CoresConfig with_rtt(util::Duration rtt, std::uint64_t seed) {
  CoresConfig cc;
  cc.seed = seed;
  cc.lan_delay = std::chrono::microseconds(500);
  cc.wan_delay = (rtt / 2 - cc.lan_delay) / 2;
  return cc;
}

// When both ends had first switched onto a direct path, after connect().
util::Duration time_to_direct(const Cores& c) {
  const TimedEvent* l = c.listener->first_path(PathKind::kSwitched, true);
  const TimedEvent* n = c.connector->first_path(PathKind::kSwitched, true);
  REQUIRE(l);
  REQUIRE(n);
  return std::max(l->at, n->at) - c.connected_at;
}

}  // namespace

TEST_CASE("direct_path_sim: easy x easy at 50 ms RTT is direct within 1 s of connecting") {
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    CAPTURE(seed);
    Cores c(with_rtt(std::chrono::milliseconds(50), seed));
    const util::Duration up = c.bring_up();
    REQUIRE(c.net->run_until([&] { return both_direct(c); }, 10s));
    const util::Duration direct = time_to_direct(c);
    MESSAGE("seed ", seed, ": session up ", ms(up), " ms, direct ", ms(direct),
            " ms after connect");
    CHECK(direct < 1s);
  }
}

TEST_CASE("direct_path_sim: time to direct from 20 ms to 300 ms RTT") {
  for (const auto rtt : {20ms, 50ms, 100ms, 200ms, 300ms}) {
    CAPTURE(ms(rtt));
    Cores c(with_rtt(rtt, 3));
    const util::Duration up = c.bring_up();
    REQUIRE(c.net->run_until([&] { return both_direct(c); }, 20s));
    const util::Duration direct = time_to_direct(c);
    MESSAGE("RTT ", ms(rtt), " ms: session up ", ms(up), " ms, direct ", ms(direct),
            " ms after connect (", ms(direct) / ms(rtt), " RTTs)");
    // After the session is up: a ROUND through the relay (one RTT, the relay being two
    // hops) and one probe round trip.
    CHECK(direct - up <= 3 * rtt);
  }
}

TEST_CASE("direct_path_sim: the move to the direct path mid-transfer loses and reorders nothing") {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    CAPTURE(seed);
    CoresConfig cc = with_rtt(60ms, seed);
    cc.connector_type = NatType::kFirewall;
    cc.wan_loss = 0.005;  // some retransmissions on both paths, differently per seed
    Cores c(cc);
    c.bring_up();
    // The transfer starts the moment the session is up, on the relay.
    REQUIRE(c.connector->first_path(PathKind::kSwitched, true) == nullptr);
    const util::TimePoint start = c.net->now();
    const util::Bytes up_data = pattern(3'000'000, 11), down_data = pattern(3'000'000, 12);
    util::Bytes up_got, down_got;
    REQUIRE(c.transfer(up_data, down_data, up_got, down_got, 120s));
    const util::TimePoint end = c.net->now();
    CHECK(up_got == up_data);
    CHECK(down_got == down_data);
    const TimedEvent* switched = c.connector->first_path(PathKind::kSwitched, true);
    REQUIRE(switched);
    MESSAGE("3 MB each way in ", ms(end - start), " ms, moved to the direct path ",
            ms(switched->at - start), " ms into it");
    CHECK(switched->at > start);
    CHECK(switched->at < end);
  }
}

TEST_CASE("direct_path_sim: idle for 90 s behind 10 s / 20 s conntrack timeouts, still direct") {
  CoresConfig cc = with_rtt(40ms, 13);
  cc.udp_timeout = 10s;
  cc.udp_timeout_stream = 20s;
  Cores c(cc);
  c.bring_up();
  REQUIRE(c.net->run_until([&] { return both_direct(c); }, 10s));
  c.net->run_for(90s);
  CHECK(currently_direct(c, *c.listener));
  CHECK(currently_direct(c, *c.connector));
  CHECK(c.listener->first_path(PathKind::kLost) == nullptr);
  CHECK(c.connector->first_path(PathKind::kLost) == nullptr);
  const util::TimePoint t0 = c.net->now();
  const util::Bytes up_data = pattern(1000, 13), down_data = pattern(1000, 14);
  util::Bytes up_got, down_got;
  REQUIRE(c.transfer(up_data, down_data, up_got, down_got, 10s));
  CHECK(up_got == up_data);
  CHECK(down_got == down_data);
  MESSAGE("after 90 s idle a 1 kB exchange took ", ms(c.net->now() - t0), " ms (RTT 40 ms)");
  CHECK(c.net->now() - t0 < 200ms);
}

TEST_CASE("direct_path_sim: two peers behind one NAT go direct over their LAN addresses") {
  CoresConfig cc = with_rtt(40ms, 17);
  cc.same_site = true;
  Cores c(cc);
  c.bring_up();
  REQUIRE(c.net->run_until(
      [&] {
        return currently_direct(c, *c.listener) && currently_direct(c, *c.connector) &&
               c.listener->endpoint().session(c.cid)->path() == c.connector->address() &&
               c.connector->endpoint().session(c.cid)->path() == c.listener->address();
      },
      10s));
  const std::uint64_t forwarded = c.net->site_stats(c.listener_site).forwarded;
  const util::Bytes up_data = pattern(500'000, 15), down_data = pattern(500'000, 16);
  util::Bytes up_got, down_got;
  REQUIRE(c.transfer(up_data, down_data, up_got, down_got, 30s));
  CHECK(up_got == up_data);
  CHECK(down_got == down_data);
  // The megabyte went host to host: the router forwarded only the odd keepalive.
  CHECK(c.net->site_stats(c.listener_site).forwarded - forwarded < 20);
}

}  // namespace punch::sim
