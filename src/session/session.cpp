#include "session/session.hpp"

#include <chrono>
#include <string>
#include <utility>

#include "session/constants.hpp"
#include "util/assert.hpp"
#include "wire/path_frame.hpp"

namespace punch::session {

namespace {
// A client may get the server's first protected packets before the server's
// Finished (which completes the client's handshake); hold a few instead of
// waiting a PTO for them.
constexpr std::size_t kMaxEarlyPackets = 16;
// What protection adds to every transport payload.
constexpr std::size_t kOverhead = wire::kProtectedHeaderSize + crypto::PacketProtection::kTagSize;
// The most the transport may put in one packet (an MTU probe, or a packet at a validated
// size); the transport itself keeps to 1200-byte datagrams until a probe proved more.
constexpr std::size_t kMaxPayload = Session::kMaxDatagram - kOverhead;
}  // namespace

Session::Session(SessionRole role, std::uint64_t connection_id, const crypto::Identity& identity,
                 const crypto::NodeId& expected, util::Address relay, crypto::RandomSource& rng,
                 util::DatagramSink& sink, const path::PathConfig& path_config,
                 util::SocketPool* pool, path::BirthdayBudget* budget)
    : role_(role),
      connection_id_(connection_id),
      expected_(expected),
      path_(relay, path_config, role == SessionRole::kConnector, rng, pool, budget),
      sink_(&sink),
      pool_(pool) {
  const crypto::NodeId want = expected;
  auto check = [want](const crypto::NodeId& got) -> util::Status {
    if (got == want) return util::ok_status();
    return util::Error{"peer proved key " + got.to_string() + ", not the expected " +
                       want.to_string()};
  };
  handshake_ = std::make_unique<crypto::Handshake>(role == SessionRole::kConnector
                                                       ? crypto::Handshake::Role::kClient
                                                       : crypto::Handshake::Role::kServer,
                                                   identity, std::move(check), rng);
}

void Session::start(util::TimePoint now) {
  handshake_deadline_ = now + kHandshakeTimeout;
  handshake_->start(now);
}

void Session::on_packet(const wire::SessionPacket& packet, const util::Address& from,
                        util::TimePoint now, util::SocketId socket) {
  if (ended_) return;
  if (packet.kind == wire::SessionKind::kHandshake) {
    handshake_->on_datagram(packet.payload, now);
    check_handshake(now);
    return;
  }
  if (!established()) {
    if (early_.size() < kMaxEarlyPackets) {
      early_.push_back({util::Bytes(packet.header.begin(), packet.payload.end()), from, socket});
    } else {
      ++stats_.early_dropped;
    }
    return;
  }
  process_protected(packet, from, socket, now);
}

void Session::process_protected(const wire::SessionPacket& packet, const util::Address& from,
                                util::SocketId socket, util::TimePoint now) {
  if (packet.packet_number & wire::kPathPacketNumberBit) {
    process_path_packet(packet, from, socket, now);
    return;
  }
  plain_.clear();
  if (!open_->open(packet.packet_number, packet.header, packet.payload, plain_)) {
    ++stats_.undecryptable;  // forged, corrupted or replayed garbage: drop, never fatal
    return;
  }
  // Authentic is not fresh: a captured packet replayed (from any address) must not
  // refresh timers or teach the path manager a peer-reflexive address, so duplicates
  // go before anything else sees them (a copy mirrored through the relay is one too).
  if (connection_->is_duplicate(packet.packet_number)) {
    ++stats_.replayed;
    return;
  }
  path_.on_authenticated(from, socket, packet.packet_number, now);
  connection_->on_packet(packet.packet_number, plain_, now);
  if (connection_->closed()) end(connection_->close_reason());
  after_input(now);
}

void Session::process_path_packet(const wire::SessionPacket& packet, const util::Address& from,
                                  util::SocketId socket, util::TimePoint now) {
  plain_.clear();
  if (!open_->open(packet.packet_number, packet.header, packet.payload, plain_)) {
    ++stats_.undecryptable;
    return;
  }
  // Checked after authentication, so forged packet numbers cannot shift the window.
  if (!path_replay_.accept(packet.packet_number)) {
    ++stats_.path_replayed;
    return;
  }
  auto frames = wire::decode_path_frames(plain_);
  if (!frames) {
    // Only our peer can have sealed it; still, a bad probe is not worth the session.
    ++stats_.path_malformed;
    return;
  }
  path_.on_frames(from, socket, *frames, now);
  after_input(now);
}

void Session::after_input(util::TimePoint now) {
  // Packets in flight on the old path are still acknowledged when they arrive; only
  // the estimates of the path (RTT, bandwidth, MTU) start over.
  const bool lost = path_.take_path_lost();
  if (path_.take_switched() && established()) {
    connection_->reset_path(now);
    if (lost) connection_->abandon_in_flight(now);
    // A first RTT sample of the new path, even when the session is idle.
    connection_->ping();
  }
}

void Session::check_handshake(util::TimePoint now) {
  if (auto failure = handshake_->failure()) {
    end({transport::CloseOrigin::kLocal, transport::CloseKind::kHandshake, 0, *failure});
    return;
  }
  if (established() || !handshake_->complete()) return;
  const crypto::SessionKeys& keys = handshake_->keys();
  const bool client = role_ == SessionRole::kConnector;
  seal_ = std::make_unique<crypto::PacketProtection>(client ? keys.client_to_server
                                                            : keys.server_to_client);
  open_ = std::make_unique<crypto::PacketProtection>(client ? keys.server_to_client
                                                            : keys.client_to_server);
  connection_ = std::make_unique<transport::Connection>(
      client ? transport::Role::kClient : transport::Role::kServer, now);
  connection_->set_datagram_overhead(kOverhead);
  // An idle new session would otherwise have no RTT sample until its first
  // keepalive; one PING measures the path at once (reported in --events).
  connection_->ping();
  path_.start(now);
  auto early = std::move(early_);
  early_.clear();
  for (const Early& e : early) {
    if (auto p = wire::decode_session_packet(e.datagram))
      process_protected(*p, e.from, e.socket, now);
  }
}

void Session::on_timeout(util::TimePoint now) {
  if (ended_) return;
  if (!established() && now >= handshake_deadline_) {
    end({transport::CloseOrigin::kLocal, transport::CloseKind::kHandshake, 0,
         "handshake timed out: no handshake with " + expected_.to_string() + " within " +
             std::to_string(
                 std::chrono::duration_cast<std::chrono::seconds>(kHandshakeTimeout).count()) +
             " s"});
    return;
  }
  if (handshake_->next_deadline() <= now) {
    handshake_->on_timeout(now);
    check_handshake(now);
  }
  if (established() && connection_->next_deadline() <= now) {
    connection_->on_timeout(now);
    if (connection_->closed()) end(connection_->close_reason());
  }
  if (established() && !ended_ && path_.next_deadline() <= now) {
    path_.on_timeout(now);
    after_input(now);
  }
}

util::TimePoint Session::next_deadline() const {
  if (ended_) return util::kNever;
  util::TimePoint t = handshake_->next_deadline();
  if (established()) {
    t = std::min({t, connection_->next_deadline(), path_.next_deadline()});
  } else {
    t = std::min(t, handshake_deadline_);
  }
  return t;
}

void Session::flush(util::TimePoint now) {
  for (const util::Bytes& records : handshake_->take_outgoing()) {
    scratch_.clear();
    wire::encode_handshake_packet(connection_id_, records, scratch_);
    sink_->send(path_.relay(), scratch_);
  }
  if (!established()) return;
  // Path packets first, and the path timers due now before them: a fallback found on
  // the timer must apply before the transport's packets pick their destination. A
  // timer may make another due at once (a round it starts challenges its LAN
  // candidates), so until none is.
  // Each pass disarms what expired, so a few passes settle it; more would be a timer
  // that re-arms itself at `now` forever, a local bug.
  constexpr int kMaxPasses = 16;
  for (int pass = 0;; ++pass) {
    while (auto t = path_.poll_transmit()) {
      seal_and_send(next_path_pn_++, t->frames, t->socket, t->to, t->ttl);
    }
    if (path_.next_deadline() > now) break;
    PUNCH_ASSERT(pass < kMaxPasses);
    path_.on_timeout(now);
  }
  after_input(now);
  while (auto out = connection_->poll_send(now, kMaxPayload)) {
    const path::Route route = path_.route();
    seal_and_send(out->packet_number, out->payload, route.socket, route.address, 0);
    // The same sealed bytes through the relay as well: the transport drops whichever
    // copy arrives second.
    if (route.mirror_to_relay) sink_->send(path_.relay(), scratch_);
    path_.on_sent(out->answer_expected, now);
  }
  if (connection_->closed()) end(connection_->close_reason());
}

util::DatagramSink& Session::sink_for(util::SocketId socket) {
  if (socket == util::kMainSocket) return *sink_;
  // Only the path manager names extra sockets, and only ones the pool opened for it.
  PUNCH_ASSERT(pool_ != nullptr);
  return pool_->sink(socket);
}

void Session::seal_and_send(std::uint64_t packet_number, util::ByteView payload,
                            util::SocketId socket, const util::Address& to, int ttl) {
  scratch_.clear();
  // Reserved up front so the header view stays valid while seal() appends.
  scratch_.reserve(kMaxDatagram + crypto::PacketProtection::kTagSize);
  wire::encode_protected_header(connection_id_, packet_number, scratch_);
  const util::ByteView aad(scratch_.data(), wire::kProtectedHeaderSize);
  seal_->seal(packet_number, aad, payload, scratch_);
  PUNCH_ASSERT(scratch_.size() <= kMaxDatagram);
  util::DatagramSink& sink = sink_for(socket);
  if (ttl > 0) {
    sink.send_with_ttl(to, scratch_, ttl);
  } else {
    sink.send(to, scratch_);
  }
}

void Session::close(std::uint64_t app_code, const std::string& reason, util::TimePoint now) {
  if (ended_) return;
  if (established()) {
    connection_->close(app_code, reason, now);
    flush(now);
  }
  end({transport::CloseOrigin::kLocal, transport::CloseKind::kApplication, app_code, reason});
}

void Session::end(transport::CloseReason reason) {
  if (ended_) return;
  ended_ = true;
  end_reason_ = std::move(reason);
}

}  // namespace punch::session
