// The whole control and session logic, sans I/O: a real rendezvous Server and
// real Endpoints on a virtual network with a virtual clock.
#include "session/endpoint.hpp"

#include <doctest/doctest.h>

#include <deque>
#include <functional>
#include <map>
#include <random>
#include <string>

#include "crypto/identity.hpp"
#include "crypto/random.hpp"
#include "rendezvous/server.hpp"

namespace punch::session {
namespace {

using util::Address;
using util::TimePoint;
using namespace std::chrono_literals;

struct Datagram {
  Address from;
  Address to;
  util::Bytes data;
};

// A lossless, zero-delay network; `drop` can filter datagrams.
struct Net {
  std::deque<Datagram> queue;
  std::function<bool(const Datagram&)> drop;
  std::uint64_t relayed_bytes_seen = 0;
};

class Sink final : public util::DatagramSink {
 public:
  Sink(Net& net, Address self) : net_(net), self_(self) {}
  void send(const Address& to, util::ByteView data) override {
    net_.queue.push_back({self_, to, util::Bytes(data.begin(), data.end())});
  }

 private:
  Net& net_;
  Address self_;
};

struct Node {
  Address address;
  crypto::Identity identity;
  Sink sink;
  Endpoint endpoint;
  std::vector<EndpointEvent> events;
  Node(Net& net, Address a, crypto::Identity id, Address rv, bool listener,
       crypto::RandomSource& rng)
      : address(a),
        identity(std::move(id)),
        sink(net, a),
        endpoint(identity, rv, listener, rng, sink) {}
};

crypto::Identity make_identity(crypto::RandomSource& rng) {
  auto id = crypto::Identity::generate(rng);
  REQUIRE(id.ok());
  return std::move(*id);
}

bool has_event(const Node& n, EndpointEvent::Kind kind) {
  for (const auto& e : n.events)
    if (e.kind == kind) return true;
  return false;
}

const EndpointEvent* find_event(const Node& n, EndpointEvent::Kind kind) {
  for (const auto& e : n.events)
    if (e.kind == kind) return &e;
  return nullptr;
}

struct World {
  crypto::SeededRandom rng{7};
  Net net;
  TimePoint now{};
  Address rv_addr = Address::v4(198, 51, 100, 1, 7777);
  Sink rv_sink{net, rv_addr};
  rendezvous::Server server{rng, rv_sink, nullptr, now};
  std::map<Address, Node*> nodes;

  std::unique_ptr<Node> add(Address a, bool listener) {
    auto n = std::make_unique<Node>(net, a, make_identity(rng), rv_addr, listener, rng);
    nodes[a] = n.get();
    n->endpoint.start(now);
    return n;
  }

  // Delivers datagrams, fires timers and lets `react` answer events, until
  // `done` holds or `limit` of virtual time passes.
  bool run(const std::function<bool()>& done, std::chrono::seconds limit,
           const std::function<void(Node&, const EndpointEvent&)>& react = {}) {
    const TimePoint end = now + limit;
    for (int steps = 0; steps < 2'000'000; ++steps) {
      for (auto& [a, n] : nodes) {
        n->endpoint.flush(now);
        while (auto e = n->endpoint.poll_event()) {
          n->events.push_back(*e);
          if (react) react(*n, *e);
        }
        n->endpoint.flush(now);
      }
      if (done()) return true;
      if (!net.queue.empty()) {
        Datagram d = std::move(net.queue.front());
        net.queue.pop_front();
        if (net.drop && net.drop(d)) continue;
        if (d.to == rv_addr) {
          server.on_datagram(d.from, d.data, now);
        } else if (auto it = nodes.find(d.to); it != nodes.end()) {
          it->second->endpoint.on_datagram(d.from, d.data, now);
        }
        continue;
      }
      TimePoint next = server.next_deadline();
      for (auto& [a, n] : nodes) next = std::min(next, n->endpoint.next_deadline());
      if (next > end) return false;
      now = std::max(now, next);
      server.on_timeout(now);
      for (auto& [a, n] : nodes) n->endpoint.on_timeout(now);
    }
    return false;
  }
  // Registers `listener` and `connector`, connects, accepts, and returns the
  // connection ID once both sides report the session up (REQUIREs on the way).
  std::uint64_t session_up(Node& listener, Node& connector, std::chrono::seconds limit = 20s) {
    REQUIRE(run([&] { return listener.endpoint.registered() && connector.endpoint.registered(); },
                limit));
    const std::uint64_t cid = connector.endpoint.connect(listener.identity.id(), now);
    REQUIRE(run(
        [&] {
          return has_event(connector, EndpointEvent::Kind::kSessionUp) &&
                 has_event(listener, EndpointEvent::Kind::kSessionUp);
        },
        limit * 3, accept_invites()));
    return cid;
  }

  // An event reaction that accepts every invite.
  std::function<void(Node&, const EndpointEvent&)> accept_invites() {
    return [this](Node& n, const EndpointEvent& e) {
      if (e.kind == EndpointEvent::Kind::kInvite) n.endpoint.accept(e.connection_id, e.peer, now);
    };
  }
};

}  // namespace

TEST_CASE("connector and listener register, meet through the rendezvous and move bytes") {
  World w;
  auto listener = w.add(Address::v4(203, 0, 113, 10, 4000), true);
  auto connector = w.add(Address::v4(192, 0, 2, 20, 5000), false);
  const std::uint64_t cid = w.session_up(*listener, *connector);
  CHECK(listener->endpoint.reflexive_address() == listener->address);
  const auto* invite = find_event(*listener, EndpointEvent::Kind::kInvite);
  REQUIRE(invite);
  CHECK(invite->peer == connector->identity.id());
  CHECK(find_event(*connector, EndpointEvent::Kind::kSessionUp)->peer == listener->identity.id());

  // 300 kB one way over one stream, read on the other side.
  Session* cs = connector->endpoint.session(cid);
  REQUIRE(cs);
  const transport::StreamId sid = cs->connection().open_stream();
  util::Bytes payload(300'000);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7);
  std::size_t written = 0;
  util::Bytes received;
  bool fin_sent = false;
  REQUIRE(w.run(
      [&] {
        if (written < payload.size()) {
          written += cs->connection().write(sid, util::ByteView(payload).subspan(written));
        } else if (!fin_sent) {
          cs->connection().finish(sid);
          fin_sent = true;
        }
        Session* ls = listener->endpoint.session(cid);
        if (ls == nullptr || !ls->established()) return false;
        std::uint8_t buf[4096];
        while (std::size_t n = ls->connection().read(sid, buf))
          received.insert(received.end(), buf, buf + n);
        return ls->connection().read_finished(sid);
      },
      60s));
  CHECK(received == payload);
  CHECK(w.server.stats().relayed_packets > 0);
}

TEST_CASE("a listener that refuses makes the connector fail with the reason") {
  World w;
  auto listener = w.add(Address::v4(203, 0, 113, 10, 4000), true);
  auto connector = w.add(Address::v4(192, 0, 2, 20, 5000), false);
  REQUIRE(w.run([&] { return listener->endpoint.registered() && connector->endpoint.registered(); },
                10s));
  connector->endpoint.connect(listener->identity.id(), w.now);
  auto refuse_all = [&](Node& n, const EndpointEvent& e) {
    if (e.kind == EndpointEvent::Kind::kInvite)
      n.endpoint.refuse(e.connection_id, "not authorized by the listener", w.now);
  };
  REQUIRE(w.run([&] { return has_event(*connector, EndpointEvent::Kind::kConnectFailed); }, 20s,
                refuse_all));
  const auto* failed = find_event(*connector, EndpointEvent::Kind::kConnectFailed);
  CHECK(failed->reason.find("not authorized") != std::string::npos);
  CHECK_FALSE(has_event(*connector, EndpointEvent::Kind::kSessionUp));
}

TEST_CASE("a session whose answering side lacks the expected key fails the handshake") {
  // The rendezvous cannot be fooled about IDs (registration proves the key), so
  // impersonation is simulated by a listener endpoint that accepts an invite while
  // the connector's session expects a different ID: the DTLS certificate pinning
  // must reject it on the connector's side.
  World w;
  auto listener = w.add(Address::v4(203, 0, 113, 10, 4000), true);
  auto connector = w.add(Address::v4(192, 0, 2, 20, 5000), false);
  REQUIRE(w.run([&] { return listener->endpoint.registered() && connector->endpoint.registered(); },
                10s));
  crypto::SeededRandom other_rng(99);
  const crypto::NodeId impostor_target = make_identity(other_rng).id();
  // Two sessions built by hand on the same virtual net: the connector expects
  // `impostor_target` but reaches the listener's key.
  Sink cs_sink(w.net, connector->address), ls_sink(w.net, listener->address);
  Session cs(SessionRole::kConnector, 42, connector->identity, impostor_target, listener->address,
             w.rng, cs_sink);
  Session ls(SessionRole::kListener, 42, listener->identity, connector->identity.id(),
             connector->address, w.rng, ls_sink);
  cs.start(w.now);
  ls.start(w.now);
  for (int i = 0; i < 10000 && !(cs.ended() && ls.ended()); ++i) {
    cs.flush(w.now);
    ls.flush(w.now);
    if (!w.net.queue.empty()) {
      Datagram d = std::move(w.net.queue.front());
      w.net.queue.pop_front();
      auto p = wire::decode_session_packet(d.data);
      if (!p) continue;
      if (d.to == listener->address) ls.on_packet(*p, d.from, w.now);
      if (d.to == connector->address) cs.on_packet(*p, d.from, w.now);
      continue;
    }
    w.now = std::max(w.now, std::min(cs.next_deadline(), ls.next_deadline()));
    if (w.now == util::kNever) break;
    cs.on_timeout(w.now);
    ls.on_timeout(w.now);
  }
  CHECK(cs.ended());
  CHECK_FALSE(cs.established());
  CHECK(cs.end_reason().message().find(impostor_target.to_string()) != std::string::npos);
  CHECK(cs.end_reason().kind == transport::CloseKind::kHandshake);
  CHECK_FALSE(ls.established());
}

TEST_CASE("connecting to an ID nobody registered fails with a clear reason") {
  World w;
  auto connector = w.add(Address::v4(192, 0, 2, 20, 5000), false);
  REQUIRE(w.run([&] { return connector->endpoint.registered(); }, 10s));
  crypto::SeededRandom other_rng(5);
  connector->endpoint.connect(make_identity(other_rng).id(), w.now);
  REQUIRE(w.run([&] { return has_event(*connector, EndpointEvent::Kind::kConnectFailed); }, 20s));
  CHECK(find_event(*connector, EndpointEvent::Kind::kConnectFailed)->reason.find("no listener") !=
        std::string::npos);
}

}  // namespace punch::session

namespace punch::session {

TEST_CASE("refusing a second connector leaves the first session and registration intact") {
  World w;
  auto listener = w.add(Address::v4(203, 0, 113, 10, 4000), true);
  auto first = w.add(Address::v4(192, 0, 2, 20, 5000), false);
  auto second = w.add(Address::v4(192, 0, 2, 30, 6000), false);
  REQUIRE(w.run(
      [&] {
        return listener->endpoint.registered() && first->endpoint.registered() &&
               second->endpoint.registered();
      },
      10s));
  std::uint64_t busy = 0;
  auto policy = [&](Node& n, const EndpointEvent& e) {
    if (e.kind != EndpointEvent::Kind::kInvite) return;
    if (busy == 0) {
      busy = e.connection_id;
      n.endpoint.accept(e.connection_id, e.peer, w.now);
    } else {
      n.endpoint.refuse(e.connection_id, "busy", w.now);
    }
  };
  const std::uint64_t cid = first->endpoint.connect(listener->identity.id(), w.now);
  REQUIRE(w.run([&] { return has_event(*first, EndpointEvent::Kind::kSessionUp); }, 20s, policy));
  second->endpoint.connect(listener->identity.id(), w.now);
  REQUIRE(
      w.run([&] { return has_event(*second, EndpointEvent::Kind::kConnectFailed); }, 20s, policy));

  // The first session still carries data both ways, for longer than keepalives.
  Session* cs = first->endpoint.session(cid);
  REQUIRE(cs);
  const transport::StreamId sid = cs->connection().open_stream();
  const std::string msg = "still flowing";
  CHECK(cs->connection().write(sid, util::as_bytes(msg)) == msg.size());
  cs->connection().finish(sid);
  std::string got;
  REQUIRE(w.run(
      [&] {
        Session* ls = listener->endpoint.session(cid);
        if (!ls || !ls->established()) return false;
        std::uint8_t buf[256];
        while (std::size_t n = ls->connection().read(sid, buf)) got.append(buf, buf + n);
        return ls->connection().read_finished(sid);
      },
      20s, policy));
  CHECK(got == msg);
  const auto relayed = w.server.stats().relayed_packets;
  w.run([] { return false; }, 60s, policy);  // a minute of keepalives and PINGs
  CHECK(listener->endpoint.registered());
  CHECK_FALSE(has_event(*listener, EndpointEvent::Kind::kSessionDown));
  CHECK(w.server.stats().relayed_packets > relayed);
}

}  // namespace punch::session

namespace punch::session {

TEST_CASE("registration, handshake and a transfer both ways survive 5% random loss") {
  // Every datagram (control, handshake and data, in both directions and through
  // the relay) is dropped with probability 5 %, over several seeds.
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    CAPTURE(seed);
    World w;
    std::mt19937_64 loss(seed);
    std::uint64_t dropped = 0, passed = 0;
    w.net.drop = [&](const Datagram&) {
      const bool drop = loss() % 100 < 5;
      ++(drop ? dropped : passed);
      return drop;
    };
    auto listener = w.add(Address::v4(203, 0, 113, 10, 4000), true);
    auto connector = w.add(Address::v4(192, 0, 2, 20, 5000), false);
    const std::uint64_t cid = w.session_up(*listener, *connector, 30s);

    util::Bytes up(2'000'000), down(1'500'000);
    for (std::size_t i = 0; i < up.size(); ++i) up[i] = static_cast<std::uint8_t>(i * 13 + seed);
    for (std::size_t i = 0; i < down.size(); ++i) down[i] = static_cast<std::uint8_t>(i * 5 + 1);
    Session* cs = connector->endpoint.session(cid);
    REQUIRE(cs);
    const transport::StreamId sid = cs->connection().open_stream();
    std::size_t up_written = 0, down_written = 0;
    bool up_fin = false, down_fin = false;
    util::Bytes up_got, down_got;
    REQUIRE(w.run(
        [&] {
          Session* ls = listener->endpoint.session(cid);
          if (!ls || !ls->established()) return false;
          auto& cc = cs->connection();
          auto& lc = ls->connection();
          if (up_written < up.size())
            up_written += cc.write(sid, util::ByteView(up).subspan(up_written));
          if (up_written == up.size() && !up_fin) {
            cc.finish(sid);
            up_fin = true;
          }
          std::uint8_t buf[8192];
          while (std::size_t n = lc.read(sid, buf)) up_got.insert(up_got.end(), buf, buf + n);
          if (lc.read_finished(sid) || up_got.size() > 0) {
            // The listener answers on the same stream once the peer opened it.
            if (down_written < down.size())
              down_written += lc.write(sid, util::ByteView(down).subspan(down_written));
            if (down_written == down.size() && !down_fin) {
              lc.finish(sid);
              down_fin = true;
            }
          }
          while (std::size_t n = cc.read(sid, buf)) down_got.insert(down_got.end(), buf, buf + n);
          return lc.read_finished(sid) && cc.read_finished(sid);
        },
        300s, w.accept_invites()));
    CHECK(up_got == up);
    CHECK(down_got == down);
    CHECK_FALSE(has_event(*connector, EndpointEvent::Kind::kSessionDown));
    // The loss really happened, at about the rate asked for.
    CHECK(dropped > 10);
    CHECK(dropped * 100 > passed * 3);
    CHECK(dropped * 100 < passed * 8);
  }
}

}  // namespace punch::session

namespace punch::session {

TEST_CASE("a live session survives a rendezvous restart: the relay is rebuilt") {
  World w;
  auto listener = w.add(Address::v4(203, 0, 113, 10, 4000), true);
  auto connector = w.add(Address::v4(192, 0, 2, 20, 5000), false);
  const std::uint64_t cid = w.session_up(*listener, *connector);
  // The rendezvous forgets everything (a restart on the same address).
  w.server = rendezvous::Server(w.rng, w.rv_sink, nullptr, w.now);
  // Keepalives meet UNKNOWN, both re-register, the connector re-introduces the
  // session; PINGs keep flowing through the new relay the whole time.
  w.run([] { return false; }, 60s, w.accept_invites());
  CHECK(w.server.stats().relays == 1);
  Session* cs = connector->endpoint.session(cid);
  REQUIRE(cs);
  const transport::StreamId sid = cs->connection().open_stream();
  const std::string msg = "after the restart";
  REQUIRE(cs->connection().write(sid, util::as_bytes(msg)) == msg.size());
  cs->connection().finish(sid);
  std::string got;
  REQUIRE(w.run(
      [&] {
        Session* ls = listener->endpoint.session(cid);
        if (!ls) return false;
        std::uint8_t buf[256];
        while (std::size_t n = ls->connection().read(sid, buf)) got.append(buf, buf + n);
        return ls->connection().read_finished(sid);
      },
      20s, w.accept_invites()));
  CHECK(got == msg);
  CHECK_FALSE(has_event(*connector, EndpointEvent::Kind::kSessionDown));
  CHECK_FALSE(has_event(*listener, EndpointEvent::Kind::kSessionDown));
}

}  // namespace punch::session
