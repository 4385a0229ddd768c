// Sans-I/O DTLS 1.2 handshake (mbedTLS) with mutual authentication by
// self-signed certificates pinned by NodeId. It only authenticates and agrees
// keys: application data never travels in DTLS records; SessionKeys are exported
// from the master secret (RFC 5705 style, label "EXPORTER-punch-session").
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/identity.hpp"
#include "crypto/packet_protection.hpp"
#include "crypto/random.hpp"
#include "util/bytes.hpp"
#include "util/result.hpp"
#include "util/time.hpp"

namespace punch::crypto {

/// One side of a handshake; the connector is the client, the listener the server.
class Handshake {
 public:
  enum class Role { kClient, kServer };
  /// Decides whether a peer that proved possession of the key behind `peer` may
  /// complete the handshake; an error message if not (sent nowhere, reported locally).
  /// It runs when the certificate arrives, before the possession proof is checked
  /// (a failed proof fails the handshake later), so it must have no side effects.
  using PeerCheck = std::function<util::Status(const NodeId& peer)>;

  /// Largest DTLS datagram the handshake emits (fits a 1200-byte UDP payload
  /// with punch's session header).
  static constexpr std::size_t kMaxDatagram = 1100;

  /// Prepares a handshake; `identity` and `rng` must outlive it.
  Handshake(Role role, const Identity& identity, PeerCheck check, RandomSource& rng);
  Handshake(Handshake&&) noexcept;
  Handshake& operator=(Handshake&&) noexcept;
  ~Handshake();

  /// Starts the handshake (the client emits its first flight).
  void start(util::TimePoint now);
  /// Feeds one datagram of DTLS records from the peer. After completion it is
  /// still fed, so a retransmitted final flight from the peer gets our answer.
  void on_datagram(util::ByteView records, util::TimePoint now);
  /// Takes the DTLS datagrams waiting to be sent, oldest first.
  std::vector<util::Bytes> take_outgoing();
  /// When on_timeout() must next run (DTLS retransmission); kNever if idle.
  util::TimePoint next_deadline() const;
  /// Runs retransmission timers due at `now`.
  void on_timeout(util::TimePoint now);

  /// True once keys are agreed and the peer is verified.
  bool complete() const;
  /// Why the handshake failed, once it has (bad peer key, alert, timeout).
  std::optional<std::string> failure() const;
  /// The verified peer's ID; valid once complete().
  const NodeId& peer_id() const;
  /// Exported keys; valid once complete().
  const SessionKeys& keys() const;
  /// Name of the negotiated DTLS cipher suite, for logs; empty until complete().
  std::string cipher_suite() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace punch::crypto
