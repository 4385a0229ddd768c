#include "session/rendezvous_client.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "session/constants.hpp"
#include "unit/rendezvous/test_net.hpp"
#include "wire/packet_type.hpp"
#include "wire/rendezvous_message.hpp"
#include "wire/session_packet.hpp"

namespace wire = punch::wire;
namespace util = punch::util;
namespace crypto = punch::crypto;
using punch::rendezvous::test::Datagram;
using punch::rendezvous::test::make_identity;
using punch::rendezvous::test::TestNet;
using punch::session::RendezvousClient;
using Kind = punch::session::RendezvousEvent::Kind;
using namespace std::chrono_literals;

namespace {

const util::Address kPeerA = util::Address::v4(203, 0, 113, 10, 40000);
const util::Address kPeerB = util::Address::v4(203, 0, 113, 20, 50000);
const util::Address kStranger = util::Address::v4(192, 0, 2, 66, 6666);

bool is(const Datagram& d, wire::PacketType t) {
  return !d.data.empty() && d.data[0] == static_cast<std::uint8_t>(t);
}

// Hands `m` to the endpoint's client as if it came from `from`.
template <typename Message>
void deliver(TestNet& net, TestNet::Endpoint& ep, const util::Address& from, const Message& m) {
  util::Bytes b;
  wire::encode(m, b);
  ep.client->on_datagram(from, b, net.now());
  net.settle();
}

util::Bytes relayed_packet(std::uint64_t cid, std::string_view payload) {
  util::Bytes b;
  wire::encode_handshake_packet(cid, util::as_bytes(payload), b);
  return b;
}

// A listener and a connector, both registered.
struct ClientPair {
  TestNet net;
  crypto::Identity lid = make_identity(1);
  crypto::Identity cid_identity = make_identity(2);
  TestNet::Endpoint& listener = net.add_client(lid, kPeerA, true);
  TestNet::Endpoint& connector = net.add_client(cid_identity, kPeerB, false);
};

}  // namespace

TEST_CASE("client: registers and reports its reflexive address") {
  TestNet net;
  const auto id = make_identity(1);
  auto& ep = net.add_client(id, kPeerA, false, false);
  CHECK(ep.client->next_deadline() == util::kNever);
  CHECK_FALSE(ep.client->registered());
  ep.client->start(net.now());
  net.settle();
  CHECK(ep.client->registered());
  CHECK(ep.client->reflexive_address() == kPeerA);
  CHECK(ep.client->server() == net.server_address);
  REQUIRE(ep.events.size() == 1);
  CHECK(ep.events[0].kind == Kind::kRegistered);
  CHECK(ep.events[0].address == kPeerA);
  CHECK(ep.events[0].peer == id.id());
  CHECK(net.server->stats().registrations == 1);
}

TEST_CASE("client: learns the probe addresses from REGISTERED") {
  TestNet net;
  const auto other_ip = util::Address::v4(192, 0, 2, 3, 7778);
  net.server->set_probe_port(7778);
  net.server->set_probe_addresses({other_ip});
  const auto id = make_identity(1);
  auto& ep = net.add_client(id, kPeerA, false);
  REQUIRE(ep.client->registered());
  CHECK(ep.client->probe_addresses() == std::vector{util::Address::v4(0, 0, 0, 0, 7778), other_ip});
  net.server->set_probe_port(0);  // a rendezvous without any
  net.server->set_probe_addresses({});
  auto& other = net.add_client(make_identity(2), kPeerB, false);
  REQUIRE(other.client->registered());
  CHECK(other.client->probe_addresses().empty());
}

TEST_CASE("client: HELLO backs off from 250 ms to 4 s, reports unreachable once, never stops") {
  TestNet net;
  std::vector<util::Duration> hellos;
  const util::TimePoint t0 = net.now();
  net.drop = [&](const Datagram& d) {
    if (is(d, wire::PacketType::kHello)) hellos.push_back(net.now() - t0);
    return true;
  };
  const auto id = make_identity(1);
  auto& ep = net.add_client(id, kPeerA, true);
  net.run_for(4900ms);
  CHECK(ep.count(Kind::kUnreachable) == 0);
  net.run_for(100ms);
  CHECK(ep.count(Kind::kUnreachable) == 1);
  net.run_for(60s);
  CHECK(ep.count(Kind::kUnreachable) == 1);
  const std::vector<util::Duration> expected_start = {0ms,    250ms,  750ms,  1750ms,
                                                      3750ms, 7750ms, 11750ms};
  REQUIRE(hellos.size() > expected_start.size());
  for (std::size_t i = 0; i < expected_start.size(); ++i) CHECK(hellos[i] == expected_start[i]);
  for (std::size_t i = expected_start.size(); i < hellos.size(); ++i)
    CHECK(hellos[i] - hellos[i - 1] == 4s);

  // The rendezvous comes back: the next HELLO gets through.
  net.drop = nullptr;
  net.run_for(4s);
  CHECK(ep.client->registered());
  CHECK(ep.count(Kind::kRegistered) == 1);
  CHECK(ep.events.back().kind == Kind::kRegistered);
}

TEST_CASE("client: a lost REGISTER or CHALLENGE is covered by the HELLO retransmissions") {
  TestNet net;
  int registers = 0;
  int challenges = 0;
  net.drop = [&](const Datagram& d) {
    if (is(d, wire::PacketType::kRegister)) return ++registers == 1;
    if (is(d, wire::PacketType::kChallenge)) return ++challenges == 2;
    return false;
  };
  const auto id = make_identity(1);
  auto& ep = net.add_client(id, kPeerA, true);
  CHECK_FALSE(ep.client->registered());
  net.run_for(250ms);
  CHECK_FALSE(ep.client->registered());  // Second CHALLENGE lost.
  net.run_for(500ms);
  CHECK(ep.client->registered());
  CHECK(ep.count(Kind::kRegistered) == 1);
}

TEST_CASE("client: keepalives every 15 s; lost acks retransmitted at 1, 2, 4 s, then re-register") {
  TestNet net;
  const auto id = make_identity(1);
  auto& ep = net.add_client(id, kPeerA, true);
  const util::TimePoint t0 = net.now();
  std::vector<util::Duration> keepalives;
  std::vector<util::Duration> hellos;
  bool lose_acks = false;
  net.drop = [&](const Datagram& d) {
    if (is(d, wire::PacketType::kKeepalive)) keepalives.push_back(net.now() - t0);
    if (is(d, wire::PacketType::kHello)) hellos.push_back(net.now() - t0);
    return lose_acks && is(d, wire::PacketType::kKeepaliveAck);
  };
  net.run_for(45s);
  CHECK(keepalives == std::vector<util::Duration>{15s, 30s, 45s});

  lose_acks = true;
  keepalives.clear();
  net.run_for(15s);  // t0 + 60 s: the next keepalive, whose acks are lost.
  net.run_for(10s);
  CHECK(keepalives == std::vector<util::Duration>{60s, 61s, 63s, 67s});
  CHECK(hellos.empty());
  CHECK(ep.client->registered());
  lose_acks = false;
  net.run_for(1s);  // 4 s after the last retransmission: registration presumed lost.
  CHECK(hellos == std::vector<util::Duration>{71s});
  CHECK(ep.client->registered());  // The server still knew us and answered at once.
  CHECK(ep.count(Kind::kRegistered) == 2);
  CHECK(ep.count(Kind::kUnreachable) == 0);
  CHECK(net.server->stats().registrations == 1);
}

TEST_CASE("client: after a rendezvous restart, UNKNOWN makes it register again by itself") {
  TestNet net;
  const auto id = make_identity(1);
  auto& ep = net.add_client(id, kPeerA, true);
  net.run_for(20s);
  CHECK(ep.count(Kind::kRegistered) == 1);
  net.restart_server();
  CHECK(net.server->stats().registrations == 0);
  net.run_for(15s);  // The next keepalive meets the new server.
  CHECK(ep.client->registered());
  CHECK(ep.count(Kind::kRegistered) == 2);
  CHECK(ep.last(Kind::kRegistered).address == kPeerA);
  CHECK(ep.count(Kind::kUnreachable) == 0);
  CHECK(net.server->stats().registrations == 1);
  // And it stays registered.
  net.run_for(5min);
  CHECK(ep.count(Kind::kRegistered) == 2);
}

TEST_CASE("client: after a restart, connecting again with the same cid restores the relay") {
  ClientPair p;
  p.connector.client->connect(7, p.lid.id(), p.net.now());
  p.net.settle();
  p.listener.client->accept(7, p.net.now());
  p.net.settle();
  REQUIRE(p.connector.count(Kind::kConnectOk) == 1);

  p.net.restart_server();
  p.net.run_for(15s);
  REQUIRE(p.connector.count(Kind::kRegistered) == 2);
  REQUIRE(p.listener.count(Kind::kRegistered) == 2);
  // What the endpoint does on kRegistered for a session still on the relay.
  p.connector.client->connect(7, p.lid.id(), p.net.now());
  p.net.settle();
  // The listener answers the repeated INVITE with its earlier decision, silently.
  CHECK(p.listener.count(Kind::kInvite) == 1);
  CHECK(p.connector.count(Kind::kConnectOk) == 2);
  p.net.inject(kPeerB, relayed_packet(7, "back"));
  CHECK(p.net.inbox[kPeerA].size() == 1);
}

TEST_CASE("client: connect() waits for the registration, then CONNECT leaves at once") {
  TestNet net;
  const auto lid = make_identity(1);
  auto& listener = net.add_client(lid, kPeerA, true);
  int connects = 0;
  const auto cid_identity = make_identity(2);
  bool offline = true;
  net.drop = [&](const Datagram& d) {
    if (is(d, wire::PacketType::kConnect)) ++connects;
    return offline && d.from == kPeerB;
  };
  auto& connector = net.add_client(cid_identity, kPeerB, false);
  connector.client->connect(3, lid.id(), net.now());
  net.run_for(2s);
  CHECK(connects == 0);
  CHECK_FALSE(connector.client->registered());
  offline = false;
  net.run_for(2s);  // The next HELLO (at 1.75 s + 2 s) registers; CONNECT follows.
  CHECK(connector.client->registered());
  CHECK(connects == 1);
  CHECK(listener.count(Kind::kInvite) == 1);
}

TEST_CASE("client: CONNECT backs off from 500 ms to 4 s and gives up after 10 s") {
  ClientPair p;
  std::vector<util::Duration> connects;
  const util::TimePoint t0 = p.net.now();
  p.net.drop = [&](const Datagram& d) {
    if (is(d, wire::PacketType::kConnect)) {
      connects.push_back(p.net.now() - t0);
      return true;
    }
    return false;
  };
  p.connector.client->connect(99, p.lid.id(), p.net.now());
  p.net.run_for(9999ms);
  CHECK(p.connector.count(Kind::kConnectFailed) == 0);
  p.net.run_for(1ms);
  REQUIRE(p.connector.count(Kind::kConnectFailed) == 1);
  const auto& ev = p.connector.last(Kind::kConnectFailed);
  CHECK(ev.connection_id == 99);
  // Registered, so the silence is blamed on the peer, not the rendezvous.
  CHECK(ev.reason.find("is unreachable") != std::string::npos);
  CHECK(connects == std::vector<util::Duration>{0ms, 500ms, 1500ms, 3500ms, 7500ms});
  p.net.run_for(30s);
  CHECK(connects.size() == 5);
  CHECK(p.connector.count(Kind::kConnectFailed) == 1);
}

TEST_CASE("client: CONNECT_FAIL becomes a reason a user can act on") {
  ClientPair p;
  const auto stranger = make_identity(3);
  p.connector.client->connect(1, stranger.id(), p.net.now());
  p.net.settle();
  REQUIRE(p.connector.count(Kind::kConnectFailed) == 1);
  CHECK(p.connector.last(Kind::kConnectFailed).reason ==
        "no listener is registered under ID " + stranger.id().to_string());
  CHECK(p.connector.last(Kind::kConnectFailed).peer == stranger.id());

  auto fail = [&](std::uint64_t cid, std::uint8_t code, std::string reason) {
    p.connector.client->connect(cid, p.lid.id(), p.net.now());
    p.net.drop = [](const Datagram& d) { return is(d, wire::PacketType::kConnect); };
    deliver(p.net, p.connector, p.net.server_address, wire::ConnectFail{cid, code, reason});
    p.net.drop = nullptr;
    return p.connector.last(Kind::kConnectFailed).reason;
  };
  CHECK(fail(2, 3, "") == "rendezvous limit reached");
  CHECK(fail(3, 2, "busy") == "refused by peer: busy");
  CHECK(fail(4, 2, "") == "refused by peer");
  CHECK(fail(5, 2, "a\x1b[2Jb\xc2\x9b") == "refused by peer: a?[2Jb?");
  CHECK(fail(6, 9, "") == "rendezvous refused the connection (code 9)");
  CHECK(p.connector.count(Kind::kConnectFailed) == 6);
  // A late duplicate for a finished connect raises nothing.
  deliver(p.net, p.connector, p.net.server_address, wire::ConnectFail{2, 3, ""});
  CHECK(p.connector.count(Kind::kConnectFailed) == 6);
}

TEST_CASE("client: duplicate INVITEs raise one event and re-send the answer") {
  ClientPair p;
  int accepts = 0;
  p.net.drop = [&](const Datagram& d) {
    return is(d, wire::PacketType::kAccept) && ++accepts == 1;  // The first ACCEPT is lost.
  };
  p.connector.client->connect(5, p.lid.id(), p.net.now());
  p.net.settle();
  REQUIRE(p.listener.count(Kind::kInvite) == 1);
  p.listener.client->accept(5, p.net.now());
  p.net.settle();
  CHECK(p.connector.count(Kind::kConnectOk) == 0);
  p.net.run_for(500ms);  // CONNECT retransmitted -> INVITE again -> ACCEPT again.
  CHECK(accepts == 2);
  CHECK(p.listener.count(Kind::kInvite) == 1);
  REQUIRE(p.connector.count(Kind::kConnectOk) == 1);
  CHECK(p.connector.last(Kind::kConnectOk).address == kPeerA);
  CHECK(p.connector.last(Kind::kConnectOk).peer == p.lid.id());
  // A duplicate CONNECT_OK changes nothing, and retransmissions stop.
  p.net.run_for(20s);
  CHECK(p.connector.count(Kind::kConnectOk) == 1);
  CHECK(p.connector.count(Kind::kConnectFailed) == 0);
}

TEST_CASE("client: a lost REFUSE is re-sent on the next INVITE") {
  ClientPair p;
  int refuses = 0;
  p.net.drop = [&](const Datagram& d) {
    return is(d, wire::PacketType::kRefuse) && ++refuses == 1;
  };
  p.connector.client->connect(6, p.lid.id(), p.net.now());
  p.net.settle();
  p.listener.client->refuse(6, "go away", p.net.now());
  p.net.run_for(1s);
  CHECK(refuses == 2);
  CHECK(p.listener.count(Kind::kInvite) == 1);
  REQUIRE(p.connector.count(Kind::kConnectFailed) == 1);
  CHECK(p.connector.last(Kind::kConnectFailed).reason == "refused by peer: go away");
}

TEST_CASE(
    "client: REFUSEs are paced, so an invitation flood leaves room for ACCEPT and KEEPALIVE") {
  ClientPair p;
  std::size_t refuses = 0;
  p.net.drop = [&](const Datagram& d) {
    refuses += is(d, wire::PacketType::kRefuse) ? 1 : 0;
    return false;
  };
  // 200 unwanted invitations at once (forged here; through the rendezvous a flood of
  // CONNECTs from keys the listener does not allow), each refused.
  const crypto::NodeId stranger = make_identity(3).id();
  for (std::uint64_t cid = 1000; cid < 1200; ++cid) {
    deliver(p.net, p.listener, p.net.server_address, wire::Invite{cid, stranger, kEvil});
    p.listener.client->refuse(cid, "not authorized", p.net.now());
  }
  CHECK(refuses == punch::session::kRefuseBurst);
  // The rendezvous still takes our ACCEPT: the allowed connector gets through at once.
  p.connector.client->connect(5, p.lid.id(), p.net.now());
  p.net.settle();
  REQUIRE(p.listener.count(Kind::kInvite) == 201);
  p.listener.client->accept(5, p.net.now());
  p.net.settle();
  CHECK(p.connector.count(Kind::kConnectOk) == 1);

  // A steady flood (100/s for a minute) gets 10 REFUSEs a second, and the registration
  // lives on with its keepalives acknowledged.
  refuses = 0;
  for (std::uint64_t cid = 2000; cid < 8000; ++cid) {
    deliver(p.net, p.listener, p.net.server_address, wire::Invite{cid, stranger, kEvil});
    p.listener.client->refuse(cid, "not authorized", p.net.now());
    p.net.run_for(10ms);
  }
  CHECK(refuses <= 60 * punch::session::kRefuseRatePerSecond + punch::session::kRefuseBurst);
  CHECK(refuses >= 60 * punch::session::kRefuseRatePerSecond - punch::session::kRefuseBurst);
  CHECK(p.listener.client->registered());
  CHECK(p.listener.count(Kind::kRegistered) == 1);
}

TEST_CASE("client: refuse() cuts the reason to 200 bytes of valid UTF-8") {
  ClientPair p;
  p.connector.client->connect(8, p.lid.id(), p.net.now());
  p.net.settle();
  p.listener.client->refuse(8, std::string(300, 'z') + "\xff", p.net.now());
  p.net.settle();
  REQUIRE(p.connector.count(Kind::kConnectFailed) == 1);
  CHECK(p.connector.last(Kind::kConnectFailed).reason ==
        "refused by peer: " + std::string(200, 'z'));
}

TEST_CASE("client: forget() ends the memory of a cid") {
  ClientPair p;
  p.connector.client->connect(4, p.lid.id(), p.net.now());
  p.net.settle();
  p.listener.client->accept(4, p.net.now());
  p.net.settle();
  REQUIRE(p.listener.count(Kind::kInvite) == 1);
  p.listener.client->forget(4);
  deliver(p.net, p.listener, p.net.server_address, wire::Invite{4, p.cid_identity.id(), kPeerB});
  CHECK(p.listener.count(Kind::kInvite) == 2);
}

TEST_CASE("client: only datagrams from the server are processed") {
  ClientPair p;
  const auto before_l = p.listener.events.size();
  const auto before_c = p.connector.events.size();
  p.connector.client->connect(12, p.lid.id(), p.net.now());
  p.net.drop = [](const Datagram& d) { return is(d, wire::PacketType::kConnect); };
  deliver(p.net, p.listener, kStranger, wire::Invite{1, p.cid_identity.id(), kStranger});
  deliver(p.net, p.connector, kStranger, wire::ConnectOk{12, p.lid.id(), kStranger});
  deliver(p.net, p.connector, kStranger, wire::ConnectFail{12, 2, "spoofed"});
  deliver(p.net, p.listener, kStranger, wire::Unknown{p.listener.client->instance()});
  deliver(p.net, p.listener, kStranger, wire::KeepaliveAck{kStranger});
  CHECK(p.listener.events.size() == before_l);
  CHECK(p.connector.events.size() == before_c);
  CHECK(p.listener.client->registered());
  CHECK(p.listener.client->reflexive_address() == kPeerA);
  // From the server, an UNKNOWN for someone else's instance is ignored too.
  deliver(p.net, p.listener, p.net.server_address,
          wire::Unknown{p.listener.client->instance() + 1});
  CHECK(p.listener.client->registered());
  // And a CONNECT_OK naming another ID than the one asked for.
  deliver(p.net, p.connector, p.net.server_address,
          wire::ConnectOk{12, p.cid_identity.id(), kStranger});
  CHECK(p.connector.count(Kind::kConnectOk) == 0);
}

TEST_CASE("client: is_control accepts exactly the rendezvous types") {
  const std::uint8_t empty[1] = {0};
  CHECK_FALSE(RendezvousClient::is_control(util::ByteView(empty, 0)));
  for (int t = 0; t < 256; ++t) {
    const std::uint8_t b[2] = {static_cast<std::uint8_t>(t), 0};
    CHECK(RendezvousClient::is_control(b) == (t >= 0x01 && t <= 0x0d));
  }
}

TEST_CASE("client: the instance is random per client and kept across re-registration") {
  TestNet net;
  const auto id = make_identity(1);
  auto& one = net.add_client(id, kPeerA, true);
  auto& two = net.add_client(id, kPeerB, true);
  CHECK(one.client->instance() != two.client->instance());
  const auto before = one.client->instance();
  net.restart_server();
  net.run_for(16s);
  CHECK(one.count(Kind::kRegistered) == 2);
  CHECK(one.client->instance() == before);
}
