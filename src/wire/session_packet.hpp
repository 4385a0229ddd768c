// Session packets: the only datagrams that travel between endpoints, relayed by
// the rendezvous byte for byte or sent directly. The connection ID, not the
// address, names the session (ARCHITECTURE.md decision 4).
//
//   0      1        9      10
//   +------+--------+------+-----------------------------------------+
//   | 0x20 | cid(8) | kind | kind 0: DTLS handshake records           |
//   |      |        |      | kind 1: pn(8) | ChaCha20-Poly1305(frames) |
//   +------+--------+------+-----------------------------------------+
// For kind 1 the first 18 bytes are the AEAD's associated data.
#pragma once

#include <cstdint>
#include <optional>

#include "util/bytes.hpp"

namespace punch::wire {

/// What a session packet carries.
enum class SessionKind : std::uint8_t {
  kHandshake = 0,  ///< DTLS 1.2 handshake records, clear (DTLS protects them itself).
  kProtected = 1,  ///< Transport frames sealed with the exported keys.
};

/// Bytes before the payload of a handshake packet.
inline constexpr std::size_t kSessionHeaderSize = 10;
/// Bytes before the ciphertext of a protected packet (the AEAD's associated data).
inline constexpr std::size_t kProtectedHeaderSize = 18;

/// A parsed session packet; views point into the datagram.
struct SessionPacket {
  std::uint64_t connection_id = 0;
  SessionKind kind = SessionKind::kHandshake;
  std::uint64_t packet_number = 0;  ///< Only for kProtected.
  util::ByteView header;            ///< Associated data (kProtected) or the 10-byte header.
  util::ByteView payload;           ///< DTLS records, or ciphertext + tag.
};

/// Parses a session packet; nullopt if it is not one or is truncated.
std::optional<SessionPacket> decode_session_packet(util::ByteView datagram);
/// Appends a handshake packet's header and `records`.
void encode_handshake_packet(std::uint64_t connection_id, util::ByteView records, util::Bytes& out);
/// Appends a protected packet's 18-byte header (the caller appends the sealed body).
void encode_protected_header(std::uint64_t connection_id, std::uint64_t packet_number,
                             util::Bytes& out);
/// Reads just the connection ID (the relay's fast path); nullopt if too short.
std::optional<std::uint64_t> peek_connection_id(util::ByteView datagram);

}  // namespace punch::wire
