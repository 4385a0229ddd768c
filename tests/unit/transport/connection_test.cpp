#include "transport/connection.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "test_time.hpp"
#include "transport/constants.hpp"
#include "transport/frame.hpp"

namespace punch::transport {
namespace {

using testing::kT0;
constexpr std::size_t kMax = 1166;

util::Bytes payload(std::initializer_list<Frame> frames) {
  util::Bytes out;
  util::ByteWriter w(out);
  for (const Frame& f : frames) encode_frame(w, f);
  return out;
}

std::vector<Frame> frames_of(const OutPacket& p) {
  std::vector<Frame> out;
  util::ByteReader r(p.payload);
  while (r.remaining() > 0) {
    auto f = decode_frame(r);
    REQUIRE(f.ok());
    out.push_back(*f);
  }
  return out;
}

template <typename T>
const T* find_frame(const std::vector<Frame>& fs) {
  for (const Frame& f : fs) {
    if (const T* t = std::get_if<T>(&f)) return t;
  }
  return nullptr;
}

std::vector<Event> events(Connection& c) {
  std::vector<Event> out;
  while (auto e = c.poll_event()) out.push_back(*e);
  return out;
}

const util::Bytes kHello = {'h', 'e', 'l', 'l', 'o'};

// Feeds `p` to `c`, expects a protocol-violation close and checks the CONNECTION_CLOSE.
void expect_violation(Connection& c, const util::Bytes& p, const std::string& reason,
                      std::uint64_t pn = 0) {
  c.on_packet(pn, p, kT0);
  REQUIRE(c.closed());
  CHECK(c.close_reason().message() == "protocol violation: " + reason);
  auto out = c.poll_send(kT0, kMax);
  REQUIRE(out);
  const auto fs = frames_of(*out);
  const auto* close = find_frame<ConnectionCloseFrame>(fs);
  REQUIRE(close != nullptr);
  CHECK_FALSE(close->application);
  CHECK(close->error_code == kProtocolViolation);
  CHECK(close->reason == c.close_reason().message());
  CHECK(c.close_reason().kind == CloseKind::kTransport);
  CHECK(c.close_reason().code == kProtocolViolation);
  CHECK_FALSE(c.poll_send(kT0, kMax));
}

}  // namespace

TEST_CASE("connection: stream IDs follow QUIC numbering") {
  Connection client(Role::kClient, kT0);
  Connection server(Role::kServer, kT0);
  CHECK(client.open_stream() == 0);
  CHECK(client.open_stream() == 4);
  CHECK(client.open_stream() == 8);
  CHECK(server.open_stream() == 1);
  CHECK(server.open_stream() == 5);
}

TEST_CASE("connection: a peer stream opens on first frame, with lower ones implicitly") {
  Connection server(Role::kServer, kT0);
  server.on_packet(0, payload({StreamFrame{8, 0, kHello, false}}), kT0);
  const auto es = events(server);
  REQUIRE(es.size() == 4);
  CHECK(es[0].kind == Event::Kind::kStreamOpened);
  CHECK(es[0].stream == 0);
  CHECK(es[1].stream == 4);
  CHECK(es[2].stream == 8);
  CHECK(es[3].kind == Event::Kind::kReadable);
  CHECK(es[3].stream == 8);
  std::uint8_t buf[16];
  CHECK(server.read(8, buf) == 5);
  CHECK(util::Bytes(buf, buf + 5) == kHello);
  CHECK(server.read(8, buf) == 0);
  CHECK_FALSE(server.read_finished(8));
  server.on_packet(1, payload({StreamFrame{8, 5, {}, true}}), kT0);
  CHECK(server.read_finished(8));
}

TEST_CASE("connection: malformed or forbidden input closes with a protocol violation") {
  {
    Connection c(Role::kServer, kT0);
    expect_violation(c, {0x21}, "unknown frame type 0x21");
  }
  {
    Connection c(Role::kServer, kT0);
    expect_violation(c, {}, "packet without frames");
  }
  {
    Connection c(Role::kServer, kT0);
    expect_violation(c, {0x0a, 0x00, 0x05, 0x61}, "truncated STREAM frame");
  }
  {
    Connection c(Role::kServer, kT0);
    expect_violation(c, payload({AckFrame{0, {{0, 3}}}}), "ACK of packet 3 which was never sent");
  }
  {
    Connection c(Role::kServer, kT0);
    expect_violation(c, payload({StreamFrame{1, 0, kHello, false}}),
                     "frame for stream 1 which was never opened");
  }
  {
    Connection c(Role::kServer, kT0);
    expect_violation(c, payload({StreamFrame{2, 0, kHello, false}}),
                     "frame for unidirectional stream 2");
  }
  {
    Connection c(Role::kServer, kT0);
    expect_violation(c, payload({StreamFrame{kInitialStreamCredit * 4, 0, kHello, false}}),
                     "stream 4096 exceeds the stream limit");
  }
  {
    Connection c(Role::kServer, kT0);
    expect_violation(c, payload({StreamFrame{0, kStreamReceiveWindow, kHello, false}}),
                     "stream flow control limit exceeded");
  }
  {
    Connection c(Role::kServer, kT0);
    c.on_packet(0, payload({StreamFrame{0, 0, kHello, true}}), kT0);
    expect_violation(c,
                     payload({StreamFrame{0, 0, kHello, false}, StreamFrame{0, 10, kHello, false}}),
                     "stream data beyond its final size", 1);
  }
}

TEST_CASE("connection: connection-level flow control is enforced across streams") {
  Connection c(Role::kServer, kT0);
  // 16 streams at their 1 MiB limit fill the 16 MiB connection window...
  const util::Bytes one = {'x'};
  for (std::uint64_t i = 0; i < kConnectionReceiveWindow / kStreamReceiveWindow; ++i) {
    c.on_packet(i, payload({StreamFrame{i * 4, kStreamReceiveWindow - 1, one, false}}), kT0);
    REQUIRE_FALSE(c.closed());
  }
  // ...so one byte more on another stream is a violation.
  c.on_packet(100, payload({StreamFrame{16 * 4, 0, one, false}}), kT0);
  CHECK(c.close_reason().message() == "protocol violation: connection flow control limit exceeded");
}

TEST_CASE("connection: duplicates are ignored") {
  Connection c(Role::kServer, kT0);
  c.on_packet(0, payload({StreamFrame{0, 0, kHello, false}}), kT0);
  c.on_packet(0, payload({StreamFrame{0, 0, kHello, false}}), kT0);
  CHECK(c.stats().duplicate_packets == 1);
  CHECK(c.stats().packets_received == 1);
}

TEST_CASE("connection: ACK timing") {
  Connection c(Role::kServer, kT0);
  // One ack-eliciting packet: the ACK waits for max_ack_delay.
  c.on_packet(0, payload({PingFrame{}}), kT0);
  CHECK_FALSE(c.poll_send(kT0, kMax));
  CHECK(c.next_deadline() == kT0 + kMaxAckDelay);
  c.on_timeout(kT0 + kMaxAckDelay);
  auto ack = c.poll_send(kT0 + kMaxAckDelay, kMax);
  REQUIRE(ack);
  CHECK(ack->packet_number == 0);
  const auto fs = frames_of(*ack);
  REQUIRE(fs.size() == 1);
  const auto& a = std::get<AckFrame>(fs[0]);
  CHECK(a.ranges[0] == AckRange{0, 0});
  CHECK(a.ack_delay == 25000 / 8);
  CHECK_FALSE(c.poll_send(kT0 + kMaxAckDelay, kMax));

  // A second ack-eliciting packet triggers an immediate ACK.
  c.on_packet(1, payload({PingFrame{}}), kT0 + 1s);
  CHECK_FALSE(c.poll_send(kT0 + 1s, kMax));
  c.on_packet(2, payload({PingFrame{}}), kT0 + 1s);
  auto now = c.poll_send(kT0 + 1s, kMax);
  REQUIRE(now);
  CHECK(now->packet_number == 1);

  // A gap (packet 4 missing) triggers an immediate ACK listing both ranges.
  c.on_packet(5, payload({PingFrame{}}), kT0 + 2s);
  auto gap = c.poll_send(kT0 + 2s, kMax);
  REQUIRE(gap);
  const auto gfs = frames_of(*gap);
  const auto& ga = std::get<AckFrame>(gfs[0]);
  REQUIRE(ga.ranges.size() == 2);
  CHECK(ga.ranges[0] == AckRange{5, 5});

  // ACK-only packets are not acknowledged.
  c.on_packet(6, payload({AckFrame{0, {{0, 0}}}}), kT0 + 3s);
  CHECK_FALSE(c.poll_send(kT0 + 3s, kMax));
  CHECK(c.next_deadline() > kT0 + 3s + kMaxAckDelay);
}

TEST_CASE("connection: data packets, PTO probes and retransmission") {
  Connection c(Role::kClient, kT0);
  const StreamId id = c.open_stream();
  const util::Bytes data(3000, 0x5a);
  CHECK(c.write(id, data) == 3000);
  c.finish(id);
  std::vector<OutPacket> sent;
  while (auto p = c.poll_send(kT0, kMax)) sent.push_back(*p);
  REQUIRE(sent.size() == 3);
  for (std::size_t i = 0; i < sent.size(); ++i) {
    CHECK(sent[i].packet_number == i);
    CHECK(sent[i].payload.size() <= kMax);
  }
  const auto last_frames = frames_of(sent[2]);
  const auto* last = find_frame<StreamFrame>(last_frames);
  REQUIRE(last != nullptr);
  CHECK(last->fin);
  CHECK(last->offset + last->data.size() == 3000);
  // Nothing is acknowledged: the PTO (initial RTT 333 ms) fires after about 1 s.
  const util::TimePoint pto = c.next_deadline();
  CHECK(pto == kT0 + 999ms + kMaxAckDelay);
  c.on_timeout(pto);
  std::vector<OutPacket> probes;
  while (auto p = c.poll_send(pto, kMax)) probes.push_back(*p);
  REQUIRE(probes.size() >= 1);
  CHECK(probes.size() <= kPtoProbes);
  // The first probe resends the oldest packet's data under a new packet number.
  const auto probe_frames = frames_of(probes[0]);
  const auto* resent = find_frame<StreamFrame>(probe_frames);
  REQUIRE(resent != nullptr);
  CHECK(resent->offset == 0);
  CHECK(probes[0].packet_number == 3);
  // The peer acknowledges everything: the stream's sending side completes.
  c.on_packet(0, payload({AckFrame{0, {{0, probes.back().packet_number}}}}), pto + 10ms);
  CHECK(c.write_finished(id));
  CHECK(c.stats().stream_bytes_acked == 3000);
}

TEST_CASE("connection: write() stops at the send buffer and kWritable follows acknowledgements") {
  Connection c(Role::kClient, kT0);
  const StreamId id = c.open_stream();
  const util::Bytes big(kStreamSendBuffer + 1000, 1);
  CHECK(c.write(id, big) == kStreamSendBuffer);
  CHECK(c.write(id, big) == 0);
  std::uint64_t last_pn = 0;
  while (auto p = c.poll_send(kT0, kMax)) last_pn = p->packet_number;
  // Acknowledge what the initial window let out.
  c.on_packet(0, payload({AckFrame{0, {{0, last_pn}}}}), kT0 + 20ms);
  CHECK(c.stats().stream_bytes_acked >= kInitialWindow - 1000);
  bool writable = false;
  for (const Event& e : events(c)) writable = writable || e.kind == Event::Kind::kWritable;
  // 12 kB freed is below the kWritable threshold: no event yet.
  CHECK_FALSE(writable);
  util::TimePoint now = kT0 + 20ms;
  std::uint64_t pn = 1;
  while (!writable && now < kT0 + 10s) {
    while (auto p = c.poll_send(now, kMax)) last_pn = p->packet_number;
    now += 20ms;
    c.on_packet(pn++, payload({AckFrame{0, {{0, last_pn}}}}), now);
    for (const Event& e : events(c)) writable = writable || e.kind == Event::Kind::kWritable;
  }
  CHECK(writable);
  CHECK(c.write(id, big) >= kWritableThreshold);
}

TEST_CASE("connection: keepalive after 10 s of silence, idle timeout after 30 s") {
  Connection c(Role::kClient, kT0);
  CHECK(c.next_deadline() == kT0 + kKeepaliveInterval);
  c.on_timeout(kT0 + kKeepaliveInterval);
  auto ping = c.poll_send(kT0 + kKeepaliveInterval, kMax);
  REQUIRE(ping);
  const auto ping_frames = frames_of(*ping);
  CHECK(find_frame<PingFrame>(ping_frames) != nullptr);
  // Nothing ever comes back.
  util::TimePoint now = kT0 + kKeepaliveInterval;
  int guard = 0;
  while (!c.closed() && ++guard < 1000) {
    now = c.next_deadline();
    c.on_timeout(now);
    while (c.poll_send(now, kMax)) {
    }
  }
  REQUIRE(c.closed());
  CHECK(now == kT0 + kIdleTimeout);
  CHECK(c.close_reason().message() == "idle timeout: peer stopped answering");
  CHECK(c.close_reason().kind == CloseKind::kIdle);
  CHECK_FALSE(c.poll_send(now, kMax));  // Silent: the peer is gone.
  CHECK(c.next_deadline() == util::kNever);
}

TEST_CASE("connection: close() sends CONNECTION_CLOSE once; the peer's reason is prefixed") {
  Connection c(Role::kClient, kT0);
  c.close(5, "done here", kT0);
  CHECK(c.closed());
  CHECK(c.close_reason().message() == "done here");
  CHECK(c.next_deadline() == kT0);
  auto p = c.poll_send(kT0, kMax);
  REQUIRE(p);
  const auto fs = frames_of(*p);
  const auto* f = find_frame<ConnectionCloseFrame>(fs);
  REQUIRE(f != nullptr);
  CHECK(f->application);
  CHECK(f->error_code == 5);
  CHECK(f->reason == "done here");
  CHECK_FALSE(c.poll_send(kT0, kMax));
  CHECK(c.next_deadline() == util::kNever);
  const StreamId id = c.open_stream();
  CHECK(c.write(id, kHello) == 0);

  Connection peer(Role::kServer, kT0);
  peer.on_packet(p->packet_number, p->payload, kT0 + 5ms);
  CHECK(peer.closed());
  CHECK(peer.close_reason().message() == "peer: done here");
  CHECK(peer.close_reason().peer_application(5));
  const auto es = events(peer);
  REQUIRE(es.size() == 1);
  CHECK(es[0].kind == Event::Kind::kClosed);
  CHECK_FALSE(peer.poll_send(kT0 + 5ms, kMax));  // No close in answer to a close.

  // Unprintable reason bytes are neutralised.
  Connection odd(Role::kServer, kT0);
  odd.on_packet(0, payload({ConnectionCloseFrame{true, 0, 0, std::string("a\nb\x01")}}), kT0);
  CHECK(odd.close_reason().message() == "peer: a?b?");
}

TEST_CASE("connection: reset() sends RESET_STREAM and STOP_SENDING") {
  Connection c(Role::kClient, kT0);
  const StreamId id = c.open_stream();
  c.write(id, kHello);
  while (c.poll_send(kT0, kMax)) {
  }
  c.reset(id, 42);
  auto p = c.poll_send(kT0, kMax);
  REQUIRE(p);
  const auto fs = frames_of(*p);
  const auto* rs = find_frame<ResetStreamFrame>(fs);
  REQUIRE(rs != nullptr);
  CHECK(rs->stream == id);
  CHECK(rs->error_code == 42);
  CHECK(rs->final_size == 5);
  const auto* ss = find_frame<StopSendingFrame>(fs);
  REQUIRE(ss != nullptr);
  CHECK(ss->error_code == 42);
  CHECK(c.write(id, kHello) == 0);
}

TEST_CASE("connection: reset_path() restarts RTT and congestion state") {
  Connection c(Role::kClient, kT0);
  const StreamId id = c.open_stream();
  c.write(id, util::Bytes(50000, 1));
  std::uint64_t last = 0;
  while (auto p = c.poll_send(kT0, kMax)) last = p->packet_number;
  c.on_packet(0, payload({AckFrame{0, {{0, last}}}}), kT0 + 50ms);
  CHECK(c.stats().smoothed_rtt == 50ms);
  CHECK(c.stats().congestion_window > kInitialWindow);
  c.reset_path(kT0 + 60ms);
  CHECK(c.stats().smoothed_rtt == kInitialRtt);
  CHECK(c.stats().congestion_window == kInitialWindow);
}

TEST_CASE("connection: abandon_in_flight() resends at once what a dead path swallowed") {
  Connection c(Role::kClient, kT0);
  const StreamId id = c.open_stream();
  REQUIRE(c.write(id, util::Bytes(8000, 7)) == 8000);
  std::vector<OutPacket> first;
  while (auto p = c.poll_send(kT0, kMax)) first.push_back(std::move(*p));
  REQUIRE_FALSE(first.empty());
  REQUIRE(c.stats().bytes_in_flight > 0);
  // Nothing more to send until loss detection would fire (a PTO away).
  CHECK_FALSE(c.poll_send(kT0 + 1ms, kMax));
  CHECK(c.next_deadline() > kT0 + 100ms);

  c.reset_path(kT0 + 1ms);
  c.abandon_in_flight(kT0 + 1ms);
  CHECK(c.stats().packets_lost >= first.size());
  std::uint64_t resent = 0;
  while (auto p = c.poll_send(kT0 + 1ms, kMax)) {
    CHECK(p->packet_number > first.back().packet_number);  // new numbers, never reused
    for (const Frame& f : frames_of(*p)) {
      if (const auto* sf = std::get_if<StreamFrame>(&f)) resent += sf->data.size();
    }
  }
  // Every stream byte goes out again right away (as far as the fresh window allows).
  CHECK(resent >= std::min<std::uint64_t>(8000, kInitialWindow / 2));
}

}  // namespace punch::transport

namespace punch::transport {

TEST_CASE("connection: confetti data (one byte every other offset) is cut off") {
  Connection c(Role::kServer, kT0);
  const util::Bytes one = {'x'};
  std::uint64_t offset = 0;
  std::uint64_t pn = 0;
  while (!c.closed() && pn < 2000) {
    util::Bytes p;
    util::ByteWriter w(p);
    while (p.size() < 1100) {
      encode(w, StreamFrame{0, offset, one, false});
      offset += 2;
    }
    c.on_packet(pn++, p, kT0);
  }
  REQUIRE(c.closed());
  CHECK(c.close_reason().message() == "protocol violation: stream data too fragmented");
  CHECK(offset / 2 > kMaxReceiveFragments);
  CHECK(offset < 2 * kMaxReceiveFragments + 2000);
}

TEST_CASE("connection: all streams together buffer at most the connection budget plus reserves") {
  Connection c(Role::kClient, kT0);
  const util::Bytes big(kStreamSendBuffer, 7);
  constexpr int kStreams = 100;
  std::vector<StreamId> ids;
  std::uint64_t total = 0;
  for (int i = 0; i < kStreams; ++i) {
    ids.push_back(c.open_stream());
    const std::size_t n = c.write(ids.back(), big);
    // Every stream gets at least its reserve, so none can be starved by the others.
    CHECK(n >= kStreamSendReserve);
    total += n;
  }
  CHECK(total <= kConnectionSendBuffer + kStreams * kStreamSendReserve);
  CHECK(total < kStreams * kStreamSendBuffer / 4);
  CHECK(c.stats().send_buffered == total);
  MESSAGE(kStreams << " streams of 1 MiB: " << total / 1024 << " KiB accepted");

  // Acknowledgements free budget; a stream stuck at its reserve is woken again.
  std::uint64_t last_pn = 0;
  util::TimePoint now = kT0;
  std::uint64_t pn = 0;
  bool writable = false;
  while (!writable && now < kT0 + 30s) {
    bool sent = false;
    while (auto p = c.poll_send(now, kMax)) {
      last_pn = p->packet_number;
      sent = true;
    }
    now += 20ms;
    if (sent) c.on_packet(pn++, payload({AckFrame{0, {{0, last_pn}}}}), now);
    for (const Event& e : events(c)) {
      writable = writable || (e.kind == Event::Kind::kWritable && e.stream == ids.back());
    }
  }
  CHECK(writable);
  CHECK(c.write(ids.back(), big) > 0);
}

}  // namespace punch::transport

namespace punch::transport {
namespace {

// What the session adds per datagram, and the ceiling it passes (the largest probe).
constexpr std::size_t kOverhead = 34;
constexpr std::size_t kCeiling = kMaxProbeDatagramSize - kOverhead;

// True when `p` is PING then PADDING only, filling `datagram` bytes with the overhead.
bool is_probe_of(const OutPacket& p, std::size_t datagram) {
  const auto fs = frames_of(p);
  return p.payload.size() + kOverhead == datagram && fs.size() == 2 &&
         std::holds_alternative<PingFrame>(fs[0]) && std::holds_alternative<PaddingFrame>(fs[1]);
}

// A client whose first PING was acknowledged at kT0 + 10 ms: it has an RTT sample, so
// MTU probes may start. The peer's packet numbers start at 100.
struct Probing {
  explicit Probing(CongestionAlgorithm algorithm = CongestionAlgorithm::kBbr)
      : c(Role::kClient, kT0, algorithm) {
    c.set_datagram_overhead(kOverhead);
    c.ping();
    auto p = c.poll_send(kT0, kCeiling);
    REQUIRE(p);
    CHECK(p->payload.size() < 100);  // Not a probe: no RTT sample yet.
    ack(p->packet_number);
  }
  void ack(std::uint64_t pn) { ack(pn, pn); }
  void ack(std::uint64_t smallest, std::uint64_t largest) {
    now += 10ms;
    c.on_packet(peer_pn++, payload({AckFrame{0, {{smallest, largest}}}}), now);
  }
  OutPacket send() {
    auto p = c.poll_send(now, kCeiling);
    REQUIRE(p);
    return *p;
  }
  // Sends three PINGs after a probe and acknowledges just them: the probe is lost.
  void lose_probe(const OutPacket& probe) {
    std::uint64_t last = 0;
    for (int i = 0; i < 3; ++i) {
      c.ping();
      last = send().packet_number;
    }
    ack(probe.packet_number + 1, last);
  }
  Connection c;
  util::TimePoint now = kT0;
  std::uint64_t peer_pn = 100;
};

}  // namespace

TEST_CASE("connection: MTU probes are PING + PADDING; an acknowledged one raises the size") {
  Probing t;
  CHECK(t.c.stats().max_datagram == kBaseDatagramSize);
  const OutPacket first = t.send();
  CHECK(is_probe_of(first, 1452));
  CHECK(t.c.stats().mtu_probes_sent == 1);
  // One probe at a time: the next packet waits for this one's fate.
  CHECK_FALSE(t.c.poll_send(t.now, kCeiling));
  t.ack(first.packet_number);
  CHECK(t.c.stats().max_datagram == 1452);
  const OutPacket second = t.send();
  CHECK(is_probe_of(second, 8952));
  t.ack(second.packet_number);
  const OutPacket third = t.send();
  CHECK(is_probe_of(third, 16384));
  t.ack(third.packet_number);
  CHECK(t.c.stats().max_datagram == 16384);
  CHECK_FALSE(t.c.poll_send(t.now, kCeiling));  // The search is over.

  // Data now fills the validated size, and never more than the caller can protect.
  const StreamId s = t.c.open_stream();
  const util::Bytes big(100'000, 0x5a);
  REQUIRE(t.c.write(s, big) == big.size());
  const auto small = t.c.poll_send(t.now, 1000);
  REQUIRE(small);
  CHECK(small->payload.size() == 1000);
  CHECK(t.send().payload.size() == kCeiling);
}

TEST_CASE("connection: a lost MTU probe is no congestion; three losses end the search") {
  Probing t(CongestionAlgorithm::kNewReno);
  t.ack(t.send().packet_number);  // 1452 is good.
  const std::uint64_t window = t.c.stats().congestion_window;
  for (unsigned attempt = 0; attempt < kMaxProbeAttempts; ++attempt) {
    CAPTURE(attempt);
    const OutPacket probe = t.send();
    REQUIRE(is_probe_of(probe, 8952));
    t.lose_probe(probe);
    CHECK(t.c.stats().mtu_probes_lost == attempt + 1);
  }
  const Stats st = t.c.stats();
  CHECK(st.max_datagram == 1452);
  CHECK(st.packets_lost == 0);
  CHECK(st.congestion_window >= window);  // No halving for any of them.
  CHECK(st.bytes_in_flight == 0);
  // No further probe (16384 is not tried above a size that failed) until the raise timer.
  CHECK_FALSE(t.c.poll_send(t.now, kCeiling));
  // Keepalives hold the connection while the raise timer runs; then 8952 is tried again.
  const util::TimePoint raise = t.now + kProbeRaiseInterval;
  bool probed_early = false;
  bool probed = false;
  while (!probed && t.now < raise + kKeepaliveInterval) {
    t.now = t.c.next_deadline() - 10ms;
    t.c.on_timeout(t.now + 10ms);
    std::optional<std::uint64_t> last;
    while (auto p = t.c.poll_send(t.now + 10ms, kCeiling)) {
      if (is_probe_of(*p, 8952)) (t.now + 10ms < raise ? probed_early : probed) = true;
      last = p->packet_number;
    }
    if (last) t.ack(*last);
  }
  CHECK_FALSE(t.c.closed());
  CHECK_FALSE(probed_early);
  CHECK(probed);
}

TEST_CASE("connection: reset_path returns to the base size; old probes do not count") {
  Probing t;
  t.ack(t.send().packet_number);
  const OutPacket stale = t.send();
  REQUIRE(is_probe_of(stale, 8952));
  t.c.reset_path(t.now);
  CHECK(t.c.stats().max_datagram == kBaseDatagramSize);
  // The old path carried it, which says nothing about the new one; its acknowledgement
  // is an RTT sample, though, so the search starts over from the smallest size.
  t.ack(stale.packet_number);
  CHECK(t.c.stats().max_datagram == kBaseDatagramSize);
  CHECK(is_probe_of(t.send(), 1452));
}

TEST_CASE("connection: PTOs with big packets in flight fall back to the base size") {
  Probing t;
  for (int i = 0; i < 3; ++i) t.ack(t.send().packet_number);
  REQUIRE(t.c.stats().max_datagram == 16384);
  const StreamId s = t.c.open_stream();
  const util::Bytes data(50'000, 0x33);
  REQUIRE(t.c.write(s, data) == data.size());
  while (t.c.poll_send(t.now, kCeiling)) {
  }
  // Nothing is acknowledged any more: the big packets vanish in a black hole. PTOs follow,
  // and after kBlackHolePtos of them the probes that go out are small.
  const util::TimePoint start = t.now;
  std::size_t last_size = 0;
  for (int i = 0; i < 20 && t.c.stats().max_datagram != kBaseDatagramSize; ++i) {
    t.now = t.c.next_deadline();
    t.c.on_timeout(t.now);
    while (auto p = t.c.poll_send(t.now, kCeiling)) last_size = p->payload.size();
  }
  CHECK(t.c.stats().max_datagram == kBaseDatagramSize);
  CHECK(last_size + kOverhead <= kBaseDatagramSize);
  CHECK(t.now - start < 2s);
}

TEST_CASE("connection: without overhead and a 1166-byte ceiling nothing is probed") {
  Connection c(Role::kClient, kT0);
  c.ping();
  auto p = c.poll_send(kT0, kMax);
  REQUIRE(p);
  c.on_packet(0, payload({AckFrame{0, {{p->packet_number, p->packet_number}}}}), kT0 + 10ms);
  CHECK_FALSE(c.poll_send(kT0 + 10ms, kMax));
  CHECK(c.stats().mtu_probes_sent == 0);
}

}  // namespace punch::transport

namespace punch::transport {

TEST_CASE("connection: timers run in on_timeout() only; next_deadline() names the earliest") {
  Connection c(Role::kClient, kT0);
  const util::TimePoint at = kT0 + kKeepaliveInterval;  // Before the idle timeout.
  CHECK(c.next_deadline() == at);
  CHECK_FALSE(c.poll_send(at, kMax));  // The keepalive is due, but poll_send runs no timer.
  CHECK(c.next_deadline() == at);
  c.on_timeout(at);
  auto p = c.poll_send(at, kMax);
  REQUIRE(p);
  CHECK(find_frame<PingFrame>(frames_of(*p)) != nullptr);
  // Next: the PTO of that PING, well before the next keepalive or the idle timeout.
  CHECK(c.next_deadline() > at);
  CHECK(c.next_deadline() < at + kKeepaliveInterval);
}

}  // namespace punch::transport
