// One end-to-end session with a peer (sans-I/O): the DTLS handshake, then
// transport packets sealed with the exported keys. The session is named by its
// connection ID; the address it sends to (the relay, later a direct path) can
// change under it without the transport noticing anything but a new RTT.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "crypto/handshake.hpp"
#include "crypto/identity.hpp"
#include "crypto/packet_protection.hpp"
#include "crypto/random.hpp"
#include "path/path_manager.hpp"
#include "session/replay_window.hpp"
#include "transport/connection.hpp"
#include "transport/constants.hpp"
#include "util/address.hpp"
#include "util/datagram_sink.hpp"
#include "util/socket_pool.hpp"
#include "util/time.hpp"
#include "wire/session_packet.hpp"

namespace punch::session {

/// Which end of the session this is. The connector is the DTLS and transport client.
enum class SessionRole { kConnector, kListener };

/// Counters for logs and tests.
struct SessionStats {
  std::uint64_t undecryptable = 0;   ///< Protected packets that failed authentication.
  std::uint64_t early_dropped = 0;   ///< Protected packets that arrived before our keys.
  std::uint64_t replayed = 0;        ///< Authentic transport packets already received.
  std::uint64_t path_replayed = 0;   ///< Path packets refused as duplicates or too old.
  std::uint64_t path_malformed = 0;  ///< Authenticated path packets with bad frames.
};

/// A session with one peer over one connection ID.
class Session {
 public:
  /// UDP payload punch sends at most: the largest path MTU probe (the transport starts at
  /// 1200, RFC 9000's minimum, and uses more only once a probe proved the path carries it).
  static constexpr std::size_t kMaxDatagram = transport::kMaxProbeDatagramSize;

  /// Prepares a session; `identity`, `rng`, `sink` (the main socket) and `pool` must
  /// outlive it. `expected` is the peer ID the handshake must prove. Packets go to
  /// `relay` until a direct path is validated (never with `path_config.relay_only`);
  /// `pool`, if any, gives the birthday prober extra sockets; `budget`, if any, paces
  /// its guesses together with other sessions'.
  Session(SessionRole role, std::uint64_t connection_id, const crypto::Identity& identity,
          const crypto::NodeId& expected, util::Address relay, crypto::RandomSource& rng,
          util::DatagramSink& sink, const path::PathConfig& path_config = {},
          util::SocketPool* pool = nullptr, path::BirthdayBudget* budget = nullptr);
  Session(Session&&) noexcept = default;
  Session& operator=(Session&&) noexcept = default;
  ~Session() = default;

  /// Starts the handshake (the connector sends its first flight on flush()).
  void start(util::TimePoint now);
  /// Handles a session packet for this connection ID that arrived from `from` on our
  /// socket `socket`.
  void on_packet(const wire::SessionPacket& packet, const util::Address& from, util::TimePoint now,
                 util::SocketId socket = util::kMainSocket);
  /// Runs timers due at `now`.
  void on_timeout(util::TimePoint now);
  /// When on_timeout() must next run.
  util::TimePoint next_deadline() const;
  /// Sends everything that is ready: handshake flights, then transport packets.
  void flush(util::TimePoint now);

  /// True once the handshake completed and the transport runs.
  bool established() const { return connection_ != nullptr; }
  /// True once the session ended (handshake failure, close, idle timeout).
  bool ended() const { return ended_; }
  /// Why it ended (origin, kind, code, text); message() is empty while it runs.
  const transport::CloseReason& end_reason() const { return end_reason_; }
  /// The transport; only valid once established().
  transport::Connection& connection() { return *connection_; }
  /// Which end of the session this is.
  SessionRole role() const { return role_; }
  /// Connection ID naming this session.
  std::uint64_t connection_id() const { return connection_id_; }
  /// The peer the handshake must prove (and did, once established).
  const crypto::NodeId& peer() const { return expected_; }
  /// Where packets go now (the relay or a direct path).
  const util::Address& path() const { return path_.current(); }
  /// True while packets go over a direct path.
  bool direct() const { return path_.direct(); }
  /// Direct-path discovery: give it candidates, take its events.
  path::PathManager& paths() { return path_; }
  /// Same, read-only.
  const path::PathManager& paths() const { return path_; }
  /// Counters.
  const SessionStats& stats() const { return stats_; }
  /// Closes the transport with application code `app_code` and `reason` (both sent to
  /// the peer), or abandons the handshake.
  void close(std::uint64_t app_code, const std::string& reason, util::TimePoint now);

 private:
  void check_handshake(util::TimePoint now);
  void process_protected(const wire::SessionPacket& packet, const util::Address& from,
                         util::SocketId socket, util::TimePoint now);
  void process_path_packet(const wire::SessionPacket& packet, const util::Address& from,
                           util::SocketId socket, util::TimePoint now);
  void seal_and_send(std::uint64_t packet_number, util::ByteView payload, util::SocketId socket,
                     const util::Address& to, int ttl);
  util::DatagramSink& sink_for(util::SocketId socket);
  void after_input(util::TimePoint now);
  void end(transport::CloseReason reason);

  SessionRole role_;
  std::uint64_t connection_id_;
  crypto::NodeId expected_;
  path::PathManager path_;
  util::DatagramSink* sink_;
  util::SocketPool* pool_;
  std::unique_ptr<crypto::Handshake> handshake_;
  std::unique_ptr<crypto::PacketProtection> seal_;
  std::unique_ptr<crypto::PacketProtection> open_;
  std::unique_ptr<transport::Connection> connection_;
  struct Early {
    util::Bytes datagram;
    util::Address from;
    util::SocketId socket;
  };
  std::deque<Early> early_;  // packets that beat our keys
  ReplayWindow path_replay_;
  std::uint64_t next_path_pn_ = wire::kPathPacketNumberBit;
  util::Bytes scratch_;
  util::Bytes plain_;
  SessionStats stats_;
  util::TimePoint handshake_deadline_ = util::kNever;  // set by start(): kHandshakeTimeout
  bool ended_ = false;
  transport::CloseReason end_reason_;
};

}  // namespace punch::session
