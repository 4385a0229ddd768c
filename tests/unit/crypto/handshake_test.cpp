#include "crypto/handshake.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "crypto/packet_protection.hpp"

using punch::crypto::Handshake;
using punch::crypto::Identity;
using punch::crypto::NodeId;
using punch::crypto::PacketProtection;
using punch::crypto::SeededRandom;
namespace util = punch::util;
using namespace std::chrono_literals;

namespace {

// Any origin will do: the handshake must only ever use the times it is given.
const util::TimePoint kHandshakeEpoch = util::TimePoint{} + 1000h;

Handshake::PeerCheck expect(NodeId id) {
  return [id](const NodeId& peer) -> util::Status {
    if (peer == id) return util::ok_status();
    return util::Error{"peer's key does not match the expected ID"};
  };
}

Handshake::PeerCheck accept_any() {
  return [](const NodeId&) -> util::Status { return util::ok_status(); };
}

// One datagram on the simulated link.
struct Sent {
  bool from_client;
  std::size_t index;  // per-sender count, from 0
  util::TimePoint at;
  std::size_t size;
  bool dropped;
};

// A client and a server joined by a link with a fixed one-way delay, driven by a
// virtual clock: deliveries and timer deadlines are events, processed in order.
struct HandshakePair {
  HandshakePair(std::uint64_t seed, Handshake::PeerCheck client_check = {},
                Handshake::PeerCheck server_check = {})
      : rng(seed),
        client_id(std::move(*Identity::generate(rng))),
        server_id(std::move(*Identity::generate(rng))),
        client(Handshake::Role::kClient, client_id,
               client_check ? client_check : expect(server_id.id()), rng),
        server(Handshake::Role::kServer, server_id, server_check ? server_check : accept_any(),
               rng) {}

  // Returns false to drop a datagram.
  std::function<bool(const Sent&)> keep = [](const Sent&) { return true; };
  util::Duration delay = 50ms;

  void collect(Handshake& from, bool from_client) {
    for (auto& d : from.take_outgoing()) {
      Sent s{from_client, from_client ? client_sent : server_sent, now, d.size(), false};
      (from_client ? client_sent : server_sent)++;
      s.dropped = !keep(s);
      log.push_back(s);
      CHECK(d.size() <= Handshake::kMaxDatagram);
      if (!s.dropped)
        queue.emplace(std::make_tuple(now + delay, seq++, !from_client), std::move(d));
    }
  }

  // Runs until nothing is pending or `limit` virtual time has passed.
  void run(util::Duration limit = 60s) {
    now = kHandshakeEpoch;
    client.start(now);
    server.start(now);
    collect(client, true);
    collect(server, false);
    int events = 0;
    while (events++ < 10000) {
      if (client.complete() && !client_done_at) client_done_at = now;
      if (server.complete() && !server_done_at) server_done_at = now;
      util::TimePoint next = std::min(client.next_deadline(), server.next_deadline());
      if (!queue.empty()) next = std::min(next, std::get<0>(queue.begin()->first));
      if (next == util::kNever || next - kHandshakeEpoch > limit) break;
      now = std::max(now, next);
      if (!queue.empty() && std::get<0>(queue.begin()->first) <= now) {
        auto node = queue.extract(queue.begin());
        const bool to_client = std::get<2>(node.key());
        (to_client ? client : server).on_datagram(node.mapped(), now);
      } else {
        if (client.next_deadline() <= now) client.on_timeout(now);
        if (server.next_deadline() <= now) server.on_timeout(now);
      }
      collect(client, true);
      collect(server, false);
    }
    CHECK(events < 10000);
  }

  std::size_t delivered(bool from_client) const {
    return static_cast<std::size_t>(std::count_if(log.begin(), log.end(), [&](const Sent& s) {
      return s.from_client == from_client && !s.dropped;
    }));
  }

  SeededRandom rng;
  Identity client_id;
  Identity server_id;
  Handshake client;
  Handshake server;
  util::TimePoint now = kHandshakeEpoch;
  std::map<std::tuple<util::TimePoint, int, bool>, util::Bytes> queue;
  int seq = 0;
  std::size_t client_sent = 0;
  std::size_t server_sent = 0;
  std::vector<Sent> log;
  std::optional<util::TimePoint> client_done_at;
  std::optional<util::TimePoint> server_done_at;
};

void check_agreed(const HandshakePair& p) {
  REQUIRE_MESSAGE(p.client.complete(), p.client.failure().value_or("not complete"));
  REQUIRE_MESSAGE(p.server.complete(), p.server.failure().value_or("not complete"));
  CHECK_FALSE(p.client.failure());
  CHECK_FALSE(p.server.failure());
  CHECK(p.client.peer_id() == p.server_id.id());
  CHECK(p.server.peer_id() == p.client_id.id());
  const auto& ck = p.client.keys();
  const auto& sk = p.server.keys();
  CHECK(ck.client_to_server.key == sk.client_to_server.key);
  CHECK(ck.client_to_server.iv == sk.client_to_server.iv);
  CHECK(ck.server_to_client.key == sk.server_to_client.key);
  CHECK(ck.server_to_client.iv == sk.server_to_client.iv);
  CHECK(ck.client_to_server.key != ck.server_to_client.key);
  CHECK(ck.client_to_server.iv != ck.server_to_client.iv);
  CHECK(ck.client_to_server.key != decltype(ck.client_to_server.key){});
}

}  // namespace

TEST_CASE("Handshake: completes in two round trips and both sides export the same keys") {
  HandshakePair p(1);
  p.run();
  check_agreed(p);
  // Client: ClientHello, then Certificate..Finished. Server: ServerHello..Done,
  // then ChangeCipherSpec+Finished. The server is done after 1.5 RTT, the client
  // after 2 RTT (no cookie exchange).
  REQUIRE(p.server_done_at);
  REQUIRE(p.client_done_at);
  CHECK(*p.server_done_at - kHandshakeEpoch == 150ms);
  CHECK(*p.client_done_at - kHandshakeEpoch == 200ms);
  // Each flight is one datagram, the server's first the largest (certificate,
  // signed key exchange, certificate request).
  REQUIRE(p.log.size() == 4);
  CHECK(p.log[0].size < 200);
  CHECK(p.log[1].size > p.log[2].size);
  CHECK(p.log[3].size < 100);
  // No retransmissions on a clean link: the flights above and nothing else.
  CHECK(p.client.next_deadline() == util::kNever);
  CHECK(p.server.next_deadline() == util::kNever);
  CHECK(p.client.cipher_suite() == "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256");
  CHECK(p.server.cipher_suite() == p.client.cipher_suite());

  // The keys really work across the pair, in the direction they are named for.
  PacketProtection seal_c2s(p.client.keys().client_to_server);
  PacketProtection open_c2s(p.server.keys().client_to_server);
  util::Bytes sealed, opened;
  seal_c2s.seal(0, util::as_bytes("hdr"), util::as_bytes("hello server"), sealed);
  CHECK(open_c2s.open(0, util::as_bytes("hdr"), sealed, opened));
  PacketProtection wrong_direction(p.server.keys().server_to_client);
  util::Bytes none;
  CHECK_FALSE(wrong_direction.open(0, util::as_bytes("hdr"), sealed, none));
}

TEST_CASE("Handshake: different sessions get different keys") {
  HandshakePair a(2), b(3);
  a.run();
  b.run();
  check_agreed(a);
  check_agreed(b);
  CHECK(a.client.keys().client_to_server.key != b.client.keys().client_to_server.key);
}

TEST_CASE("Handshake: client refuses a server whose key is not the expected ID") {
  SeededRandom other_rng(99);
  const auto stranger = Identity::generate(other_rng);
  REQUIRE(stranger.ok());
  HandshakePair p(4, expect(stranger->id()));
  p.run();
  CHECK_FALSE(p.client.complete());
  CHECK_FALSE(p.server.complete());
  CHECK(p.client.failure() == "peer's key does not match the expected ID");
  // The client's fatal alert reaches the server, which fails rather than waiting.
  CHECK(p.server.failure() == "handshake failed: peer refused our identity (alert unknown_ca, 48)");
  CHECK(p.client.next_deadline() == util::kNever);
  CHECK(p.server.next_deadline() == util::kNever);
  // Both sides gave up promptly, not by timing out.
  CHECK(p.now - kHandshakeEpoch < 1s);
}

TEST_CASE("Handshake: server's PeerCheck refusal fails both sides with the server's reason") {
  NodeId seen;
  HandshakePair p(5, {}, [&seen](const NodeId& peer) -> util::Status {
    seen = peer;
    return util::Error{"listener does not accept this peer"};
  });
  p.run();
  CHECK(seen == p.client_id.id());
  CHECK_FALSE(p.server.complete());
  CHECK_FALSE(p.client.complete());
  CHECK(p.server.failure() == "listener does not accept this peer");
  CHECK(p.client.failure() == "handshake failed: peer refused our identity (alert unknown_ca, 48)");
  CHECK(p.now - kHandshakeEpoch < 1s);
}

TEST_CASE("Handshake: a PeerCheck that throws refuses, without unwinding through mbedTLS") {
  HandshakePair p(40, {},
                  [](const NodeId&) -> util::Status { throw std::runtime_error("policy broken"); });
  p.run();
  CHECK(p.server.failure() == "peer check failed: policy broken");
  CHECK_FALSE(p.client.complete());
}

TEST_CASE("Handshake: refusal whose alert is lost leaves the other side to time out") {
  HandshakePair p(6, {}, [](const NodeId&) -> util::Status { return util::Error{"no"}; });
  // Drop everything the server sends after its first flight (that is, the alert).
  p.keep = [](const Sent& s) { return s.from_client || s.index == 0; };
  p.run();
  CHECK(p.server.failure() == "no");
  CHECK(p.client.failure() == "handshake timed out");
}

TEST_CASE("Handshake: completes when every third datagram is lost") {
  for (std::uint64_t seed : {10, 11, 12}) {
    for (std::size_t phase : {0u, 1u, 2u, 3u}) {
      CAPTURE(seed);
      CAPTURE(phase);
      HandshakePair p(seed);
      // Per direction, in each of the phases that hit a clean handshake's
      // datagrams. A global count would, with two client datagrams per server one,
      // drop every copy of the server's last flight, which nothing survives.
      const std::size_t client_phase = phase & 1, server_phase = phase >> 1;
      p.keep = [=](const Sent& s) {
        return s.index % 3 != (s.from_client ? client_phase : server_phase);
      };
      p.run();
      std::string trace;
      for (const auto& s : p.log)
        trace += std::string(s.from_client ? "C" : "S") + std::to_string(s.index) + ":" +
                 std::to_string(s.size) + (s.dropped ? "x" : "") + "@" +
                 std::to_string((s.at - kHandshakeEpoch) / 1ms) + " ";
      CAPTURE(trace);
      check_agreed(p);
      CHECK(std::any_of(p.log.begin(), p.log.end(), [](const Sent& s) { return s.dropped; }));
    }
  }
}

TEST_CASE("Handshake: a lost final flight is resent by the already complete server") {
  HandshakePair p(7);
  // The server's second flight (ChangeCipherSpec + Finished) is lost once.
  bool dropped_once = false;
  p.keep = [&](const Sent& s) {
    if (!s.from_client && s.index == 1 && !dropped_once) {
      dropped_once = true;
      return false;
    }
    return true;
  };
  p.run();
  check_agreed(p);
  REQUIRE(dropped_once);
  REQUIRE(p.server_done_at);
  REQUIRE(p.client_done_at);
  CHECK(*p.server_done_at - kHandshakeEpoch == 150ms);
  // The client sent its last flight at 100 ms and resends it when its 400 ms timer
  // fires (500 ms); the complete server answers at 550 ms, the client completes at 600.
  CHECK(*p.client_done_at - kHandshakeEpoch == 600ms);
  CHECK(p.server_sent == 3);
}

TEST_CASE("Handshake: gives up after the retransmission schedule (400 ms doubling to 6400 ms)") {
  HandshakePair p(8);
  p.keep = [](const Sent&) { return false; };
  p.run();
  CHECK(p.client.failure() == "handshake timed out");
  CHECK(p.now - kHandshakeEpoch == 12400ms);  // 400 + 800 + 1600 + 3200 + 6400
  // ClientHello once plus four retransmissions.
  CHECK(p.client_sent == 5);
  CHECK(p.client.next_deadline() == util::kNever);
  // A server that never heard anything has no timer of its own.
  CHECK_FALSE(p.server.failure());
  CHECK(p.server.next_deadline() == util::kNever);
}

TEST_CASE("Handshake: garbage, stray and undecryptable datagrams are ignored, not fatal") {
  HandshakePair p(9);
  SeededRandom junk_rng(1234);
  // Before every real datagram, feed each side junk: random bytes and random bytes
  // behind a plausible DTLS 1.2 handshake record header.
  p.keep = [&](const Sent&) {
    for (int i = 0; i < 3; ++i) {
      util::Bytes junk(1 + junk_rng.u64() % 300);
      junk_rng.fill(junk);
      if (i == 1 && junk.size() > 13) {
        junk[0] = 22;
        junk[1] = 0xfe;
        junk[2] = 0xfd;
        junk[3] = 0;
        junk[4] = 1;  // epoch 1: fails decryption (or comes too early) and is dropped
        junk[11] = static_cast<std::uint8_t>((junk.size() - 13) >> 8);
        junk[12] = static_cast<std::uint8_t>(junk.size() - 13);
      }
      if (i == 2) junk.clear();
      p.client.on_datagram(junk, p.now);
      p.server.on_datagram(junk, p.now);
    }
    return true;
  };
  p.run();
  std::string trace;
  for (const auto& s : p.log)
    trace += std::string(s.from_client ? "C" : "S") + std::to_string(s.index) + ":" +
             std::to_string(s.size) + (s.dropped ? "x" : "") + "@" +
             std::to_string((s.at - kHandshakeEpoch) / 1ms) + " ";
  CAPTURE(trace);
  check_agreed(p);
}

TEST_CASE("Handshake: survives being moved mid-handshake") {
  SeededRandom rng(20);
  auto cid_r = Identity::generate(rng);
  const Identity& cid = *cid_r;
  auto sid_r = Identity::generate(rng);
  const Identity& sid = *sid_r;
  Handshake client(Handshake::Role::kClient, cid, expect(sid.id()), rng);
  Handshake server(Handshake::Role::kServer, sid, accept_any(), rng);
  util::TimePoint t = kHandshakeEpoch;
  client.start(t);
  // The server may be fed before start(); it starts on the first datagram.
  for (auto& d : client.take_outgoing()) server.on_datagram(d, t);
  Handshake moved_server(std::move(server));
  Handshake moved_client(std::move(client));
  for (int round = 0; round < 4; ++round) {
    for (auto& d : moved_server.take_outgoing()) moved_client.on_datagram(d, t);
    for (auto& d : moved_client.take_outgoing()) moved_server.on_datagram(d, t);
  }
  CHECK(moved_client.complete());
  CHECK(moved_server.complete());
  CHECK(moved_client.keys().server_to_client.key == moved_server.keys().server_to_client.key);
}

TEST_CASE("Handshake: a server ignores a forged ClientHello and still serves the real one") {
  // mbedTLS would fail the server on any first datagram that is not a good
  // ClientHello; the Handshake starts over instead, so junk cannot cost a listener
  // its session.
  HandshakePair p(30);
  const util::Bytes forged = {22, 0xfe, 0xfd, 0,    0, 0, 0, 0, 0, 0, 0, 0, 12,
                              1,  0,    0x03, 0xe8, 0, 0, 0, 0, 0, 0, 0, 0};
  p.server.on_datagram(forged, kHandshakeEpoch);
  p.server.on_datagram(util::as_bytes("not dtls at all"), kHandshakeEpoch);
  CHECK_FALSE(p.server.failure());
  CHECK(p.server.take_outgoing().empty());  // no alert in answer to junk
  CHECK(p.server.next_deadline() == util::kNever);
  p.run();
  check_agreed(p);
}

TEST_CASE("Handshake: a client fails cleanly on a forged, malformed handshake record") {
  // DTLS 1.2 cannot authenticate the first flights, and mbedTLS treats a
  // well-framed but malformed handshake message as fatal: whoever can inject into
  // the session can abort its handshake. All we promise is a clean failure, after
  // which input is ignored rather than fed to a dead mbedTLS context.
  SeededRandom rng(31);
  auto id = Identity::generate(rng);
  REQUIRE(id.ok());
  Handshake client(Handshake::Role::kClient, *id, accept_any(), rng);
  client.start(kHandshakeEpoch);
  CHECK(client.take_outgoing().size() == 1);
  CHECK(client.next_deadline() == kHandshakeEpoch + 400ms);
  // Record header: handshake(22), DTLS 1.2, epoch 0, seq 0, length 12; then a
  // ServerHello header claiming 1000 bytes with a fragment running past the record.
  const util::Bytes forged = {22, 0xfe, 0xfd, 0,    0, 0, 0, 0, 0, 0, 0,    0,   12,
                              2,  0,    0x03, 0xe8, 0, 0, 0, 0, 0, 0, 0x03, 0xe8};
  client.on_datagram(forged, kHandshakeEpoch + 10ms);
  CHECK_FALSE(client.complete());
  REQUIRE(client.failure());
  CHECK(client.failure()->find("handshake failed: ") == 0);
  CHECK(client.next_deadline() == util::kNever);
  client.on_datagram(forged, kHandshakeEpoch + 1s);
  client.on_timeout(kHandshakeEpoch + 2s);
  CHECK(client.take_outgoing().size() <= 1);  // at most an alert
}
