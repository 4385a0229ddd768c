// A tunnel endpoint's protocol core (sans-I/O): the rendezvous client and every
// session, demultiplexed from one UDP socket by datagram type and connection ID.
// The app layer reacts to its events (accept an invite, move stream bytes); the
// I/O layer feeds it datagrams and time and calls flush() after each batch.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "crypto/identity.hpp"
#include "crypto/random.hpp"
#include "path/birthday_budget.hpp"
#include "path/mapping_check.hpp"
#include "path/path_manager.hpp"
#include "session/rendezvous_client.hpp"
#include "session/session.hpp"
#include "transport/connection.hpp"
#include "util/address.hpp"
#include "util/datagram_sink.hpp"
#include "util/socket_pool.hpp"
#include "util/time.hpp"

namespace punch::session {

/// Something the app must react to, polled with Endpoint::poll_event().
struct EndpointEvent {
  enum class Kind {
    kRegistered,     ///< Registered (again) at the rendezvous; `address` = reflexive.
    kUnreachable,    ///< The rendezvous does not answer (still retrying).
    kInvite,         ///< Listener: `peer` asks for session `connection_id`; accept or refuse.
    kConnectFailed,  ///< Connector: introduction failed; `reason` says why.
    kSessionUp,      ///< Handshake done with `peer`; `address` = path in use.
    kSessionDown,    ///< Session ended; `close` says why (`reason` is its message).
    kStream,         ///< A transport event `stream_event` on session `connection_id`.
    kPath,           ///< Direct-path news `path_event` on session `connection_id`.
  };
  Kind kind = Kind::kStream;
  std::uint64_t connection_id = 0;
  crypto::NodeId peer{};
  util::Address address{};
  std::string reason{};
  transport::CloseReason close{};  ///< kSessionDown: why, as data (decide on this, not `reason`).
  transport::Event stream_event{transport::Event::Kind::kReadable, 0};
  path::PathEvent path_event{};
};

/// Counters for logs and tests.
struct EndpointStats {
  std::uint64_t dropped_unknown = 0;  ///< Datagrams for no session, or not punch at all.
};

/// The endpoint core.
class Endpoint {
 public:
  /// `identity`, `rng`, `sink` (the main socket) and `pool` must outlive the
  /// endpoint. `listener` registers as a node that accepts invites; `path_config`
  /// applies to every session. Without a `pool` no session opens extra sockets (the
  /// side behind a hard NAT then cannot offer the birthday prober many ports).
  Endpoint(const crypto::Identity& identity, util::Address rendezvous, bool listener,
           crypto::RandomSource& rng, util::DatagramSink& sink,
           const path::PathConfig& path_config = {}, util::SocketPool* pool = nullptr);

  /// Starts registering with the rendezvous.
  void start(util::TimePoint now);
  /// Handles one datagram that arrived from `from` on our socket `socket`.
  void on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now,
                   util::SocketId socket = util::kMainSocket);
  /// Runs timers due at `now`.
  void on_timeout(util::TimePoint now);
  /// When on_timeout() must next run.
  util::TimePoint next_deadline() const;
  /// Sends what every session has ready; call after each batch of input or app writes.
  void flush(util::TimePoint now);
  /// Takes the next event, if any.
  std::optional<EndpointEvent> poll_event();

  /// Connector: opens a session to `target`; returns its connection ID.
  std::uint64_t connect(const crypto::NodeId& target, util::TimePoint now);
  /// Listener: accepts invite `connection_id` from `peer` (creates the session).
  void accept(std::uint64_t connection_id, const crypto::NodeId& peer, util::TimePoint now);
  /// Listener: refuses invite `connection_id`, telling the connector `reason`.
  void refuse(std::uint64_t connection_id, const std::string& reason, util::TimePoint now);
  /// This host's interface addresses with our socket's port: the host candidates
  /// every session offers its peer (with the reflexive address, once registered).
  void set_host_addresses(std::vector<util::Address> addresses, util::TimePoint now);
  /// The session for `connection_id`, or null.
  Session* session(std::uint64_t connection_id);
  /// Sessions held (in handshake, up, or ended and not yet closed).
  std::size_t session_count() const { return sessions_.size(); }
  /// Closes a session with application code `app_code` and `reason` (both told to the
  /// peer) and forgets it.
  void close(std::uint64_t connection_id, std::uint64_t app_code, const std::string& reason,
             util::TimePoint now);

  /// True while registered.
  bool registered() const { return rendezvous_.registered(); }
  /// Our NAT's mapping behaviour as learnt from the rendezvous's two ports (kUnknown
  /// until measured); every session tells its peer.
  path::Mapping mapping() const { return mapping_check_.mapping(); }
  /// Our reflexive address (valid once registered).
  const util::Address& reflexive_address() const { return rendezvous_.reflexive_address(); }
  /// This endpoint's identity.
  const crypto::Identity& identity() const { return *identity_; }
  /// Counters.
  const EndpointStats& stats() const { return stats_; }

 private:
  struct Entry {
    std::unique_ptr<Session> session;
    bool announced_up = false;
    bool announced_down = false;
  };
  void pump_rendezvous_events(util::TimePoint now);
  void collect(std::uint64_t cid, Entry& entry, util::TimePoint now);
  std::vector<wire::Candidate> local_candidates() const;
  void refresh_candidates(util::TimePoint now);
  void apply_mapping(util::TimePoint now);
  Session& add_session(std::unique_ptr<Session> s, util::TimePoint now);

  const crypto::Identity* identity_;
  crypto::RandomSource* rng_;
  util::DatagramSink* sink_;
  util::SocketPool* pool_;
  // Declared before the sessions, which use it until they are destroyed.
  std::unique_ptr<path::BirthdayBudget> budget_;
  RendezvousClient rendezvous_;
  path::MappingCheck mapping_check_;
  std::map<std::uint64_t, Entry> sessions_;
  std::map<std::uint64_t, crypto::NodeId> pending_connects_;  // cid -> target
  std::map<std::uint64_t, util::Address> invited_from_;       // cid -> connector's address
  path::PathConfig path_config_;
  std::vector<util::Address> host_addresses_;
  // Live sessions whose relay must be re-introduced (after a rendezvous restart
  // the listener may re-register later than we do): cid -> when to ask again.
  std::map<std::uint64_t, util::TimePoint> reintroduce_;
  std::deque<EndpointEvent> events_;
  EndpointStats stats_;
};

}  // namespace punch::session
