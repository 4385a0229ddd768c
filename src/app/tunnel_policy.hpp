// What `punch listen` and `punch connect` do about their endpoint's news, without
// any I/O: accept or refuse an invitation, connect once registered, hand sessions
// to the forwarder, forget ended ones, and when to exit with which status. Events
// go in; commands come out through a sink the caller executes at once (the
// binary on libuv, the simulator on its virtual network).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "app/close_codes.hpp"
#include "app/event_log.hpp"
#include "app/refusal_log.hpp"
#include "crypto/identity.hpp"
#include "session/endpoint.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace punch::app {

/// Exit statuses of the tunnel commands.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;        ///< Something failed; the log says what.
constexpr int kExitUsage = 2;          ///< Bad arguments.
constexpr int kExitInterrupted = 130;  ///< SIGINT or SIGTERM, as a shell reports SIGINT.

/// Sessions a listener has accepted but not yet seen established, per peer: a script
/// starting many `punch connect`s at once (parallel ssh ProxyCommands, ansible forks)
/// gets this many through together, the rest are refused as busy and may retry. It
/// bounds what one allowed key can make the listener hold for kHandshakeTimeout.
inline constexpr std::size_t kMaxHandshakesPerPeer = 16;
/// The same in total, whoever the peers: a handshake takes 1.5 round trips, so 64 at
/// once still admit more than a hundred new sessions a second, and sessions that never
/// start (invitations forged by a malicious rendezvous) cost at most 64 x ~40 KB for
/// kHandshakeTimeout each (docs/security.md).
inline constexpr std::size_t kMaxHandshakes = 64;

/// Who may open sessions to a listener.
struct PeerPolicy {
  bool allow_any = false;            ///< --allow-any.
  std::set<crypto::NodeId> allowed;  ///< --allow and authorized_peers.
};

/// One thing the policy wants done.
struct TunnelCommand {
  /// What to do.
  enum class Kind {
    kAccept,        ///< Accept invitation `cid` from `peer`.
    kRefuse,        ///< Refuse invitation `cid`, telling the peer `reason`.
    kConnect,       ///< Open a session to `peer`; report its ID with connecting().
    kClose,         ///< Close session `cid`, telling the peer `reason`.
    kChannelsUp,    ///< Session `cid` is up: open the forwarder's streams on it.
    kChannelsDown,  ///< Session `cid` ended with `reason` (`clean`): end its channels.
    kEmit,          ///< Write event `name` with `fields` to --events.
    kLog,           ///< Log `reason` at `level`.
    kExit,          ///< Stop everything; the process exits with exit_code().
  };
  Kind kind = Kind::kLog;                         ///< What.
  std::uint64_t cid = 0;                          ///< Session, where one is meant.
  crypto::NodeId peer{};                          ///< kAccept, kConnect.
  std::string reason;                             ///< Reason, or the log line.
  std::uint64_t close_code = kCloseError;         ///< kClose: app code (close_codes.hpp).
  bool clean = false;                             ///< kChannelsDown: the peer said "done".
  std::string name;                               ///< kEmit: the event.
  EventFields fields;                             ///< kEmit: its fields.
  util::LogLevel level = util::LogLevel::kDebug;  ///< kLog.
};

/// The session reactions of one tunnel endpoint.
class TunnelPolicy {
 public:
  /// Where the tunnel is.
  enum class State {
    kRegistering,  ///< Not registered at the rendezvous yet.
    kRegistered,   ///< Registered at least once (a connector then connected).
    kStopped,      ///< Finished; exit_code() holds the status.
  };
  /// Where one session is.
  enum class SessionState {
    kOpening,  ///< Accepted or connecting; no handshake yet.
    kUp,       ///< Handshake done.
    kDown,     ///< Ended; forgotten once its channels are done.
  };
  /// What the policy knows of one session.
  struct SessionRecord {
    std::string peer;                             ///< The peer's ID, as text.
    SessionState state = SessionState::kOpening;  ///< Where it is.
    std::string down_reason;                      ///< Why it ended (kDown).
  };
  /// Configuration of one endpoint.
  struct Config {
    bool listener = false;                 ///< Accepts invitations (else connects).
    std::optional<crypto::NodeId> target;  ///< Connector: connect here once registered.
    PeerPolicy peers;                      ///< Listener: who may connect.
    crypto::NodeId self{};                 ///< Our own ID, for messages.
    std::string rendezvous;                ///< The rendezvous as the user wrote it.
  };
  /// Executes one command at once (it may call back into the policy).
  using Sink = std::function<void(const TunnelCommand&)>;
  /// True while the forwarder still runs a channel of session `cid`.
  using HasChannels = std::function<bool(std::uint64_t cid)>;

  /// A policy for `config` that sends commands to `sink` and asks `has_channels`.
  TunnelPolicy(Config config, Sink sink, HasChannels has_channels);

  /// Reacts to an endpoint event at `now` (kStream and kPath are not its business).
  void on_event(const session::EndpointEvent& e, util::TimePoint now);
  /// Runs what is due at `now`: the summary of refusals held back.
  void on_timeout(util::TimePoint now);
  /// When on_timeout() must next run; util::kNever if nothing is pending.
  util::TimePoint next_deadline() const;
  /// A kConnect command (or the simulator) opened session `cid` to `peer`.
  void connecting(std::uint64_t cid, const crypto::NodeId& peer);
  /// The stdio channel is done: "" after a clean end, else why not.
  void on_stdio_finished(const std::string& reason);
  /// SIGINT or SIGTERM.
  void on_interrupted();
  /// Closes sessions that ended and whose channels are all done (after each flush).
  void forget_ended();

  /// Where the tunnel is.
  State state() const { return state_; }
  /// True once stopped.
  bool stopped() const { return state_ == State::kStopped; }
  /// The exit status, once stopped.
  int exit_code() const { return exit_code_; }
  /// The sessions known (opening, up, or down with channels still running).
  const std::map<std::uint64_t, SessionRecord>& sessions() const { return sessions_; }

 private:
  void on_registered(const session::EndpointEvent& e);
  void on_invite(const session::EndpointEvent& e, util::TimePoint now);
  void refuse(const session::EndpointEvent& e, const std::string& reason, util::TimePoint now);
  std::optional<std::string> busy(const std::string& peer) const;
  void on_session_up(const session::EndpointEvent& e);
  void on_session_down(const session::EndpointEvent& e);
  void finish(const std::string& reason, int code);
  void emit(const std::string& name, EventFields fields);
  void log(util::LogLevel level, const std::string& line);
  void run(TunnelCommand c) { sink_(c); }

  Config config_;
  Sink sink_;
  HasChannels has_channels_;
  State state_ = State::kRegistering;
  int exit_code_ = kExitOk;
  std::map<std::uint64_t, SessionRecord> sessions_;
  RefusalLog refusals_;
};

/// True when `e` (a kSessionDown) is the peer's clean close: it finished its streams.
bool ended_cleanly(const session::EndpointEvent& e);

}  // namespace punch::app
