// Two Sessions joined by an in-memory, zero-latency network on the shared virtual
// clock (sim::VirtualLoop): the real DTLS handshake, packet protection and
// transport, no sockets.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/identity.hpp"
#include "crypto/random.hpp"
#include "session/constants.hpp"
#include "session/session.hpp"
#include "sim/virtual_loop.hpp"
#include "wire/path_frame.hpp"
#include "wire/session_packet.hpp"

namespace session = punch::session;
namespace crypto = punch::crypto;
namespace transport = punch::transport;
namespace util = punch::util;
namespace wire = punch::wire;
using session::Session;
using session::SessionRole;
using util::Address;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kCid = 0x5e55100000000c1d;
const Address kConnectorAddress = Address::v4(192, 0, 2, 1, 4000);
const Address kListenerAddress = Address::v4(198, 51, 100, 2, 5000);

struct Datagram {
  Address from;
  Address to;
  util::Bytes data;
};

crypto::Identity make_identity(std::uint64_t seed) {
  crypto::SeededRandom rng(seed);
  auto id = crypto::Identity::generate(rng);
  REQUIRE(id.ok());
  return std::move(id.value());
}

bool is_kind(const Datagram& d, wire::SessionKind kind) {
  const auto p = wire::decode_session_packet(d.data);
  return p && p->kind == kind;
}

// Queues what a session sends, stamped with the sender's address; never calls back.
class Sink final : public util::DatagramSink {
 public:
  Sink(std::deque<Datagram>& queue, Address self) : queue_(queue), self_(self) {}
  void send(const Address& to, util::ByteView data) override {
    queue_.push_back({self_, to, util::Bytes(data.begin(), data.end())});
  }

 private:
  std::deque<Datagram>& queue_;
  Address self_;
};

// A connector and a listener with one connection ID, and the network between them.
struct SessionPair {
  explicit SessionPair(std::uint64_t seed, std::optional<crypto::NodeId> connector_expects = {},
                       std::optional<crypto::NodeId> listener_expects = {})
      : connector_id(make_identity(seed)),
        listener_id(make_identity(seed + 1)),
        connector_rng(seed + 2),
        listener_rng(seed + 3),
        connector_sink(queue, kConnectorAddress),
        listener_sink(queue, kListenerAddress),
        connector(SessionRole::kConnector, kCid, connector_id,
                  connector_expects.value_or(listener_id.id()), kListenerAddress, connector_rng,
                  connector_sink),
        listener(SessionRole::kListener, kCid, listener_id,
                 listener_expects.value_or(connector_id.id()), kConnectorAddress, listener_rng,
                 listener_sink) {}

  util::TimePoint now() const { return loop.now(); }

  Session& at(const Address& a) { return a == kConnectorAddress ? connector : listener; }

  void start() {
    listener.start(now());
    connector.start(now());
    settle();
  }

  // Hands one datagram to the session it is addressed to.
  void deliver(const Datagram& d) {
    const auto p = wire::decode_session_packet(d.data);
    REQUIRE(p);
    at(d.to).on_packet(*p, d.from, now());
  }

  // Delivers queued datagrams (and whatever they cause) until nothing moves;
  // datagrams `hold` picks are set aside in `held` instead.
  void settle() {
    for (int guard = 0;; ++guard) {
      REQUIRE(guard < 100'000);
      connector.flush(now());
      listener.flush(now());
      if (queue.empty()) break;
      Datagram d = std::move(queue.front());
      queue.pop_front();
      ++delivered;
      if (hold && hold(d)) {
        held.push_back(std::move(d));
        continue;
      }
      deliver(d);
    }
  }

  // Advances the clock to `t`, running timers due on the way.
  void run_until(util::TimePoint t) {
    REQUIRE(loop.run_to(t));
    settle();
  }

  void run_for(util::Duration d) { run_until(now() + d); }

  // Starts and completes the handshake; fails the test if it does not.
  void establish() {
    start();
    run_for(1s);
    REQUIRE(connector.established());
    REQUIRE(listener.established());
  }

  // Takes the queued datagrams without delivering them.
  std::vector<Datagram> take_queue() {
    std::vector<Datagram> out(std::make_move_iterator(queue.begin()),
                              std::make_move_iterator(queue.end()));
    queue.clear();
    return out;
  }

  std::deque<Datagram> queue;
  std::function<bool(const Datagram&)> hold;
  std::vector<Datagram> held;
  std::size_t delivered = 0;
  crypto::Identity connector_id;
  crypto::Identity listener_id;
  crypto::SeededRandom connector_rng;
  crypto::SeededRandom listener_rng;
  Sink connector_sink;
  Sink listener_sink;
  Session connector;
  Session listener;
  // Due timers, then everything they caused, delivered at once.
  punch::sim::VirtualLoop loop{
      punch::sim::LoopConfig{util::TimePoint{} + 1000h, 20'000'000, false, true},
      punch::sim::LoopModel{
          [this] { return std::min(connector.next_deadline(), listener.next_deadline()); },
          [this] {
            if (connector.next_deadline() <= now()) connector.on_timeout(now());
            if (listener.next_deadline() <= now()) listener.on_timeout(now());
          },
          [this] { settle(); }}};
};

// Everything readable on `stream` now.
std::string read_all(transport::Connection& c, transport::StreamId stream) {
  std::string out;
  std::uint8_t buf[4096];
  while (const std::size_t n = c.read(stream, buf)) out.append(buf, buf + n);
  return out;
}

// The first stream the peer opened, from the pending events; nullopt if none.
std::optional<transport::StreamId> opened_stream(transport::Connection& c) {
  std::optional<transport::StreamId> out;
  while (auto e = c.poll_event())
    if (e->kind == transport::Event::Kind::kStreamOpened && !out) out = e->stream;
  return out;
}

// Writes `text` on a new stream of `from` and returns the stream.
transport::StreamId send_text(Session& from, const std::string& text) {
  transport::Connection& c = from.connection();
  const transport::StreamId s = c.open_stream();
  REQUIRE(c.write(s, util::as_bytes(text)) == text.size());
  return s;
}

}  // namespace

TEST_CASE("the handshake completes and a stream carries bytes both ways") {
  SessionPair p(10);
  CHECK_FALSE(p.connector.established());
  CHECK_FALSE(p.listener.established());
  CHECK(p.connector.role() == SessionRole::kConnector);
  CHECK(p.listener.role() == SessionRole::kListener);
  p.establish();
  CHECK_FALSE(p.connector.ended());
  CHECK_FALSE(p.listener.ended());
  CHECK(p.connector.end_reason().message().empty());
  CHECK(p.connector.peer() == p.listener_id.id());
  CHECK(p.listener.peer() == p.connector_id.id());
  CHECK(p.connector.connection_id() == kCid);
  CHECK(p.connector.path() == kListenerAddress);
  CHECK(p.listener.path() == kConnectorAddress);

  const transport::StreamId s = send_text(p.connector, "hello, listener");
  p.settle();
  const auto opened = opened_stream(p.listener.connection());
  REQUIRE(opened);
  CHECK(*opened == s);
  CHECK(read_all(p.listener.connection(), s) == "hello, listener");

  const std::string reply = "hello, connector";
  REQUIRE(p.listener.connection().write(s, util::as_bytes(reply)) == reply.size());
  p.settle();
  CHECK(read_all(p.connector.connection(), s) == reply);

  CHECK(p.delivered > 0);
  CHECK(p.connector.stats().undecryptable == 0);
  CHECK(p.listener.stats().undecryptable == 0);
  CHECK(p.connector.stats().early_dropped == 0);
}

TEST_CASE("every datagram a session sends carries its cid and fits kMaxDatagram") {
  SessionPair p(20);
  std::vector<Datagram> seen;
  p.hold = [&seen](const Datagram& d) {
    seen.push_back(d);
    return false;
  };
  p.establish();
  send_text(p.connector, std::string(20'000, 'x'));
  p.run_for(2s);
  REQUIRE_FALSE(seen.empty());
  bool protected_seen = false;
  for (const auto& d : seen) {
    CHECK(d.data.size() <= Session::kMaxDatagram);
    const auto pk = wire::decode_session_packet(d.data);
    REQUIRE(pk);
    CHECK(pk->connection_id == kCid);
    protected_seen = protected_seen || pk->kind == wire::SessionKind::kProtected;
  }
  CHECK(protected_seen);
}

TEST_CASE("a tampered protected packet is counted and dropped, and the session goes on") {
  SessionPair p(30);
  p.establish();
  const transport::StreamId s = send_text(p.connector, "intact");
  p.connector.flush(p.now());
  std::vector<Datagram> out = p.take_queue();
  REQUIRE(out.size() == 1);
  REQUIRE(is_kind(out[0], wire::SessionKind::kProtected));
  const Datagram original = out[0];

  // One flipped bit in the packet number (associated data), the ciphertext, the tag.
  const std::size_t positions[] = {wire::kProtectedHeaderSize - 1, wire::kProtectedHeaderSize,
                                   original.data.size() - 1};
  std::uint64_t expected_failures = 0;
  for (std::size_t pos : positions) {
    CAPTURE(pos);
    Datagram bad = original;
    bad.data[pos] ^= 0x01;
    p.deliver(bad);
    CHECK(p.listener.stats().undecryptable == ++expected_failures);
    CHECK_FALSE(p.listener.ended());
  }
  // A body too short to hold a tag is just as harmless.
  Datagram stub = original;
  stub.data.resize(wire::kProtectedHeaderSize + 3);
  p.deliver(stub);
  CHECK(p.listener.stats().undecryptable == ++expected_failures);
  CHECK_FALSE(p.listener.ended());
  CHECK_FALSE(opened_stream(p.listener.connection()));

  p.deliver(original);
  p.settle();
  CHECK(read_all(p.listener.connection(), s) == "intact");
  CHECK_FALSE(p.listener.ended());
  CHECK_FALSE(p.connector.ended());
}

TEST_CASE("a replayed protected packet does no harm") {
  SessionPair p(40);
  p.establish();
  const transport::StreamId s = send_text(p.connector, "once only");
  p.connector.flush(p.now());
  std::vector<Datagram> out = p.take_queue();
  REQUIRE(out.size() == 1);
  const Datagram original = out[0];
  p.deliver(original);
  p.settle();
  CHECK(read_all(p.listener.connection(), s) == "once only");
  const auto duplicates_before = p.listener.connection().stats().duplicate_packets;

  // Replayed at once, and again later after more traffic.
  p.deliver(original);
  p.settle();
  const std::string more = " and more";
  REQUIRE(p.connector.connection().write(s, util::as_bytes(more)) == more.size());
  p.run_for(100ms);
  p.deliver(original);
  p.settle();

  CHECK(read_all(p.listener.connection(), s) == more);
  CHECK(read_all(p.listener.connection(), s).empty());
  // The session drops them before the transport (or the path manager) sees them.
  CHECK(p.listener.stats().replayed == 2);
  CHECK(p.listener.connection().stats().duplicate_packets == duplicates_before);
  CHECK(p.listener.stats().undecryptable == 0);  // Authentic, just old.
  CHECK_FALSE(p.listener.ended());
  CHECK_FALSE(p.connector.ended());
}

TEST_CASE("a packet replayed from another address teaches the path nothing and gets no answer") {
  SessionPair p(41);
  p.establish();
  p.run_for(1s);
  send_text(p.connector, "captured");
  p.connector.flush(p.now());
  std::vector<Datagram> out = p.take_queue();
  REQUIRE(out.size() == 1);
  p.deliver(out[0]);
  p.settle();

  // An attacker replays the captured packet from an address of its choice, where the
  // listener would send path challenges if it took the address for a peer-reflexive one.
  const Address evil = Address::v4(203, 0, 113, 66, 6666);
  std::size_t sent_to_evil = 0;
  p.hold = [&](const Datagram& d) {
    sent_to_evil += d.to == evil ? 1 : 0;
    return d.to == evil;
  };
  for (int i = 0; i < 5; ++i) {
    Datagram replay = out[0];
    replay.from = evil;
    p.deliver(replay);
    p.run_for(1s);
  }
  CHECK(sent_to_evil == 0);
  CHECK(p.listener.stats().replayed == 5);
  CHECK_FALSE(p.listener.direct());
  CHECK_FALSE(p.listener.ended());
}

TEST_CASE("replayed packets do not keep a session alive after its peer fell silent") {
  SessionPair p(42);
  p.establish();
  send_text(p.connector, "last words");
  p.connector.flush(p.now());
  std::vector<Datagram> out = p.take_queue();
  REQUIRE(out.size() == 1);
  p.deliver(out[0]);
  p.settle();
  const util::TimePoint silent_since = p.now();

  // The network dies; an attacker replays the last packet every 5 s.
  p.hold = [](const Datagram&) { return true; };
  while (!p.listener.ended() && p.now() - silent_since < 120s) {
    p.deliver(out[0]);
    p.run_for(5s);
  }
  REQUIRE(p.listener.ended());
  CHECK(p.listener.end_reason().kind == transport::CloseKind::kIdle);
  // kIdleTimeout (30 s) after the last genuine packet, to the 5 s step of the replays.
  CHECK(p.now() - silent_since <= transport::kIdleTimeout + 5s);
  CHECK(p.listener.stats().replayed > 0);
}

TEST_CASE("a session whose peer never starts the handshake ends after kHandshakeTimeout") {
  SessionPair p(43);
  // The connector never sends: the listener accepted an invitation nobody follows up.
  p.hold = [](const Datagram&) { return true; };
  p.start();
  const util::TimePoint began = p.now();
  p.run_until(began + session::kHandshakeTimeout - 1ms);
  CHECK_FALSE(p.listener.ended());
  CHECK(p.listener.next_deadline() == began + session::kHandshakeTimeout);
  p.run_until(began + session::kHandshakeTimeout);
  REQUIRE(p.listener.ended());
  CHECK(p.listener.end_reason().kind == transport::CloseKind::kHandshake);
  CHECK(p.listener.end_reason().message().find("handshake timed out") != std::string::npos);
  CHECK(p.listener.next_deadline() == util::kNever);
  // The connector, whose flights all went unanswered, is bounded by it too.
  CHECK(p.connector.ended());
}

TEST_CASE("protected packets that beat the connector's handshake are held and used") {
  SessionPair p(50);
  // Hold back the listener's final handshake flight: the listener is established,
  // the connector is not, so the listener's protected packets arrive early.
  p.hold = [&p](const Datagram& d) {
    return d.from == kListenerAddress && p.listener.established() &&
           is_kind(d, wire::SessionKind::kHandshake);
  };
  p.start();
  REQUIRE(p.listener.established());
  REQUIRE_FALSE(p.connector.established());
  REQUIRE_FALSE(p.held.empty());

  const transport::StreamId s = send_text(p.listener, "sent before you knew");
  p.settle();
  CHECK_FALSE(p.connector.established());
  CHECK(p.connector.stats().early_dropped == 0);
  CHECK(p.connector.stats().undecryptable == 0);

  // Release the flight; the listener sends nothing more, so the data can only
  // come from the packets the connector kept.
  p.hold = {};
  const std::vector<Datagram> flight = std::move(p.held);
  p.held.clear();
  for (const auto& d : flight) p.deliver(d);
  REQUIRE(p.connector.established());
  const auto opened = opened_stream(p.connector.connection());
  REQUIRE(opened);
  CHECK(*opened == s);
  CHECK(read_all(p.connector.connection(), s) == "sent before you knew");
  CHECK(p.connector.stats().undecryptable == 0);

  p.settle();
  CHECK_FALSE(p.connector.ended());
  CHECK_FALSE(p.listener.ended());
}

TEST_CASE("early protected packets beyond the holding limit are dropped and counted") {
  SessionPair p(60);
  p.hold = [&p](const Datagram& d) {
    return d.from == kListenerAddress && p.listener.established();
  };
  p.start();
  REQUIRE(p.listener.established());
  REQUIRE_FALSE(p.connector.established());
  send_text(p.listener, "x");
  p.listener.flush(p.now());
  std::vector<Datagram> early;
  for (auto& d : p.take_queue())
    if (is_kind(d, wire::SessionKind::kProtected)) early.push_back(d);
  REQUIRE_FALSE(early.empty());
  for (int i = 0; i < 20; ++i) p.deliver(early[0]);
  CHECK_FALSE(p.connector.established());
  CHECK(p.connector.stats().early_dropped == 4);  // 16 are held.
  CHECK_FALSE(p.connector.ended());
}

TEST_CASE("a peer that proves another key fails the handshake, naming both IDs") {
  const crypto::NodeId stranger = make_identity(999).id();
  SUBCASE("the connector expects someone else") {
    SessionPair p(70, stranger);
    p.start();
    p.run_for(5s);
    CHECK(p.connector.ended());
    CHECK_FALSE(p.connector.established());
    const std::string why = p.connector.end_reason().message();
    CHECK(why.find(p.listener_id.id().to_string()) != std::string::npos);
    CHECK(why.find(stranger.to_string()) != std::string::npos);
    CHECK_FALSE(p.listener.established());
    CHECK(p.connector.next_deadline() == util::kNever);
  }
  SUBCASE("the listener expects someone else") {
    SessionPair p(80, std::nullopt, stranger);
    p.start();
    p.run_for(5s);
    CHECK(p.listener.ended());
    CHECK_FALSE(p.listener.established());
    const std::string why = p.listener.end_reason().message();
    CHECK(why.find(p.connector_id.id().to_string()) != std::string::npos);
    CHECK(why.find(stranger.to_string()) != std::string::npos);
  }
}

TEST_CASE("close() sends its reason and the peer ends with it") {
  SessionPair p(90);
  p.establish();
  SUBCASE("connector closes") {
    p.connector.close(7, "done for today", p.now());
    CHECK(p.connector.ended());
    CHECK(p.connector.end_reason().message() == "done for today");
    CHECK(p.connector.end_reason().origin == transport::CloseOrigin::kLocal);
    CHECK_FALSE(p.listener.ended());
    p.settle();
    CHECK(p.listener.ended());
    CHECK(p.listener.end_reason().message() == "peer: done for today");
    CHECK(p.listener.end_reason().peer_application(7));
  }
  SUBCASE("listener closes") {
    p.listener.close(0, "shutting down", p.now());
    p.settle();
    CHECK(p.connector.ended());
    CHECK(p.connector.end_reason().message() == "peer: shutting down");
    CHECK(p.connector.end_reason().peer_application(0));
  }
  // An ended session ignores what still arrives and has no timers.
  const std::size_t before = p.queue.size();
  p.connector.close(1, "again", p.now());
  p.listener.close(1, "again", p.now());
  CHECK(p.connector.end_reason().message() != "again");
  CHECK(p.queue.size() == before);
  CHECK(p.connector.next_deadline() == util::kNever);
  CHECK(p.listener.next_deadline() == util::kNever);
}

TEST_CASE("close() during the handshake abandons it quietly") {
  SessionPair p(100);
  p.connector.start(p.now());
  p.connector.close(1, "changed my mind", p.now());
  CHECK(p.connector.ended());
  CHECK(p.connector.end_reason().message() == "changed my mind");
  CHECK(p.connector.next_deadline() == util::kNever);
}

TEST_CASE("path MTU: datagrams grow to kMaxDatagram where the network carries them") {
  SessionPair p(50);
  std::size_t largest = 0;
  p.hold = [&largest](const Datagram& d) {
    largest = std::max(largest, d.data.size());
    return false;
  };
  p.establish();
  const std::string text(300'000, 'm');
  const transport::StreamId s = send_text(p.connector, text);
  p.run_for(2s);
  REQUIRE(opened_stream(p.listener.connection()));
  CHECK(read_all(p.listener.connection(), s) == text);
  CHECK(p.connector.connection().stats().max_datagram == Session::kMaxDatagram);
  CHECK(largest == Session::kMaxDatagram);
}

TEST_CASE("path MTU: a network dropping datagrams above 1452 bytes keeps them at 1452") {
  // As a 1500-byte Ethernet MTU under IPv6 would, with DF set on the socket.
  SessionPair p(60);
  std::size_t largest_passed = 0;
  p.hold = [&largest_passed](const Datagram& d) {
    if (d.data.size() > 1452) return true;
    largest_passed = std::max(largest_passed, d.data.size());
    return false;
  };
  p.establish();
  const std::string text(300'000, 'e');
  const transport::StreamId s = send_text(p.connector, text);
  p.run_for(5s);
  REQUIRE(opened_stream(p.listener.connection()));
  CHECK(read_all(p.listener.connection(), s) == text);
  const transport::Stats st = p.connector.connection().stats();
  CHECK(st.max_datagram == 1452);
  CHECK(largest_passed == 1452);
  CHECK(st.packets_lost == 0);  // Only probes were dropped.
  CHECK(st.mtu_probes_lost == transport::kMaxProbeAttempts);
}

TEST_CASE("path packets: a replayed one is refused, a forged one is dropped, the session goes on") {
  SessionPair p(40);
  p.establish();
  // A path packet from the listener: its CANDIDATES frame, sent again when its
  // candidates change.
  p.hold = [](const Datagram& d) {
    const auto pkt = wire::decode_session_packet(d.data);
    return pkt && pkt->kind == wire::SessionKind::kProtected &&
           (pkt->packet_number & wire::kPathPacketNumberBit) != 0;
  };
  p.listener.paths().set_local_candidates(
      {{wire::CandidateKind::kReflexive, Address::v4(203, 0, 113, 9, 9000)}}, p.now());
  p.run_for(100ms);
  p.hold = nullptr;
  REQUIRE_FALSE(p.held.empty());
  const Datagram path_packet = p.held.front();
  const std::uint64_t undecryptable = p.connector.stats().undecryptable;

  p.deliver(path_packet);
  CHECK(p.connector.stats().path_replayed == 0);
  p.deliver(path_packet);
  CHECK(p.connector.stats().path_replayed == 1);

  Datagram forged = path_packet;
  forged.data.back() ^= 0x01;
  p.deliver(forged);
  CHECK(p.connector.stats().undecryptable == undecryptable + 1);
  CHECK(p.connector.stats().path_replayed == 1);  // refused before the window saw it

  const auto stream = send_text(p.connector, "still works");
  p.run_for(100ms);
  CHECK(opened_stream(p.listener.connection()) == stream);
  CHECK(read_all(p.listener.connection(), stream) == "still works");
  CHECK_FALSE(p.connector.ended());
}

TEST_CASE("path packets never take transport packet numbers") {
  SessionPair p(41);
  p.establish();
  std::vector<std::uint64_t> transport_pns, path_pns;
  p.hold = [&](const Datagram& d) {
    const auto pkt = wire::decode_session_packet(d.data);
    if (pkt && pkt->kind == wire::SessionKind::kProtected && d.from == kConnectorAddress)
      ((pkt->packet_number & wire::kPathPacketNumberBit) ? path_pns : transport_pns)
          .push_back(pkt->packet_number);
    return false;
  };
  p.connector.paths().set_local_candidates(
      {{wire::CandidateKind::kReflexive, Address::v4(203, 0, 113, 9, 9000)}}, p.now());
  send_text(p.connector, "x");
  p.run_for(1s);
  REQUIRE_FALSE(path_pns.empty());
  REQUIRE_FALSE(transport_pns.empty());
  // Transport numbers stay consecutive: no path packet took one.
  for (std::size_t i = 1; i < transport_pns.size(); ++i)
    CHECK(transport_pns[i] == transport_pns[i - 1] + 1);
  for (std::size_t i = 1; i < path_pns.size(); ++i) CHECK(path_pns[i] == path_pns[i - 1] + 1);
}
