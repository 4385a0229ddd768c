// Why a connection ended, as data (as ngtcp2's ngtcp2_ccerr): who closed it, which
// kind of close, the error code and the reason phrase. Callers decide on origin, kind
// and code; the text is for people (logs, --events) and is never compared.
#pragma once

#include <cstdint>
#include <string>

namespace punch::transport {

/// Which end decided to close.
enum class CloseOrigin {
  kLocal,  ///< This end: close(), a protocol violation it detected, or its idle timer.
  kPeer,   ///< The peer's CONNECTION_CLOSE.
};

/// What kind of close it was; decides how `code` is read.
enum class CloseKind {
  kApplication,  ///< CONNECTION_CLOSE 0x1d: `code` is an application code (app/close_codes.hpp).
  kTransport,    ///< CONNECTION_CLOSE 0x1c: `code` is a transport error (constants.hpp).
  kIdle,         ///< Nothing arrived for kIdleTimeout; no packet is sent, `code` is 0.
  kHandshake,    ///< The session's handshake failed before a connection existed; `code` is 0.
};

/// Why a connection (or the session around it) ended.
struct CloseReason {
  CloseOrigin origin = CloseOrigin::kLocal;
  CloseKind kind = CloseKind::kApplication;
  std::uint64_t code = 0;
  /// The reason phrase as sent or received (a peer's is cut short and made printable).
  std::string text;

  /// The user-visible message: the text, prefixed "peer: " when the peer closed (or
  /// "peer: closed with error N" when its phrase was empty); "" for an open connection.
  std::string message() const;
  /// True when the peer closed with application code `app_code`.
  bool peer_application(std::uint64_t app_code) const {
    return origin == CloseOrigin::kPeer && kind == CloseKind::kApplication && code == app_code;
  }
};

}  // namespace punch::transport
