#include "app/tunnel.hpp"

#include <uv.h>

#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "app/close_codes.hpp"
#include "app/event_log.hpp"
#include "app/forwarder.hpp"
#include "app/keys.hpp"
#include "crypto/random.hpp"
#include "io/descriptor_limit.hpp"
#include "io/handle.hpp"
#include "io/interfaces.hpp"
#include "io/signals.hpp"
#include "io/sockaddr.hpp"
#include "io/timer.hpp"
#include "io/udp_socket.hpp"
#include "io/udp_socket_pool.hpp"
#include "session/endpoint.hpp"
#include "util/log.hpp"

namespace punch::app {

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;
// How often the host's interface addresses are read again: libuv reports no
// changes, and a new address (a laptop joining Wi-Fi) should be offered to peers
// within seconds; one getifaddrs() per period costs nothing.
constexpr util::Duration kInterfacePollInterval = std::chrono::seconds(5);
// Descriptors for everything but the birthday prober's sockets (forwarded TCP
// connections, mostly): the usual soft limit, which punch always lived within.
constexpr std::size_t kDescriptorsBesidesBirthday = 1024;

/// Who may open sessions to a listener.
struct Policy {
  bool allow_any = false;
  std::set<crypto::NodeId> allowed;
};

/// What a tunnel endpoint does: listen (accept invites) or connect to a peer.
struct Role {
  bool listener = false;
  crypto::NodeId target;  // connector only
  Policy policy;          // listener only
  path::PathConfig path;  // both: --relay-only, --birthday-*
};

class Tunnel {
 public:
  Tunnel(uv_loop_t* loop, const crypto::Identity& identity, util::Address rendezvous,
         std::string rendezvous_text, Role role, ForwarderOptions forwards, EventLog& events,
         crypto::RandomSource& rng)
      : loop_(loop),
        rendezvous_family_(rendezvous.family),
        identity_(identity),
        rendezvous_text_(std::move(rendezvous_text)),
        role_(std::move(role)),
        events_(events),
        socket_(loop),
        pool_(loop, socket_,
              [this](util::SocketId id, const util::Address& from, util::ByteView data) {
                endpoint_.on_datagram(from, data, io::now(), id);
                pump_.mark();
              }),
        // --birthday-sockets 0: no pool, so no session can open a socket at all.
        endpoint_(identity, rendezvous, role_.listener, rng, socket_, role_.path,
                  role_.path.birthday.sockets > 0 ? &pool_ : nullptr),
        timer_(loop, [this] { on_timer(); }),
        interfaces_timer_(loop, [this] { poll_interfaces(); }),
        pump_(loop, [this] { on_pump(); }),
        signals_(loop, [this](int) { finish("interrupted", kExitInterrupted); }),
        forwarder_(
            loop, endpoint_, events, std::move(forwards), [this] { pump_.mark(); },
            [this](const std::string& reason) { on_stdio_finished(reason); }) {}

  int run() {
    if (auto s = forwarder_.bind_local_ports(); !s) {
      util::log_error(s.error().message);
      forwarder_.close();
      close_handles();
      return kExitFailure;
    }
    util::Address local;  // any address, any port, of the rendezvous's family
    local.family = rendezvous_family_;
    if (auto s = socket_.bind(local,
                              [this](const util::Address& from, util::ByteView data) {
                                endpoint_.on_datagram(from, data, io::now());
                                pump_.mark();
                              });
        !s) {
      util::log_error(s.error().message);
      forwarder_.close();
      close_handles();
      return kExitFailure;
    }
    util::log_debug("UDP socket on " + socket_.local_address().to_string());
    endpoint_.start(io::now());
    poll_interfaces();
    pump_.mark();
    uv_run(loop_, UV_RUN_DEFAULT);
    return exit_code_;
  }

 private:
  /// What the tunnel knows of one live session.
  struct SessionInfo {
    std::string peer;
    bool path_reported = false;
    // From the last switch to a direct path: the birthday prober's port guesses and
    // extra sockets that found it (both 0 when it was found another way).
    std::uint64_t guesses = 0;
    std::size_t sockets = 0;
    bool down = false;  // ended; forgotten once its channels are done
    std::string down_reason;
  };

  // Offers this host's addresses, with our socket's port, as host candidates.
  void poll_interfaces() {
    const auto now = io::now();
    const std::uint16_t port = socket_.local_address().port;
    std::vector<util::Address> hosts;
    if (!role_.path.relay_only) {
      hosts = io::host_addresses(rendezvous_family_ == 6 ? AF_INET6 : AF_INET);
      for (util::Address& a : hosts) a.port = port;
    }
    endpoint_.set_host_addresses(std::move(hosts), now);
    interfaces_timer_.arm(now + kInterfacePollInterval, now);
    pump_.mark();
  }

  void on_timer() {
    endpoint_.on_timeout(io::now());
    pump_.mark();
  }

  void on_pump() {
    if (stopped_) return;
    const auto now = io::now();
    handle_events(now);
    endpoint_.flush(now);
    handle_events(now);  // flushing may end sessions (e.g. a close sent)
    forwarder_.poll();
    if (stopped_) return;
    forget_ended_sessions(now);
    report_paths();
    endpoint_.flush(now);  // what the forwarder queued while polling
    timer_.arm(endpoint_.next_deadline(), now);
  }

  // Emits a session's "path" event once the path in use has an RTT sample (after
  // session start and after every path change, which restarts the estimate), so
  // rtt_ms is a measurement of that path, never the transport's initial guess.
  void report_paths() {
    for (auto& [cid, info] : sessions_) {
      if (info.path_reported || info.down) continue;
      session::Session* s = endpoint_.session(cid);
      if (s == nullptr || !s->established()) continue;
      const transport::Stats st = s->connection().stats();
      if (!st.rtt_measured) continue;
      info.path_reported = true;
      const double rtt_ms = std::chrono::duration<double, std::milli>(st.smoothed_rtt).count();
      const std::string kind = s->direct() ? "direct" : "relay";
      EventFields fields{{"peer", info.peer},
                         {"path", kind},
                         {"address", s->path().to_string()},
                         {"rtt_ms", rtt_ms}};
      if (s->direct() && (info.guesses != 0 || info.sockets != 0)) {
        fields.emplace_back("guesses", static_cast<std::int64_t>(info.guesses));
        fields.emplace_back("sockets", static_cast<std::int64_t>(info.sockets));
      }
      events_.emit("path", fields);
      util::log_info("session with " + info.peer + " on the " + kind + " path " +
                     s->path().to_string() + ", rtt " + std::to_string(rtt_ms) + " ms");
    }
  }

  void on_path_event(const session::EndpointEvent& e) {
    const auto it = sessions_.find(e.connection_id);
    if (it == sessions_.end()) return;
    const path::PathEvent& p = e.path_event;
    const std::string& peer = it->second.peer;
    const auto ms = [](util::Duration d) {
      return std::to_string(std::chrono::duration<double, std::milli>(d).count());
    };
    switch (p.kind) {
      case path::PathEvent::Kind::kSwitched:
        // Reported by report_paths() once the new path has its first RTT sample.
        it->second.path_reported = false;
        it->second.guesses = p.direct ? p.guesses : 0;
        it->second.sockets = p.direct ? p.sockets : 0;
        util::log_debug(peer + ": switching to " + (p.direct ? "direct path " : "relay ") +
                        p.address.to_string() + " (" + p.detail + ")");
        break;
      case path::PathEvent::Kind::kCandidates:
        util::log_debug(peer + ": peer's candidates: " + p.detail);
        break;
      case path::PathEvent::Kind::kProbing:
        util::log_debug(peer + ": probing " + p.detail);
        break;
      case path::PathEvent::Kind::kValidated:
        util::log_debug(peer + ": direct path " + p.address.to_string() + " (" + p.detail +
                        ") answers, rtt " + ms(p.rtt) + " ms");
        break;
      case path::PathEvent::Kind::kLost:
        util::log_info("session with " + peer + ": direct path " + p.address.to_string() +
                       " stopped answering; back to the relay");
        break;
      case path::PathEvent::Kind::kStrategy: {
        const std::string strategy = path::strategy_token(p.strategy);
        const std::string local = path::mapping_token(p.local_mapping);
        const std::string remote = path::mapping_token(p.peer_mapping);
        events_.emit("strategy", {{"peer", peer},
                                  {"strategy", strategy},
                                  {"local_mapping", local},
                                  {"peer_mapping", remote}});
        util::log_debug(peer + ": strategy " + strategy + " (our mapping " + local +
                        ", the peer's " + remote + ")");
        break;
      }
    }
  }

  // An ended session stays readable until its channels drained it; then it goes.
  void forget_ended_sessions(util::TimePoint now) {
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (it->second.down && !forwarder_.has_channels(it->first)) {
        // Already ended: nothing goes to the peer, so the code does not matter.
        endpoint_.close(it->first, kCloseError, it->second.down_reason, now);
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void handle_events(util::TimePoint now) {
    while (auto e = endpoint_.poll_event()) {
      switch (e->kind) {
        case session::EndpointEvent::Kind::kRegistered:
          on_registered(*e, now);
          break;
        case session::EndpointEvent::Kind::kUnreachable:
          if (!role_.listener && !ever_registered_) {
            finish("rendezvous " + rendezvous_text_ + " does not answer", kExitFailure);
            return;
          }
          util::log_warn("rendezvous " + rendezvous_text_ + " does not answer; retrying");
          break;
        case session::EndpointEvent::Kind::kInvite:
          on_invite(*e, now);
          break;
        case session::EndpointEvent::Kind::kConnectFailed:
          events_.emit("connect_failed",
                       {{"peer", role_.target.to_string()}, {"reason", e->reason}});
          finish(e->reason, kExitFailure);
          return;
        case session::EndpointEvent::Kind::kSessionUp:
          on_session_up(*e);
          break;
        case session::EndpointEvent::Kind::kSessionDown:
          on_session_down(*e);
          break;
        case session::EndpointEvent::Kind::kStream:
          forwarder_.on_stream_event(e->connection_id, e->stream_event);
          break;
        case session::EndpointEvent::Kind::kPath:
          on_path_event(*e);
          break;
      }
      if (stopped_) return;
    }
  }

  void on_registered(const session::EndpointEvent& e, util::TimePoint now) {
    events_.emit("registered", {{"address", e.address.to_string()},
                                {"rendezvous", rendezvous_text_},
                                {"id", identity_.id().to_string()}});
    util::log_debug("registered at " + rendezvous_text_ + ", seen as " + e.address.to_string());
    if (ever_registered_) return;
    ever_registered_ = true;
    if (role_.listener) {
      util::log_info("listening as " + identity_.id().to_string());
      util::log_info("connect with: punch connect -r " + rendezvous_text_ + " " +
                     identity_.id().to_string());
    } else {
      const std::uint64_t cid = endpoint_.connect(role_.target, now);
      sessions_[cid].peer = role_.target.to_string();
    }
  }

  void on_invite(const session::EndpointEvent& e, util::TimePoint now) {
    const std::string peer = e.peer.to_string();
    if (!role_.policy.allow_any && !role_.policy.allowed.count(e.peer)) {
      const std::string refusal = "not authorized by the listener";
      util::log_warn("refused " + peer + ": " + refusal);
      events_.emit("refused", {{"peer", peer}, {"reason", refusal}});
      endpoint_.refuse(e.connection_id, refusal, now);
      return;
    }
    util::log_debug("accepting " + peer);
    sessions_[e.connection_id].peer = peer;
    endpoint_.accept(e.connection_id, e.peer, now);
  }

  void on_session_up(const session::EndpointEvent& e) {
    const std::string peer = e.peer.to_string();
    util::log_info("session with " + peer + " up via relay " + e.address.to_string());
    events_.emit("session_up", {{"peer", peer}, {"via", "relay"}});
    forwarder_.on_session_up(e.connection_id);
  }

  void on_session_down(const session::EndpointEvent& e) {
    const auto it = sessions_.find(e.connection_id);
    if (it == sessions_.end() || it->second.down) return;
    SessionInfo& info = it->second;
    info.down = true;
    info.down_reason = e.reason;
    events_.emit("session_down", {{"peer", info.peer}, {"reason", e.reason}});
    // The peer closed with "done": its streams finished, nothing was cut short.
    const bool clean = e.close.peer_application(kCloseDone);
    if (clean) {
      util::log_debug("session with " + info.peer + " ended by the peer");
    } else {
      util::log_warn("session with " + info.peer + " ended: " + e.reason);
    }
    forwarder_.on_session_down(e.connection_id, e.reason, clean);
    // A connector lives for its one session; with stdio, the stdio channel
    // decides (it may still be writing out what arrived before the end).
    if (!role_.listener && !stopped_ && !forwarder_.has_channels(e.connection_id)) {
      if (clean) {
        finish("", 0);
      } else {
        finish(e.reason, kExitFailure);
      }
    }
  }

  void on_stdio_finished(const std::string& reason) {
    if (reason.empty()) {
      events_.emit("stream_close", {{"peer", stdio_peer()}});
      finish("", 0);
    } else {
      finish(reason, kExitFailure);
    }
  }

  std::string stdio_peer() const {
    return sessions_.empty() ? std::string() : sessions_.begin()->second.peer;
  }

  // Ends the process's work: closes every session (telling each peer why) and stops.
  void finish(const std::string& reason, int code) {
    if (stopped_) return;
    stopped_ = true;
    exit_code_ = code;
    const auto now = io::now();
    const std::string why = reason.empty() ? std::string(kCloseDoneText) : reason;
    const std::uint64_t close_code = reason.empty()             ? kCloseDone
                                     : code == kExitInterrupted ? kCloseInterrupted
                                                                : kCloseError;
    for (const auto& [cid, info] : sessions_) {
      if (!info.down) events_.emit("session_down", {{"peer", info.peer}, {"reason", why}});
      endpoint_.close(cid, close_code, info.down ? info.down_reason : why, now);
    }
    sessions_.clear();
    if (!reason.empty() && code != kExitInterrupted) util::log_error(reason);
    forwarder_.close();
    close_handles();
  }

  void close_handles() {
    pool_.close_all();
    socket_.close();
    timer_.close();
    interfaces_timer_.close();
    pump_.close();
    signals_.close();
  }

  uv_loop_t* loop_;
  std::uint8_t rendezvous_family_;
  const crypto::Identity& identity_;
  std::string rendezvous_text_;
  Role role_;
  EventLog& events_;
  io::UdpSocket socket_;
  // Declared before endpoint_, which holds a pointer to it: sessions may still
  // close their sockets while the endpoint is destroyed.
  io::UdpSocketPool pool_;
  session::Endpoint endpoint_;
  io::Timer timer_;
  io::Timer interfaces_timer_;
  io::Pump pump_;
  io::Signals signals_;
  Forwarder forwarder_;
  std::map<std::uint64_t, SessionInfo> sessions_;
  bool ever_registered_ = false;
  bool stopped_ = false;
  int exit_code_ = 0;
};

// Reads authorized_peers: one ID a line, blank lines and '#' comments ignored.
void read_authorized_peers(const std::string& path, std::set<crypto::NodeId>& out) {
  std::ifstream in(path);
  if (!in) return;  // a missing file simply authorizes nobody
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto last = line.find_last_not_of(" \t\r");
    const std::string word = line.substr(first, last - first + 1);
    if (auto id = crypto::NodeId::parse(word)) {
      out.insert(*id);
    } else {
      util::log_warn(path + ":" + std::to_string(number) + ": not a punch ID, ignored");
    }
  }
}

// Shared start-up of both tunnel commands.
int run_tunnel(const CommonConfig& common, const std::string& rendezvous_text, Role role,
               ForwarderOptions forwards) {
  auto rendezvous = io::resolve(rendezvous_text, kDefaultRendezvousPort);
  if (!rendezvous) {
    util::log_error("rendezvous: " + rendezvous.error().message);
    return kExitUsage;
  }
  crypto::SystemRandom rng;
  auto identity = load_identity(common.key_path, true, rng);
  if (!identity) {
    util::log_error(identity.error().message);
    return kExitFailure;
  }
  EventLog events;
  if (auto s = events.open(common.events_path); !s) {
    util::log_error(s.error().message);
    return kExitFailure;
  }
  if (!role.path.relay_only && role.path.birthday.sockets > 0) {
    const std::size_t wanted = kDescriptorsBesidesBirthday + role.path.birthday.sockets;
    const std::size_t limit = io::raise_descriptor_limit(wanted);
    if (limit < wanted) {
      util::log_debug("descriptor limit " + std::to_string(limit) + " (hard limit) is below " +
                      std::to_string(wanted) + ": the birthday prober may open fewer sockets");
    }
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  int code = 0;
  {
    Tunnel tunnel(&loop, *identity, *rendezvous, rendezvous_text, std::move(role),
                  std::move(forwards), events, rng);
    code = tunnel.run();
  }
  io::close_loop(&loop);
  return code;
}

}  // namespace

int run_listen(const ListenConfig& config) {
  Role role;
  role.listener = true;
  role.policy.allow_any = config.allow_any;
  role.path.relay_only = config.relay_only;
  role.path.birthday = config.birthday;
  for (const std::string& text : config.allow) {
    auto id = crypto::NodeId::parse(text);
    if (!id) {
      util::log_error("--allow: '" + text + "' is not a punch ID");
      return kExitUsage;
    }
    role.policy.allowed.insert(*id);
  }
  read_authorized_peers(config.authorized_peers_path, role.policy.allowed);
  if (!role.policy.allow_any && role.policy.allowed.empty())
    util::log_warn("no peer is allowed yet: use --allow ID, " + config.authorized_peers_path +
                   " or --allow-any");
  ForwarderOptions forwards;
  forwards.listener = true;
  forwards.stdio = !config.no_stdio;
  auto policy = forward::PermitPolicy::parse(config.permit_open, config.gateway_ports);
  if (!policy) {
    util::log_error("--permit-open: " + policy.error().message);
    return kExitUsage;
  }
  forwards.policy = std::move(*policy);
  return run_tunnel(config.common, config.rendezvous, std::move(role), std::move(forwards));
}

int run_connect(const ConnectConfig& config) {
  auto target = crypto::NodeId::parse(config.peer);
  if (!target) {
    util::log_error("'" + config.peer + "' is not a punch ID (26 base32 characters)");
    return kExitUsage;
  }
  Role role;
  role.target = *target;
  role.path.relay_only = config.relay_only;
  role.path.birthday = config.birthday;
  ForwarderOptions forwards;
  forwards.stdio = !config.no_stdio;
  forwards.target = config.target;
  forwards.local = config.local;
  forwards.remote = config.remote;
  forwards.dynamic = config.dynamic;
  forwards.socks_credentials = config.socks_credentials;
  return run_tunnel(config.common, config.rendezvous, std::move(role), std::move(forwards));
}

}  // namespace punch::app
