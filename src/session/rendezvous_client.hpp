// The endpoint's side of the rendezvous protocol (sans-I/O): registers with
// proof of key possession, keeps the registration and the NAT mapping alive,
// re-registers after a rendezvous restart, and carries connect signalling.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/identity.hpp"
#include "crypto/node_id.hpp"
#include "crypto/random.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"
#include "util/datagram_sink.hpp"
#include "util/time.hpp"

namespace punch::session {

/// Something the endpoint must react to, polled with RendezvousClient::poll_event().
struct RendezvousEvent {
  enum class Kind {
    kRegistered,     ///< First registration, again after a loss, or the reflexive address
                     ///< changed (NAT rebinding); `address` = reflexive.
    kUnreachable,    ///< No answer from the rendezvous for a while (still retrying).
    kInvite,         ///< Listener: `peer` at `address` wants session `connection_id`.
    kConnectOk,      ///< Connector: relay for `connection_id` is up; `address` = peer's.
    kConnectFailed,  ///< Connector: `reason` says why (unknown peer, refused, ...).
  };
  Kind kind;
  std::uint64_t connection_id = 0;
  crypto::NodeId peer;
  util::Address address;
  std::string reason;
};

/// Client for one rendezvous server.
class RendezvousClient {
 public:
  /// `identity`, `rng` and `sink` must outlive the client. `listener` marks this
  /// registration as one that accepts connections (connectors are found by ID only
  /// through listener registrations).
  RendezvousClient(const crypto::Identity& identity, util::Address server, bool listener,
                   crypto::RandomSource& rng, util::DatagramSink& sink);
  RendezvousClient(RendezvousClient&&) noexcept;
  RendezvousClient& operator=(RendezvousClient&&) noexcept;
  ~RendezvousClient();

  /// Starts registering.
  void start(util::TimePoint now);
  /// True for datagrams from the rendezvous that this client consumes (control types).
  static bool is_control(util::ByteView datagram);
  /// Handles a control datagram from `from` (ignored unless from the server).
  void on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now);
  /// When on_timeout() must next run.
  util::TimePoint next_deadline() const;
  /// Runs retransmissions and keepalives due at `now`.
  void on_timeout(util::TimePoint now);
  /// Takes the next event, if any.
  std::optional<RendezvousEvent> poll_event();

  /// Connector: asks to be introduced to `target` for session `connection_id`;
  /// retransmitted until kConnectOk or kConnectFailed.
  void connect(std::uint64_t connection_id, const crypto::NodeId& target, util::TimePoint now);
  /// Listener: agrees to an invite (idempotent).
  void accept(std::uint64_t connection_id, util::TimePoint now);
  /// Listener: declines an invite, telling the connector `reason` (cut to 200 bytes).
  /// REFUSEs are paced (kRefuseRatePerSecond); one over the budget is not sent, and a
  /// re-sent INVITE for it is answered again when the budget allows.
  void refuse(std::uint64_t connection_id, const std::string& reason, util::TimePoint now);
  /// Sends a keepalive now rather than at its period: a session just lost its direct
  /// path, maybe to a NAT rebinding, and the relay it falls back to needs our current
  /// mapping registered (the answer also tells whether the reflexive address moved).
  void check_now(util::TimePoint now);
  /// Drops what is remembered about `connection_id` (a pending connect, or an invite
  /// and our answer to it); call when its session ends. Until then a re-sent INVITE
  /// for it (e.g. after a rendezvous restart) is answered with the same decision.
  void forget(std::uint64_t connection_id);

  /// True while a registration is believed live.
  bool registered() const;
  /// The address the rendezvous sees us at (valid once registered).
  const util::Address& reflexive_address() const;
  /// The rendezvous's address.
  const util::Address& server() const;
  /// Where the rendezvous answers address probes, as REGISTERED said (an all-zero IP
  /// means the rendezvous's own IP; empty: none, or not registered).
  const std::vector<util::Address>& probe_addresses() const;
  /// This client's random registration instance (fixed for its lifetime).
  std::uint64_t instance() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace punch::session
