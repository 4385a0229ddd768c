#include "wire/session_packet.hpp"

#include "wire/packet_type.hpp"

namespace punch::wire {

std::optional<SessionPacket> decode_session_packet(util::ByteView datagram) {
  util::ByteReader r(datagram);
  if (r.u8() != static_cast<std::uint8_t>(PacketType::kSession)) return std::nullopt;
  SessionPacket p;
  p.connection_id = r.u64();
  const std::uint8_t kind = r.u8();
  if (!r.ok()) return std::nullopt;
  if (kind == static_cast<std::uint8_t>(SessionKind::kHandshake)) {
    p.kind = SessionKind::kHandshake;
    p.header = datagram.first(kSessionHeaderSize);
    p.payload = r.rest();
    if (p.payload.empty()) return std::nullopt;
    return p;
  }
  if (kind == static_cast<std::uint8_t>(SessionKind::kProtected)) {
    p.kind = SessionKind::kProtected;
    p.packet_number = r.u64();
    if (!r.ok()) return std::nullopt;
    p.header = datagram.first(kProtectedHeaderSize);
    p.payload = r.rest();
    return p;
  }
  return std::nullopt;
}

void encode_handshake_packet(std::uint64_t connection_id, util::ByteView records,
                             util::Bytes& out) {
  util::ByteWriter w(out);
  w.u8(static_cast<std::uint8_t>(PacketType::kSession));
  w.u64(connection_id);
  w.u8(static_cast<std::uint8_t>(SessionKind::kHandshake));
  w.bytes(records);
}

void encode_protected_header(std::uint64_t connection_id, std::uint64_t packet_number,
                             util::Bytes& out) {
  util::ByteWriter w(out);
  w.u8(static_cast<std::uint8_t>(PacketType::kSession));
  w.u64(connection_id);
  w.u8(static_cast<std::uint8_t>(SessionKind::kProtected));
  w.u64(packet_number);
}

std::optional<std::uint64_t> peek_connection_id(util::ByteView datagram) {
  util::ByteReader r(datagram);
  if (r.u8() != static_cast<std::uint8_t>(PacketType::kSession)) return std::nullopt;
  const std::uint64_t cid = r.u64();
  if (!r.ok()) return std::nullopt;
  return cid;
}

}  // namespace punch::wire
