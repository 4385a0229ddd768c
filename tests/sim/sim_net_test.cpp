// The address-level network: datagrams take the hops, delays and TTLs the topology
// says; NAT routers on the way reproduce LAB.md's trap 1 and the TTL-2 priming that
// avoids it; and the real cores (a rendezvous Server and two session Endpoints)
// meet behind NATs and move data over the relay, deterministically per seed.
#include "sim/sim_net.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "sim/sim_app.hpp"
#include "sim/sim_cores.hpp"

namespace punch::sim {
namespace {

using namespace std::chrono_literals;
using util::Address;
using Kind = session::EndpointEvent::Kind;

void send(Network& net, HostId from, const Address& to, std::string_view text, int ttl = 0) {
  if (ttl > 0) {
    net.sink(from).send_with_ttl(to, util::as_bytes(text), ttl);
  } else {
    net.sink(from).send(to, util::as_bytes(text));
  }
}

Address ip_of(Address a) {
  a.port = 0;
  return a;
}

// Two easy-NAT sites with one host each and a public server they both talk to
// first, as endpoints do with the rendezvous: the server's inbox tells each host's
// public (reflexive) address.
struct TwoSites {
  Network net{NetConfig{}};
  SiteId site_a = net.add_site(SiteConfig{});
  SiteId site_b = net.add_site(SiteConfig{});
  HostId a = net.add_host(site_a, 5000);
  HostId b = net.add_host(site_b, 6000);
  HostId server = net.add_public_host(3478);
  Address public_a{};
  Address public_b{};

  TwoSites() {
    send(net, a, net.address(server), "register a");
    send(net, b, net.address(server), "register b");
    REQUIRE(net.run_until([&] { return net.inbox(server).size() == 2; }, 1s));
    for (const Received& r : net.inbox(server))
      (text(r) == "register a" ? public_a : public_b) = r.from;
    REQUIRE(public_a == Address::v4(203, 0, 113, 1, 5000));
    REQUIRE(public_b == Address::v4(203, 0, 113, 2, 6000));
  }
};

}  // namespace

TEST_CASE("sim_net: a datagram takes LAN, router, core and host hops with their delays and TTL") {
  Network net(NetConfig{});
  SiteConfig sc;
  sc.lan_delay = 1ms;
  sc.wan_delay = 10ms;
  const SiteId site = net.add_site(sc);
  const HostId host = net.add_host(site, 5000);
  PublicHostConfig pc;
  pc.delay = 5ms;
  const HostId server = net.add_public_host(3478, pc);
  CHECK(net.address(host) == Address::v4(198, 51, 100, 10, 5000));
  CHECK(net.address(server) == Address::v4(192, 0, 2, 1, 3478));
  std::vector<Trace> traces;
  net.set_observer([&](const Trace& t) { traces.push_back(t); });

  const util::TimePoint t0 = net.now();
  send(net, host, net.address(server), "ping");
  REQUIRE(net.run_until([&] { return !net.inbox(server).empty(); }, 1s));
  const Received& in = net.inbox(server).front();
  CHECK(in.at - t0 == 16ms);
  CHECK(in.from == Address::v4(203, 0, 113, 1, 5000));  // Port kept by masquerade.
  CHECK(in.ttl == 62);                                  // Own router and the core.

  send(net, server, in.from, "pong");
  REQUIRE(net.run_until([&] { return !net.inbox(host).empty(); }, 1s));
  CHECK(net.inbox(host).front().at - in.at == 16ms);
  CHECK(net.inbox(host).front().from == net.address(server));
  CHECK(net.inbox(host).front().ttl == 62);
  CHECK(net.site_stats(site).translated == 2);

  REQUIRE(traces.size() == 4);
  CHECK(traces[0].kind == TraceKind::kSent);
  CHECK(traces[0].src == net.address(host));
  CHECK(traces[1].kind == TraceKind::kDelivered);
  CHECK(traces[1].src == in.from);
  CHECK(traces[3].dst == net.address(host));
}

TEST_CASE("sim_net: trap 1: a knock that reaches an easy NAT first moves the peer's port") {
  TwoSites w;
  Network& net = w.net;
  // A knocks on B's public address before B has sent anything to A.
  send(net, w.a, w.public_b, "knock");
  net.run_for(100ms);
  CHECK(net.inbox(w.b).empty());
  CHECK(net.site_stats(w.site_b).dropped_local == 1);
  // B's first datagram to A cannot keep port 6000: that reply tuple is the knock's.
  send(net, w.b, w.public_a, "hello");
  net.run_for(100ms);
  CHECK(net.site_stats(w.site_b).clashes == 1);
  const auto b_to_a = net.nat(w.site_b).mapping(net.address(w.b), w.public_a);
  REQUIRE(b_to_a);
  CHECK(b_to_a->port != 6000);
  // Both keep probing for longer than udp_timeout: A knocks on the old port, B arrives
  // from a port A's router never saw, and nothing ever gets through.
  for (int i = 0; i < 40; ++i) {
    send(net, w.a, w.public_b, "probe a");
    send(net, w.b, w.public_a, "probe b");
    net.run_for(1s);
  }
  CHECK(net.elapsed() > 40s);
  CHECK(net.inbox(w.a).empty());
  CHECK(net.inbox(w.b).empty());
  CHECK(net.site_stats(w.site_b).dropped_local == 41);
  CHECK(net.site_stats(w.site_a).dropped_local > 0);  // B's probes, from the new port.
  CHECK(net.site_stats(w.site_b).clashes == 1);
}

TEST_CASE("sim_net: TTL-2 priming on both sides, then normal probes, gets through both ways") {
  TwoSites w;
  Network& net = w.net;
  send(net, w.a, w.public_b, "prime a", 2);
  send(net, w.b, w.public_a, "prime b", 2);
  net.run_for(100ms);
  CHECK(net.stats().core_dropped_ttl == 2);
  CHECK(net.site_stats(w.site_a).dropped_local == 0);
  CHECK(net.site_stats(w.site_b).dropped_local == 0);
  // A knocks first, as in trap 1, but B's mapping to A already exists.
  send(net, w.a, w.public_b, "probe a");
  net.run_for(5ms);
  send(net, w.b, w.public_a, "probe b");
  net.run_for(100ms);
  REQUIRE(net.inbox(w.b).size() == 1);
  REQUIRE(net.inbox(w.a).size() == 1);
  CHECK(net.inbox(w.b).front().from == w.public_a);
  CHECK(net.inbox(w.a).front().from == w.public_b);
  CHECK(net.site_stats(w.site_a).clashes == 0);
  CHECK(net.site_stats(w.site_b).clashes == 0);
}

TEST_CASE("sim_net: trap 1 is a race: a first datagram that leaves before the knock arrives wins") {
  // The knock needs 1 + 10 + 10 ms to reach B's router; B's datagram leaving its
  // router at 16 ms opens the mapping first, with no priming.
  TwoSites w;
  Network& net = w.net;
  send(net, w.a, w.public_b, "probe a");
  net.run_for(15ms);
  send(net, w.b, w.public_a, "probe b");
  net.run_for(100ms);
  CHECK(net.inbox(w.a).size() == 1);
  CHECK(net.inbox(w.b).size() == 1);
  CHECK(net.site_stats(w.site_b).clashes == 0);
}

TEST_CASE("sim_net: TTL 2 opens the own mapping and dies at the core; TTL 1 dies at the router") {
  TwoSites w;
  Network& net = w.net;
  const HostId other = net.add_public_host(4000);
  const Address a = net.address(w.a);
  net.clear_inbox(w.server);

  send(net, w.a, net.address(other), "ttl 2", 2);
  net.run_for(100ms);
  CHECK(net.inbox(other).empty());
  CHECK(net.stats().core_dropped_ttl == 1);
  CHECK(net.nat(w.site_a).mapping(a, net.address(other)));

  const HostId third = net.add_public_host(4001);
  const std::uint64_t created = net.nat(w.site_a).stats().created;
  send(net, w.a, net.address(third), "ttl 1", 1);
  net.run_for(100ms);
  CHECK(net.site_stats(w.site_a).dropped_ttl == 1);
  CHECK_FALSE(net.nat(w.site_a).mapping(a, net.address(third)));
  CHECK(net.nat(w.site_a).stats().created == created);

  // TTL 3 gets one hop further, to B's router, which takes the unmatched datagram as
  // its own whatever the TTL (LAB.md trap 2): the knock entry exists, so priming must
  // stop at the core.
  send(net, w.a, w.public_b, "ttl 3", 3);
  net.run_for(100ms);
  CHECK(net.site_stats(w.site_b).dropped_local == 1);
  bool knock_entry = false;
  for (const ConntrackEntry& e : net.nat(w.site_b).entries())
    knock_entry |= e.local && e.original.src == w.public_a;
  CHECK(knock_entry);
  // A public host is two router hops away.
  send(net, w.a, net.address(w.server), "ttl 3", 3);
  net.run_for(100ms);
  REQUIRE(net.inbox(w.server).size() == 1);
  CHECK(net.inbox(w.server).front().ttl == 1);
}

TEST_CASE("sim_net: LAN neighbours meet without the router; the router does not hairpin") {
  Network net(NetConfig{});
  SiteConfig sc;
  sc.lan_delay = 2ms;
  const SiteId site = net.add_site(sc);
  const HostId h1 = net.add_host(site, 5000);
  const HostId h2 = net.add_host(site, 5001);
  const HostId server = net.add_public_host(3478);
  CHECK(net.address(h2) == Address::v4(198, 51, 100, 11, 5001));
  const util::TimePoint t0 = net.now();
  send(net, h1, net.address(h2), "neighbour");
  REQUIRE(net.run_until([&] { return !net.inbox(h2).empty(); }, 1s));
  CHECK(net.inbox(h2).front().at - t0 == 2ms);
  CHECK(net.inbox(h2).front().ttl == 64);
  CHECK(net.inbox(h2).front().from == net.address(h1));
  CHECK(net.site_stats(site).forwarded == 0);

  // h2's public address, as a server would tell h1, leads nowhere from inside.
  send(net, h2, net.address(server), "register");
  REQUIRE(net.run_until([&] { return !net.inbox(server).empty(); }, 1s));
  send(net, h1, net.inbox(server).front().from, "hairpin");
  net.run_for(100ms);
  CHECK(net.inbox(h2).size() == 1);
  CHECK(net.stats().dropped_no_socket == 1);
}

TEST_CASE("sim_net: blocks, delays and loss act per site; firewalls and udpblock filter") {
  Network net(NetConfig{});
  SiteConfig open;
  open.type = NatType::kOpen;
  const SiteId sa = net.add_site(open);
  const SiteId sb = net.add_site(open);
  SiteConfig fw;
  fw.type = NatType::kFirewall;
  const SiteId sf = net.add_site(fw);
  SiteConfig ub;
  ub.type = NatType::kUdpBlock;
  const SiteId su = net.add_site(ub);
  const HostId a = net.add_host(sa, 5000);
  const HostId b = net.add_host(sb, 6000);
  const HostId f = net.add_host(sf, 7000);
  const HostId u = net.add_host(su, 8000);
  const HostId server = net.add_public_host(3478);
  // Open and firewall sites give their hosts public addresses, kept on the way.
  CHECK(net.address(a).ip[0] == 203);
  CHECK(net.address(f).ip[0] == 203);

  send(net, a, net.address(b), "1");
  net.run_for(100ms);
  CHECK(net.inbox(b).size() == 1);
  net.block(sa, sb);
  send(net, a, net.address(b), "2");
  send(net, b, net.address(a), "3");
  send(net, a, net.address(server), "4");
  net.run_for(100ms);
  CHECK(net.inbox(b).size() == 1);
  CHECK(net.inbox(a).empty());
  CHECK(net.inbox(server).size() == 1);
  CHECK(net.stats().dropped_blocked == 2);
  net.unblock(sb, sa);
  send(net, b, net.address(a), "5");
  net.run_for(100ms);
  CHECK(net.inbox(a).size() == 1);
  // A site can lose a public host (the relay) while it still reaches other sites.
  net.block_host(sa, server);
  send(net, a, net.address(server), "6");
  send(net, server, net.address(a), "7");
  send(net, a, net.address(b), "8");
  net.run_for(100ms);
  CHECK(net.inbox(server).size() == 1);
  CHECK(net.inbox(a).size() == 1);
  CHECK(net.inbox(b).size() == 2);
  CHECK(net.stats().dropped_blocked == 4);
  net.unblock_host(sa, server);
  send(net, server, net.address(a), "9");
  net.run_for(100ms);
  CHECK(net.inbox(a).size() == 2);

  // Delay: 1 + 10 + 10 ms by default, then 1 + 60 + 10 ms.
  net.set_wan_delay(sa, 60ms);
  const util::TimePoint t0 = net.now();
  send(net, a, net.address(server), "slow");
  net.run_for(200ms);
  CHECK(net.inbox(server).back().at - t0 == 71ms);
  net.set_public_delay(server, 30ms);
  const util::TimePoint t1 = net.now();
  send(net, a, net.address(server), "slower");
  net.run_for(200ms);
  CHECK(net.inbox(server).back().at - t1 == 91ms);

  // The firewall lets b in only after f spoke to b; udpblock lets nothing through.
  send(net, b, net.address(f), "unsolicited");
  send(net, u, net.address(server), "blocked");
  net.run_for(100ms);
  CHECK(net.inbox(f).empty());
  CHECK(net.site_stats(sf).dropped_filter == 1);
  CHECK(net.site_stats(su).dropped_filter == 1);
  CHECK(net.nat(sf).entries().empty());
  send(net, f, net.address(b), "out");
  net.run_for(100ms);
  send(net, b, net.address(f), "reply");
  net.run_for(100ms);
  REQUIRE(net.inbox(f).size() == 1);
  CHECK(text(net.inbox(f).front()) == "reply");

  // Random loss at about the rate asked for, counted on the site.
  net.set_loss(sa, 0.0, 0.3);
  const std::size_t before = net.inbox(server).size();
  for (int i = 0; i < 1000; ++i) send(net, a, net.address(server), "lossy");
  net.run_for(1s);
  const std::size_t got = net.inbox(server).size() - before;
  CHECK(got > 630);
  CHECK(got < 770);
  CHECK(net.site_stats(sa).dropped_loss == 1000 - got);
}

TEST_CASE("sim_net: behind a hard NAT each destination sees another port; a pool another address") {
  Network net(NetConfig{});
  SiteConfig hard;
  hard.type = NatType::kHard;
  SiteConfig pool;
  pool.type = NatType::kPool;
  pool.pool_size = 4;
  const SiteId sh = net.add_site(hard);
  const SiteId sp = net.add_site(pool);
  const HostId h = net.add_host(sh, 5000);
  const HostId p = net.add_host(sp, 5000);
  std::vector<HostId> servers;
  for (int i = 0; i < 8; ++i) servers.push_back(net.add_public_host(3478));
  for (const HostId s : servers) {
    send(net, h, net.address(s), "h");
    send(net, p, net.address(s), "p");
  }
  net.run_for(100ms);
  std::set<std::uint16_t> hard_ports;
  std::set<Address> pool_ips;
  for (const HostId s : servers) {
    REQUIRE(net.inbox(s).size() == 2);
    for (const Received& r : net.inbox(s)) {
      if (text(r) == "h") {
        CHECK(ip_of(r.from) == net.wan_address(sh));
        hard_ports.insert(r.from.port);
      } else {
        CHECK(net.nat(sp).owns(r.from));
        CHECK(ip_of(r.from) != net.wan_address(sp));
        pool_ips.insert(ip_of(r.from));
      }
    }
  }
  CHECK(hard_ports.size() == servers.size());
  CHECK(pool_ips.size() > 1);
}

namespace {

// What a hole punch can reach at best: register (learning the reflexive address),
// prime with TTL 2 towards the peer's reflexive address, then probe it, and answer
// whatever address a probe arrives from (peer-reflexive). True when probes got
// through both ways.
bool ideal_punch(NatType ta, NatType tb) {
  Network net(NetConfig{});
  SiteConfig ca, cb;
  ca.type = ta;
  cb.type = tb;
  const SiteId sa = net.add_site(ca);
  const SiteId sb = net.add_site(cb);
  const HostId a = net.add_host(sa, 5000);
  const HostId b = net.add_host(sb, 6000);
  const HostId server = net.add_public_host(3478);
  send(net, a, net.address(server), "a");
  send(net, b, net.address(server), "b");
  net.run_for(100ms);
  Address target_a{}, target_b{};  // Where each side probes.
  for (const Received& r : net.inbox(server)) (text(r) == "a" ? target_b : target_a) = r.from;
  if (!target_a.valid() || !target_b.valid()) return false;
  send(net, a, target_a, "prime", 2);
  send(net, b, target_b, "prime", 2);
  net.run_for(100ms);
  bool a_got = false, b_got = false;
  for (int round = 0; round < 5; ++round) {
    send(net, a, target_a, "probe");
    send(net, b, target_b, "probe");
    net.run_for(200ms);
    for (const Received& r : net.inbox(a)) target_a = r.from;
    for (const Received& r : net.inbox(b)) target_b = r.from;
    a_got |= !net.inbox(a).empty();
    b_got |= !net.inbox(b).empty();
  }
  return a_got && b_got;
}

}  // namespace

TEST_CASE("sim_net: the ideal punch gets through exactly where the two routers allow it") {
  // The known matrix: an open side always works (it answers any address); firewalls
  // and easy NATs work among themselves once primed; an endpoint-dependent mapping
  // (hard, pool) on one side defeats a filtering router on the other, since the
  // mapping towards the peer is not the one the rendezvous saw.
  const NatType types[] = {NatType::kOpen, NatType::kFirewall, NatType::kEasy,
                           NatType::kHard, NatType::kPool,     NatType::kUdpBlock};
  auto expected = [](NatType x, NatType y) {
    if (x == NatType::kUdpBlock || y == NatType::kUdpBlock) return false;
    if (x == NatType::kOpen || y == NatType::kOpen) return true;
    auto cone = [](NatType t) { return t == NatType::kFirewall || t == NatType::kEasy; };
    return cone(x) && cone(y);
  };
  for (const NatType ta : types) {
    for (const NatType tb : types) {
      CAPTURE(to_string(ta));
      CAPTURE(to_string(tb));
      CHECK(ideal_punch(ta, tb) == expected(ta, tb));
    }
  }
}

TEST_CASE("sim_net: the real cores meet behind NATs and carry 200 kB both ways over the relay") {
  for (const NatType type :
       {NatType::kEasy, NatType::kHard, NatType::kPool, NatType::kFirewall, NatType::kOpen}) {
    CAPTURE(to_string(type));
    CoresConfig cc;
    cc.listener_type = cc.connector_type = type;
    cc.seed = 5;
    cc.path.relay_only = true;
    Cores c(cc);
    const util::Duration time_to_up = c.bring_up();

    // Each endpoint learnt its router's public mapping as its reflexive address.
    const Address local = c.listener->address();
    const Address lr = c.listener->endpoint().reflexive_address();
    const Nat& nat = c.net->nat(c.listener_site);
    if (type != NatType::kOpen) CHECK(nat.mapping(local, c.server->address()) == lr);
    switch (type) {
      case NatType::kEasy:
        CHECK(lr == Address::v4(203, 0, 113, 1, local.port));
        break;
      case NatType::kHard:
        CHECK(ip_of(lr) == c.net->wan_address(c.listener_site));
        CHECK(lr.port != local.port);
        break;
      case NatType::kPool:
        CHECK(nat.owns(lr));
        CHECK(ip_of(lr) != c.net->wan_address(c.listener_site));
        break;
      default:
        CHECK(lr == local);
        break;
    }
    const TimedEvent* invite = c.listener->first(Kind::kInvite);
    REQUIRE(invite);
    CHECK(invite->event.peer == c.connector->identity().id());
    CHECK(c.connector->first(Kind::kSessionUp)->event.peer == c.listener->identity().id());

    // Introduction (2 x 51 ms to the server) and a DTLS handshake over the relay
    // (102 ms one way, two round trips at least) bound it from below.
    MESSAGE(std::string(to_string(type)), " NAT, 25 ms per WAN hop: session up ",
            std::chrono::duration<double, std::milli>(time_to_up).count(), " ms after connect");
    CHECK(time_to_up > 400ms);
    CHECK(time_to_up < 2s);

    const util::Bytes up = pattern(200'000, 1), down = pattern(200'000, 2);
    util::Bytes up_got, down_got;
    const util::TimePoint t0 = c.net->now();
    REQUIRE(c.transfer(up, down, up_got, down_got, 60s));
    CHECK(up_got == up);
    CHECK(down_got == down);
    MESSAGE(std::string(to_string(type)), " NAT: 200 kB each way in ",
            std::chrono::duration<double, std::milli>(c.net->now() - t0).count(), " ms");
    CHECK(c.server->server().stats().relayed_bytes > 400'000);
    CHECK_FALSE(c.listener->has(Kind::kSessionDown));
    CHECK_FALSE(c.connector->has(Kind::kSessionDown));
    CHECK(c.net->site_stats(c.listener_site).dropped_ttl == 0);
  }
}

TEST_CASE("sim_net: behind a UDP-blocking router an endpoint never registers and says so") {
  CoresConfig cc;
  cc.listener_type = cc.connector_type = NatType::kUdpBlock;
  Cores c(cc);
  c.net->run_for(10s);
  CHECK_FALSE(c.listener->endpoint().registered());
  CHECK(c.listener->has(Kind::kUnreachable));
  CHECK(c.net->site_stats(c.listener_site).dropped_filter > 0);
  CHECK(c.server->server().stats().datagrams_received == 0);
}

TEST_CASE("sim_net: a live relayed session survives its NAT rebinding the mapping") {
  // Relay only: the direct path's own answer to rebinding is tested with it.
  CoresConfig cc;
  cc.seed = 9;
  cc.path.relay_only = true;
  Cores c(cc);
  c.bring_up();
  const Address before = c.connector->endpoint().reflexive_address();
  // Halfway through the transfer the connector's router forgets every mapping and
  // will not give the old port back: the relay must follow the new one.
  c.net->at(c.net->now() + 300ms, [&] { c.net->nat(c.connector_site).rebind(); });
  const util::Bytes up = pattern(200'000, 5), down = pattern(200'000, 6);
  util::Bytes up_got, down_got;
  const util::TimePoint t0 = c.net->now();
  REQUIRE(c.transfer(up, down, up_got, down_got, 120s));
  CHECK(up_got == up);
  CHECK(down_got == down);
  MESSAGE("rebinding under a 200 kB transfer: done in ",
          std::chrono::duration<double>(c.net->now() - t0).count(), " s");
  CHECK(c.net->nat(c.connector_site).mapping(c.connector->address(), c.server->address())->port !=
        before.port);
  CHECK_FALSE(c.connector->has(Kind::kSessionDown));
  CHECK_FALSE(c.listener->has(Kind::kSessionDown));
}

TEST_CASE("sim_net: the same seed gives the same run; another seed another one") {
  // Hard NATs and 1 % loss on every WAN hop, so both the routers' ports and the loss
  // draw from the seed.
  auto run = [](std::uint64_t seed) {
    CoresConfig cc;
    cc.listener_type = cc.connector_type = NatType::kHard;
    cc.seed = seed;
    cc.wan_loss = 0.01;
    Cores c(cc);
    const util::Duration time_to_up = c.bring_up();
    util::Bytes up_got, down_got;
    REQUIRE(c.transfer(pattern(50'000, 3), pattern(50'000, 4), up_got, down_got, 60s));
    struct Result {
      std::uint64_t events;
      util::Duration time_to_up;
      util::TimePoint end;
      std::uint64_t fingerprint;
      std::uint64_t lost;
      Address reflexive;
    };
    return Result{c.net->events(),
                  time_to_up,
                  c.net->now(),
                  c.fingerprint,
                  c.net->stats().dropped_loss,
                  c.connector->endpoint().reflexive_address()};
  };
  const auto first = run(21);
  const auto again = run(21);
  const auto other = run(22);
  CHECK(first.events == again.events);
  CHECK(first.time_to_up == again.time_to_up);
  CHECK(first.end == again.end);
  CHECK(first.fingerprint == again.fingerprint);
  CHECK(first.lost == again.lost);
  CHECK(first.reflexive == again.reflexive);
  CHECK(first.lost > 0);
  CHECK(other.fingerprint != first.fingerprint);
  CHECK(other.reflexive.port != first.reflexive.port);
}

}  // namespace punch::sim
