#include "session/session.hpp"

#include <utility>

#include "util/assert.hpp"

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
                 const crypto::NodeId& expected, util::Address path, crypto::RandomSource& rng,
                 util::DatagramSink& sink)
    : role_(role), connection_id_(connection_id), expected_(expected), path_(path), sink_(&sink) {
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

void Session::start(util::TimePoint now) { handshake_->start(now); }

void Session::on_packet(const wire::SessionPacket& packet, const util::Address& /*from*/,
                        util::TimePoint now) {
  if (ended_) return;
  if (packet.kind == wire::SessionKind::kHandshake) {
    handshake_->on_datagram(packet.payload, now);
    check_handshake(now);
    return;
  }
  if (!established()) {
    if (early_.size() < kMaxEarlyPackets) {
      early_.emplace_back(packet.header.begin(), packet.payload.end());
    } else {
      ++stats_.early_dropped;
    }
    return;
  }
  process_protected(packet, now);
}

void Session::process_protected(const wire::SessionPacket& packet, util::TimePoint now) {
  plain_.clear();
  if (!open_->open(packet.packet_number, packet.header, packet.payload, plain_)) {
    ++stats_.undecryptable;  // forged, corrupted or replayed garbage: drop, never fatal
    return;
  }
  connection_->on_packet(packet.packet_number, plain_, now);
  if (connection_->closed()) end(connection_->close_reason());
}

void Session::check_handshake(util::TimePoint now) {
  if (auto failure = handshake_->failure()) {
    end(*failure);
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
  auto early = std::move(early_);
  early_.clear();
  for (const util::Bytes& datagram : early) {
    if (auto p = wire::decode_session_packet(datagram)) process_protected(*p, now);
  }
}

void Session::on_timeout(util::TimePoint now) {
  if (ended_) return;
  if (handshake_->next_deadline() <= now) {
    handshake_->on_timeout(now);
    check_handshake(now);
  }
  if (established() && connection_->next_deadline() <= now) {
    connection_->on_timeout(now);
    if (connection_->closed()) end(connection_->close_reason());
  }
}

util::TimePoint Session::next_deadline() const {
  if (ended_) return util::kNever;
  util::TimePoint t = handshake_->next_deadline();
  if (established()) t = std::min(t, connection_->next_deadline());
  return t;
}

void Session::flush(util::TimePoint now) {
  for (const util::Bytes& records : handshake_->take_outgoing()) {
    scratch_.clear();
    wire::encode_handshake_packet(connection_id_, records, scratch_);
    sink_->send(path_, scratch_);
  }
  if (!established()) return;
  while (auto out = connection_->poll_send(now, kMaxPayload)) {
    scratch_.clear();
    // Reserved up front so the header view stays valid while seal() appends.
    scratch_.reserve(kMaxDatagram + crypto::PacketProtection::kTagSize);
    wire::encode_protected_header(connection_id_, out->packet_number, scratch_);
    const util::ByteView aad(scratch_.data(), wire::kProtectedHeaderSize);
    seal_->seal(out->packet_number, aad, out->payload, scratch_);
    PUNCH_ASSERT(scratch_.size() <= kMaxDatagram);
    sink_->send(path_, scratch_);
  }
  if (connection_->closed()) end(connection_->close_reason());
}

void Session::close(const std::string& reason, util::TimePoint now) {
  if (ended_) return;
  if (established()) {
    connection_->close(reason, now);
    flush(now);
  }
  end(reason);
}

void Session::end(std::string reason) {
  if (ended_) return;
  ended_ = true;
  end_reason_ = std::move(reason);
}

}  // namespace punch::session
