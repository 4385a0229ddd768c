// Extra sockets of a simulated host (sim_socket_pool.hpp): each is another port of
// the host's IP, whose datagrams cross the router as any other (behind a hard NAT
// each gets a mapping of its own, behind an easy one it keeps its port), whose
// arrivals reach the owner with the socket's id, and which stops receiving and
// sending once closed. The birthday prober's tests count on these, so each is pinned.
#include "sim/sim_socket_pool.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace punch::sim {
namespace {

using namespace std::chrono_literals;
using util::Address;
using util::SocketId;

struct Arrival {
  Address from;
  std::string text;
  SocketId socket;
};

SiteConfig site_config(NatType type) {
  SiteConfig c;
  c.type = type;
  return c;
}

// One host behind a router of `type` with a pool, and a public server.
struct PoolSite {
  Network net{NetConfig{}};
  SiteId site;
  HostId host;
  HostId server;
  std::vector<Arrival> arrivals;
  SimSocketPool pool;

  explicit PoolSite(NatType type)
      : site(net.add_site(site_config(type))),
        host(net.add_host(site, 5000)),
        server(net.add_public_host(3478)),
        pool(net, host,
             [this](const Address& from, util::ByteView data, util::TimePoint, SocketId id) {
               arrivals.push_back({from, std::string(data.begin(), data.end()), id});
             }) {}

  void send(SocketId id, std::string_view t) {
    pool.sink(id).send(net.address(server), util::as_bytes(t));
  }
};

}  // namespace

TEST_CASE("sim_socket_pool: behind a hard NAT each socket gets its own port; answers find it") {
  PoolSite s(NatType::kHard);
  std::vector<SocketId> ids;
  for (int i = 0; i < 4; ++i) {
    const auto id = s.pool.open();
    REQUIRE(id);
    CHECK(*id != util::kMainSocket);
    ids.push_back(*id);
  }
  CHECK(s.pool.open_count() == 4);
  CHECK(s.pool.stats().max_open == 4);
  std::set<std::uint16_t> local_ports;
  for (const SocketId id : ids) {
    const Address a = s.pool.address_of(id);
    CHECK(a.ip == s.net.address(s.host).ip);  // The host's IP, another port.
    CHECK(a.port >= SimSocketPool::kFirstLocalPort);
    local_ports.insert(a.port);
  }
  CHECK(local_ports.size() == 4);
  for (const SocketId id : ids) s.send(id, "hello " + std::to_string(id));
  s.net.sink(s.host).send(s.net.address(s.server), util::as_bytes(std::string_view("main")));
  s.net.run_for(100ms);
  REQUIRE(s.net.inbox(s.server).size() == 5);
  std::set<std::uint16_t> outside;
  for (const Received& r : s.net.inbox(s.server)) {
    CHECK(r.from.ip == s.net.wan_address(s.site).ip);
    outside.insert(r.from.port);
  }
  CHECK(outside.size() == 5);  // Own mapping per socket.
  CHECK(s.net.site_stats(s.site).clashes == 0);

  // The server answers every source: each answer reaches its socket with its id; the
  // main socket's goes to the host's inbox (no node here).
  for (const Received& r : s.net.inbox(s.server)) {
    s.net.sink(s.server).send(r.from, util::as_bytes(std::string_view("re: ")));
  }
  s.net.run_for(100ms);
  CHECK(s.arrivals.size() == 4);
  std::set<SocketId> got;
  for (const Arrival& a : s.arrivals) {
    CHECK(a.from == s.net.address(s.server));
    got.insert(a.socket);
  }
  CHECK(got == std::set<SocketId>(ids.begin(), ids.end()));
  CHECK(s.net.inbox(s.host).size() == 1);
  CHECK(s.pool.stats().received == 4);
}

TEST_CASE("sim_socket_pool: a closed socket neither receives nor sends; ids are not reused") {
  PoolSite s(NatType::kEasy);
  const auto a = s.pool.open();
  const auto b = s.pool.open();
  REQUIRE(a);
  REQUIRE(b);
  const Address addr_a = s.pool.address_of(*a);
  s.send(*a, "a");
  s.send(*b, "b");
  s.net.run_for(100ms);
  REQUIRE(s.net.inbox(s.server).size() == 2);
  // An easy NAT keeps each socket's own port.
  for (const Received& r : s.net.inbox(s.server)) {
    const SocketId id = text(r) == "a" ? *a : *b;
    CHECK(r.from.port == s.pool.address_of(id).port);
  }
  util::DatagramSink& sink_a = s.pool.sink(*a);
  s.pool.close(*a);
  CHECK(s.pool.open_count() == 1);
  CHECK(s.pool.stats().closed == 1);
  CHECK_FALSE(s.net.bound(addr_a));
  CHECK_FALSE(s.net.is_open(*s.pool.host_of(*a)));
  CHECK(s.net.is_open(*s.pool.host_of(*b)));
  CHECK(s.net.is_open(s.host));
  CHECK(s.pool.open_ids() == std::vector<SocketId>{*b});

  // The answers: the NAT still maps a's flow, but the socket is gone.
  for (const Received& r : s.net.inbox(s.server))
    s.net.sink(s.server).send(r.from, util::as_bytes(std::string_view("re")));
  const std::uint64_t no_socket = s.net.stats().dropped_no_socket;
  s.net.run_for(100ms);
  REQUIRE(s.arrivals.size() == 1);
  CHECK(s.arrivals[0].socket == *b);
  CHECK(s.net.stats().dropped_no_socket == no_socket + 1);

  // A sink kept past close() sends nothing; a stale id is counted, not honoured.
  sink_a.send(s.net.address(s.server), util::as_bytes(std::string_view("late")));
  CHECK(s.net.stats().sent_closed == 1);
  s.pool.close(*a);
  CHECK(s.pool.stats().bad_closes == 1);
  s.pool.sink(*a).send(s.net.address(s.server), util::as_bytes(std::string_view("stale")));
  CHECK(s.pool.stats().bad_sinks == 1);
  CHECK(s.pool.stats().bad_sends == 1);
  s.net.run_for(100ms);
  CHECK(s.net.inbox(s.server).size() == 2);

  const auto c = s.pool.open();
  REQUIRE(c);
  CHECK(*c != *a);
  CHECK(*c != *b);
  CHECK(s.pool.stats().max_open == 2);
  CHECK(s.pool.stats().opened == 3);
}

TEST_CASE("sim_socket_pool: a limit refuses open(); sockets open and close while the net runs") {
  PoolSite s(NatType::kHard);
  s.pool.set_limit(2);
  CHECK(s.pool.open());
  CHECK(s.pool.open());
  CHECK_FALSE(s.pool.open());
  CHECK(s.pool.stats().refused == 1);
  for (const SocketId id : s.pool.open_ids()) s.pool.close(id);
  s.pool.set_limit(1000);

  // As the prober does from inside the core: on an arrival, open 50 more sockets and
  // send from each; on the next, close all but the one it arrived on (the last).
  const auto first = s.pool.open();
  REQUIRE(first);
  s.send(*first, "go");
  s.net.run_for(100ms);
  REQUIRE(s.net.inbox(s.server).size() == 1);
  s.net.sink(s.server).send(s.net.inbox(s.server)[0].from, util::as_bytes(std::string_view("1")));
  int phase = 0;
  s.net.set_app([&] {
    if (s.arrivals.empty() || phase == 2) return;
    if (phase == 0) {
      for (int i = 0; i < 50; ++i) s.send(*s.pool.open(), "more");
      phase = 1;
    } else if (s.arrivals.size() >= 2) {
      const std::vector<SocketId> open = s.pool.open_ids();
      for (std::size_t i = 0; i + 1 < open.size(); ++i) s.pool.close(open[i]);
      phase = 2;
    }
  });
  s.net.run_for(100ms);
  CHECK(s.pool.stats().max_open == 51);
  CHECK(s.net.inbox(s.server).size() == 51);
  s.net.sink(s.server).send(s.net.inbox(s.server).back().from,
                            util::as_bytes(std::string_view("2")));
  s.net.run_for(100ms);
  CHECK(phase == 2);
  CHECK(s.pool.open_count() == 1);
  CHECK(s.pool.stats().closed == 52);
  CHECK(s.pool.stats().bad_closes == 0);
}

TEST_CASE("sim_socket_pool: on a public host the sockets are public ports of its IP") {
  Network net(NetConfig{});
  const HostId host = net.add_public_host(7000);
  const HostId other = net.add_public_host(8000);
  std::vector<SocketId> got;
  SimSocketPool pool(net, host, [&](const Address&, util::ByteView, util::TimePoint, SocketId id) {
    got.push_back(id);
  });
  const auto id = pool.open();
  REQUIRE(id);
  const Address a = pool.address_of(*id);
  CHECK(a.ip == net.address(host).ip);
  pool.sink(*id).send(net.address(other), util::as_bytes(std::string_view("p")));
  net.run_for(100ms);
  REQUIRE(net.inbox(other).size() == 1);
  CHECK(net.inbox(other)[0].from == a);
  net.sink(other).send(a, util::as_bytes(std::string_view("q")));
  net.run_for(100ms);
  CHECK(got == std::vector<SocketId>{*id});
}

}  // namespace punch::sim

namespace punch::sim {

TEST_CASE("sim_socket_pool: a LAN neighbour reaches an extra socket through the switch") {
  Network net(NetConfig{});
  SiteConfig sc;
  sc.type = NatType::kHard;
  const SiteId site = net.add_site(sc);
  const HostId a = net.add_host(site, 5000);
  const HostId b = net.add_host(site, 6000);
  std::vector<util::SocketId> got;
  SimSocketPool pool(net, a,
                     [&](const util::Address&, util::ByteView, util::TimePoint, util::SocketId id) {
                       got.push_back(id);
                     });
  const auto id = pool.open();
  REQUIRE(id);
  net.sink(b).send(pool.address_of(*id), util::as_bytes(std::string_view("n")));
  net.sink(b).send(net.address(a), util::as_bytes(std::string_view("m")));
  net.run_for(10ms);
  CHECK(got == std::vector<util::SocketId>{*id});
  CHECK(net.inbox(a).size() == 1);             // The main socket's, to the inbox.
  CHECK(net.site_stats(site).forwarded == 0);  // Never through the router.
}

}  // namespace punch::sim
