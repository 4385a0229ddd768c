#include "app/tunnel.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "app/event_log.hpp"
#include "app/forwarder.hpp"
#include "app/keys.hpp"
#include "app/tunnel_policy.hpp"
#include "crypto/random.hpp"
#include "io/core_driver.hpp"
#include "io/descriptor_limit.hpp"
#include "io/interfaces.hpp"
#include "io/loop.hpp"
#include "io/signals.hpp"
#include "io/sockaddr.hpp"
#include "io/timer.hpp"
#include "io/udp_socket.hpp"
#include "io/udp_socket_pool.hpp"
#include "session/endpoint.hpp"
#include "transport/constants.hpp"
#include "util/log.hpp"

namespace punch::app {

namespace {

// How often the host's interface addresses are read again: libuv reports no
// changes, and a new address (a laptop joining Wi-Fi) should be offered to peers
// within seconds; one getifaddrs() per period costs nothing.
constexpr util::Duration kInterfacePollInterval = std::chrono::seconds(5);
// Descriptors for everything but forwarded connections and the birthday prober's
// sockets: the usual soft limit, which punch always lived within.
constexpr std::size_t kDescriptorsBesidesBirthday = 1024;
// One descriptor per forwarded TCP connection, up to the streams a peer may hold open
// (transport::kMaxStreamCredit): past the soft limit a new connection would fail with
// EMFILE long before the stream limit refuses it clearly.
constexpr std::size_t kDescriptorsForForwards = transport::kMaxStreamCredit;

/// What a tunnel endpoint does: its session policy and its sessions' path options.
struct Role {
  TunnelPolicy::Config policy;  // listen (accept invites) or connect to a peer
  path::PathConfig path;        // both: --relay-only, --birthday-*
};

/// The tunnel's I/O: executes the TunnelPolicy's commands on the endpoint, the
/// forwarder and libuv (through io::CoreDriver), and reports paths.
class Tunnel {
 public:
  Tunnel(io::Loop& loop, const crypto::Identity& identity, util::Address rendezvous, Role role,
         ForwarderOptions forwards, EventLog& events, crypto::RandomSource& rng)
      : loop_(loop),
        rendezvous_family_(rendezvous.family),
        path_(role.path),
        events_(events),
        socket_(loop),
        pool_(loop, socket_,
              [this](util::SocketId id, const util::Address& from, util::ByteView data) {
                driver_.feed(
                    [&](util::TimePoint now) { endpoint_.on_datagram(from, data, now, id); });
              }),
        // --birthday-sockets 0: no pool, so no session can open a socket at all.
        endpoint_(identity, rendezvous, role.policy.listener, rng, socket_, path_,
                  path_.birthday.sockets > 0 ? &pool_ : nullptr),
        driver_(loop,
                {[this](util::TimePoint now) {
                   endpoint_.on_timeout(now);
                   policy_.on_timeout(now);
                 },
                 [this] { return std::min(endpoint_.next_deadline(), policy_.next_deadline()); },
                 [this](util::TimePoint now) { on_pump(now); }},
                io::CoreDriver::Flush::kOncePerIteration),
        interfaces_timer_(loop, [this] { poll_interfaces(); }),
        signals_(loop, [this](int) { policy_.on_interrupted(); }),
        forwarder_(
            loop, endpoint_, events, std::move(forwards), [this] { driver_.mark(); },
            [this](const std::string& reason) { policy_.on_stdio_finished(reason); }),
        policy_(
            std::move(role.policy), [this](const TunnelCommand& c) { execute(c); },
            [this](std::uint64_t cid) { return forwarder_.has_channels(cid); }) {}

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
                                driver_.feed([&](util::TimePoint now) {
                                  endpoint_.on_datagram(from, data, now);
                                });
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
    driver_.mark();
    loop_.run();
    return policy_.exit_code();
  }

 private:
  /// What the tunnel reported of one session's path.
  struct PathReport {
    bool reported = false;
    // From the last switch to a direct path: the birthday prober's port guesses and
    // extra sockets that found it (both 0 when it was found another way).
    std::uint64_t guesses = 0;
    std::size_t sockets = 0;
  };

  void execute(const TunnelCommand& c) {
    const auto now = io::now();
    switch (c.kind) {
      case TunnelCommand::Kind::kAccept:
        endpoint_.accept(c.cid, c.peer, now);
        break;
      case TunnelCommand::Kind::kRefuse:
        endpoint_.refuse(c.cid, c.reason, now);
        break;
      case TunnelCommand::Kind::kConnect:
        policy_.connecting(endpoint_.connect(c.peer, now), c.peer);
        break;
      case TunnelCommand::Kind::kClose:
        endpoint_.close(c.cid, c.close_code, c.reason, now);
        break;
      case TunnelCommand::Kind::kChannelsUp:
        forwarder_.on_session_up(c.cid);
        break;
      case TunnelCommand::Kind::kChannelsDown:
        forwarder_.on_session_down(c.cid, c.reason, c.clean);
        break;
      case TunnelCommand::Kind::kEmit:
        events_.emit(c.name, c.fields);
        break;
      case TunnelCommand::Kind::kLog:
        util::log(c.level, c.reason);
        break;
      case TunnelCommand::Kind::kExit:
        forwarder_.close();
        close_handles();
        break;
    }
  }

  // Offers this host's addresses, with our socket's port, as host candidates.
  void poll_interfaces() {
    const auto now = io::now();
    const std::uint16_t port = socket_.local_address().port;
    std::vector<util::Address> hosts;
    if (!path_.relay_only) {
      hosts = io::host_addresses(rendezvous_family_ == 6 ? AF_INET6 : AF_INET);
      for (util::Address& a : hosts) a.port = port;
    }
    endpoint_.set_host_addresses(std::move(hosts), now);
    interfaces_timer_.arm(now + kInterfacePollInterval, now);
    driver_.mark();
  }

  // Once per loop iteration after I/O; the driver then arms its timer from the
  // endpoint's deadline.
  void on_pump(util::TimePoint now) {
    if (policy_.stopped()) return;
    handle_events(now);
    endpoint_.flush(now);
    handle_events(now);  // flushing may end sessions (e.g. a close sent)
    forwarder_.poll();
    if (policy_.stopped()) return;
    policy_.forget_ended();
    report_paths();
    endpoint_.flush(now);  // what the forwarder queued while polling
  }

  void handle_events(util::TimePoint now) {
    while (auto e = endpoint_.poll_event()) {
      switch (e->kind) {
        case session::EndpointEvent::Kind::kStream:
          forwarder_.on_stream_event(e->connection_id, e->stream_event);
          break;
        case session::EndpointEvent::Kind::kPath:
          on_path_event(*e);
          break;
        default:
          policy_.on_event(*e, now);
          break;
      }
      if (policy_.stopped()) return;
    }
  }

  // Emits a session's "path" event once the path in use has an RTT sample (after
  // session start and after every path change, which restarts the estimate), so
  // rtt_ms is a measurement of that path, never the transport's initial guess.
  void report_paths() {
    const auto& sessions = policy_.sessions();
    std::erase_if(paths_, [&](const auto& p) { return !sessions.contains(p.first); });
    for (const auto& [cid, info] : sessions) {
      if (info.state == TunnelPolicy::SessionState::kDown) continue;
      PathReport& report = paths_[cid];
      if (report.reported) continue;
      session::Session* s = endpoint_.session(cid);
      if (s == nullptr || !s->established()) continue;
      const transport::Stats st = s->connection().stats();
      if (!st.rtt_measured) continue;
      report.reported = true;
      const double rtt_ms = std::chrono::duration<double, std::milli>(st.smoothed_rtt).count();
      const std::string kind = s->direct() ? "direct" : "relay";
      EventFields fields{{"peer", info.peer},
                         {"path", kind},
                         {"address", s->path().to_string()},
                         {"rtt_ms", rtt_ms}};
      if (s->direct() && (report.guesses != 0 || report.sockets != 0)) {
        fields.emplace_back("guesses", static_cast<std::int64_t>(report.guesses));
        fields.emplace_back("sockets", static_cast<std::int64_t>(report.sockets));
      }
      events_.emit("path", fields);
      util::log_info("session with " + info.peer + " on the " + kind + " path " +
                     s->path().to_string() + ", rtt " + std::to_string(rtt_ms) + " ms");
    }
  }

  void on_path_event(const session::EndpointEvent& e) {
    const auto it = policy_.sessions().find(e.connection_id);
    if (it == policy_.sessions().end()) return;
    const path::PathEvent& p = e.path_event;
    const std::string& peer = it->second.peer;
    const auto ms = [](util::Duration d) {
      return std::to_string(std::chrono::duration<double, std::milli>(d).count());
    };
    switch (p.kind) {
      case path::PathEvent::Kind::kSwitched: {
        // Reported by report_paths() once the new path has its first RTT sample.
        PathReport& report = paths_[e.connection_id];
        report.reported = false;
        report.guesses = p.direct ? p.guesses : 0;
        report.sockets = p.direct ? p.sockets : 0;
        util::log_debug(peer + ": switching to " + (p.direct ? "direct path " : "relay ") +
                        p.address.to_string() + " (" + p.detail + ")");
        break;
      }
      case path::PathEvent::Kind::kCandidates:
        util::log_debug(peer + ": peer's candidates: " + p.detail);
        break;
      case path::PathEvent::Kind::kChallengeRound:
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

  void close_handles() {
    pool_.close_all();
    socket_.close();
    driver_.close();
    interfaces_timer_.close();
    signals_.close();
  }

  io::Loop& loop_;
  std::uint8_t rendezvous_family_;
  path::PathConfig path_;
  EventLog& events_;
  io::UdpSocket socket_;
  // Declared before endpoint_, which holds a pointer to it: sessions may still
  // close their sockets while the endpoint is destroyed.
  io::UdpSocketPool pool_;
  session::Endpoint endpoint_;
  io::CoreDriver driver_;
  io::Timer interfaces_timer_;
  io::Signals signals_;
  Forwarder forwarder_;
  TunnelPolicy policy_;
  std::map<std::uint64_t, PathReport> paths_;
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
  role.policy.rendezvous = rendezvous_text;
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
  {
    const bool birthday = !role.path.relay_only && role.path.birthday.sockets > 0;
    const std::size_t wanted = kDescriptorsBesidesBirthday + kDescriptorsForForwards +
                               (birthday ? role.path.birthday.sockets : 0);
    const std::size_t limit = io::raise_descriptor_limit(wanted);
    if (limit < wanted) {
      util::log_debug("descriptor limit " + std::to_string(limit) + " (hard limit) is below " +
                      std::to_string(wanted) +
                      ": fewer forwarded connections (or birthday sockets) fit");
    }
  }
  role.policy.self = identity->id();
  io::Loop loop;
  Tunnel tunnel(loop, *identity, *rendezvous, std::move(role), std::move(forwards), events, rng);
  return tunnel.run();
}

}  // namespace

int run_listen(const ListenConfig& config) {
  Role role;
  role.policy.listener = true;
  role.policy.peers.allow_any = config.allow_any;
  role.path.relay_only = config.relay_only;
  role.path.birthday = config.birthday;
  for (const std::string& text : config.allow) {
    auto id = crypto::NodeId::parse(text);
    if (!id) {
      util::log_error("--allow: '" + text + "' is not a punch ID");
      return kExitUsage;
    }
    role.policy.peers.allowed.insert(*id);
  }
  read_authorized_peers(config.authorized_peers_path, role.policy.peers.allowed);
  if (!role.policy.peers.allow_any && role.policy.peers.allowed.empty())
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
  forwards.idle_timeout = config.idle_timeout;
  return run_tunnel(config.common, config.rendezvous, std::move(role), std::move(forwards));
}

int run_connect(const ConnectConfig& config) {
  auto target = crypto::NodeId::parse(config.peer);
  if (!target) {
    util::log_error("'" + config.peer + "' is not a punch ID (26 base32 characters)");
    return kExitUsage;
  }
  Role role;
  role.policy.target = *target;
  role.path.relay_only = config.relay_only;
  role.path.birthday = config.birthday;
  ForwarderOptions forwards;
  forwards.stdio = !config.no_stdio;
  forwards.target = config.target;
  forwards.local = config.local;
  forwards.remote = config.remote;
  forwards.dynamic = config.dynamic;
  forwards.socks_credentials = config.socks_credentials;
  forwards.idle_timeout = config.idle_timeout;
  return run_tunnel(config.common, config.rendezvous, std::move(role), std::move(forwards));
}

}  // namespace punch::app
