// An address-level internet on virtual time, for the real sans-I/O cores: public
// hosts hang off "the core" (one router standing for the internet), and sites are
// one NAT router (sim::Nat) with LAN hosts behind it. Datagrams carry real source
// and destination addresses and an IP TTL, and hop host -> router -> core ->
// router -> host, each hop with its own one-way delay and optional loss; the
// routers translate and filter as Linux conntrack does, so hole punching meets the
// same mappings, filters and clashes as in the NAT lab (LAB.md), with timing.
//
// The shared VirtualLoop runs it: deliver the datagrams due now, run due timers, let
// the application act, flush every node (cores send only from flush and timers),
// advance to the next arrival or deadline.
// Deterministic: one seed decides every random loss and every random NAT port.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "sim/sim_link.hpp"
#include "sim/sim_nat.hpp"
#include "sim/sim_node.hpp"
#include "sim/virtual_loop.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"
#include "util/datagram_sink.hpp"
#include "util/time.hpp"

namespace punch::sim {

/// Index of a host in a Network.
using HostId = std::size_t;
/// Index of a site in a Network.
using SiteId = std::size_t;
/// The site of a public host, which sits on the core behind no router.
inline constexpr SiteId kNoSite = static_cast<SiteId>(-1);

/// Network-wide parameters.
struct NetConfig {
  std::uint64_t seed = 1;                ///< Seeds random loss and every router's port choices.
  std::uint64_t event_cap = 20'000'000;  ///< Loop iterations before run_until gives up.
  int ttl = 64;                          ///< IP TTL of datagrams sent without one.
};

/// One site: a router and its LAN.
struct SiteConfig {
  NatType type = NatType::kEasy;                             ///< The router's behaviour.
  util::Duration lan_delay = std::chrono::milliseconds(1);   ///< Host <-> router, one way.
  util::Duration wan_delay = std::chrono::milliseconds(10);  ///< Router <-> core, one way.
  double lan_loss = 0.0;  ///< Probability a datagram is lost on a LAN hop.
  double wan_loss = 0.0;  ///< Probability a datagram is lost on the WAN hop.
  /// The router's `nf_conntrack_udp_timeout`.
  util::Duration udp_timeout = std::chrono::seconds(30);
  /// The router's `nf_conntrack_udp_timeout_stream`.
  util::Duration udp_timeout_stream = std::chrono::seconds(120);
  std::size_t pool_size = 4;  ///< kPool: addresses in the `snat to A-B` range.
  bool pool_by_port = false;  ///< kPool: see NatConfig::pool_by_port.
  /// How the router picks new external ports (NatConfig::allocation).
  PortAllocation allocation = PortAllocation::kRandom;
  std::uint16_t first_port = 1024;  ///< The router's external port range (NatConfig).
  std::uint16_t last_port = 65535;  ///< See first_port.
};

/// A host on the core.
struct PublicHostConfig {
  util::Duration delay = std::chrono::milliseconds(10);  ///< Host <-> core, one way.
  double loss = 0.0;  ///< Probability a datagram is lost on that hop.
};

/// What happened to a datagram, as the observer sees it.
enum class TraceKind {
  kSent,       ///< A host's sink emitted it.
  kDelivered,  ///< It reached a host's socket.
  kDropped,    ///< It died on the way; `reason` says why.
};

/// Why a datagram died.
enum class DropReason {
  kNone,      ///< Not dropped.
  kLoss,      ///< Random loss on a hop.
  kTtl,       ///< Arrived at a router with TTL <= 1.
  kFilter,    ///< A router refused it (filter, UDP block, or local delivery to the router).
  kBlocked,   ///< The core blocks traffic between the two sites (or site and host).
  kNoRoute,   ///< Nobody has that address (private addresses are not routed).
  kNoSocket,  ///< The host has no socket on that port.
};

/// One observed datagram; `data` is valid during the call only.
struct Trace {
  TraceKind kind = TraceKind::kSent;      ///< What happened.
  DropReason reason = DropReason::kNone;  ///< Why it was dropped.
  /// Sender for kSent, receiver for kDelivered, the host about to receive for a drop
  /// on the last hop; kNoHost otherwise.
  HostId host = static_cast<HostId>(-1);
  SiteId site = kNoSite;  ///< Router where it was dropped (kNoSite: the core or a host).
  util::Address src{};    ///< Source as seen at that point (translated after a NAT).
  util::Address dst{};    ///< Destination as seen at that point.
  int ttl = 0;            ///< TTL at that point.
  util::ByteView data{};  ///< The payload.
  util::TimePoint now{};  ///< When.
};

/// Counters of one site, the router's and the network's together.
struct SiteStats {
  std::uint64_t forwarded = 0;        ///< Datagrams through the router, either direction.
  std::uint64_t translated = 0;       ///< Of those, rewritten by NAT.
  std::uint64_t dropped_filter = 0;   ///< Refused by the router's filter or UDP block.
  std::uint64_t dropped_local = 0;    ///< Unsolicited datagrams to the router itself.
  std::uint64_t dropped_ttl = 0;      ///< Arrived at the router with TTL <= 1.
  std::uint64_t dropped_loss = 0;     ///< Lost on this site's hops.
  std::uint64_t dropped_blocked = 0;  ///< Dropped by the core on the way out of this site.
  std::uint64_t clashes = 0;          ///< New flows that could not keep their source port.
};

/// Network-wide counters.
struct NetStats {
  std::uint64_t sent = 0;               ///< Datagrams hosts emitted.
  std::uint64_t delivered = 0;          ///< Datagrams that reached a socket.
  std::uint64_t dropped_loss = 0;       ///< Lost on any hop.
  std::uint64_t core_dropped_ttl = 0;   ///< Died at the core for their TTL.
  std::uint64_t dropped_blocked = 0;    ///< Dropped by a block.
  std::uint64_t dropped_no_route = 0;   ///< Addressed to nobody.
  std::uint64_t dropped_no_socket = 0;  ///< Reached a host, or its own router, on a closed port.
  std::uint64_t sent_closed = 0;        ///< Sends through a closed socket's sink (dropped).
};

/// A datagram that reached a host with no node attached.
struct Received {
  util::Address from{};  ///< Source address as it arrived.
  util::Bytes data{};    ///< Payload.
  int ttl = 0;           ///< TTL on arrival.
  util::TimePoint at{};  ///< Arrival time.
};

/// The payload of `r` as text.
inline std::string text(const Received& r) { return std::string(r.data.begin(), r.data.end()); }

/// Sites, hosts, routers, the core and virtual time.
class Network {
 public:
  /// An empty internet at kSimEpoch.
  explicit Network(const NetConfig& config);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  /// Adds a site with `config`; NAT and UDP-block sites get a WAN address in
  /// 203.0.113.0/24 and private LAN addresses 198.51.100.10 and up. Returns its index.
  SiteId add_site(const SiteConfig& config);
  /// Adds a host on `site`'s LAN with one socket on `port`; open and firewall sites
  /// give it a public address (203.0.113.0/24). Returns its index.
  HostId add_host(SiteId site, std::uint16_t port);
  /// Adds a host on the core (192.0.2.1 and up) with one socket on `port`.
  HostId add_public_host(std::uint16_t port, const PublicHostConfig& config = {});
  /// Adds a second socket on `port` to the public host `host` (same IP): a host of its
  /// own for nodes and traces, reached by its full address. Returns its index.
  HostId add_public_socket(HostId host, std::uint16_t port);
  /// Adds a socket on `port` of `host`'s IP, public or behind a router (the port must
  /// be free there): a host of its own for nodes, sinks and traces, on `host`'s site,
  /// reached by its full address. May be called while the network runs (from a node).
  /// Returns its index.
  HostId add_socket(HostId host, std::uint16_t port);
  /// Closes a socket that add_socket() (or add_public_socket()) made: nothing reaches it
  /// any more (its port is free again, datagrams to it find no socket), and what is
  /// sent through its sink is dropped and counted in NetStats::sent_closed.
  void close_socket(HostId socket);
  /// True while `host`'s socket is open (every host's first socket always is).
  bool is_open(HostId host) const;
  /// True when some open socket has exactly `address` (IP and port).
  bool bound(const util::Address& address) const;
  /// Runs `node` on `host` (the node must outlive the network or detach first).
  void attach(HostId host, SimNode& node);
  /// Stops running a node on `host`; its datagrams go to the inbox again.
  void detach(HostId host);

  /// The sink through which `host` sends (its socket).
  util::DatagramSink& sink(HostId host);
  /// `host`'s socket address.
  const util::Address& address(HostId host) const;
  /// The site `host` is on, or kNoSite for a public host.
  SiteId site_of(HostId host) const;
  /// `site`'s WAN address (port 0); for open and firewall sites an empty address.
  const util::Address& wan_address(SiteId site) const;
  /// `site`'s router state.
  Nat& nat(SiteId site);
  /// `site`'s router state.
  const Nat& nat(SiteId site) const;
  /// `site`'s counters.
  SiteStats site_stats(SiteId site) const;
  /// Network-wide counters.
  const NetStats& stats() const { return stats_; }
  /// Datagrams that reached `host` while no node ran on it.
  const std::vector<Received>& inbox(HostId host) const;
  /// Empties `host`'s inbox.
  void clear_inbox(HostId host);

  /// Drops every datagram between sites `a` and `b` at the core, both ways (failover).
  void block(SiteId a, SiteId b);
  /// Lets traffic between `a` and `b` through again.
  void unblock(SiteId a, SiteId b);
  /// Drops every datagram between `site` and the public host `host`, both ways (to
  /// take the relay away from a session that should run direct).
  void block_host(SiteId site, HostId host);
  /// Lets traffic between `site` and the public host `host` through again.
  void unblock_host(SiteId site, HostId host);
  /// Sets `site`'s router <-> core one-way delay for datagrams sent from now on.
  void set_wan_delay(SiteId site, util::Duration delay);
  /// Sets `site`'s host <-> router one-way delay for datagrams sent from now on.
  void set_lan_delay(SiteId site, util::Duration delay);
  /// Sets the public host `host`'s one-way delay to the core for datagrams sent from now on.
  void set_public_delay(HostId host, util::Duration delay);
  /// Sets `site`'s random loss on its LAN and WAN hops.
  void set_loss(SiteId site, double lan_loss, double wan_loss);

  /// Current virtual time.
  util::TimePoint now() const { return loop_.now(); }
  /// Virtual time since the start.
  util::Duration elapsed() const { return now() - kSimEpoch; }
  /// Loop iterations so far.
  std::uint64_t events() const { return loop_.events(); }
  /// True once run_until stopped because the event cap was reached.
  bool cap_hit() const { return loop_.cap_hit(); }

  /// Runs `action` when virtual time reaches `at` (before that step's deliveries).
  void at(util::TimePoint at, std::function<void()> action) { loop_.at(at, std::move(action)); }
  /// Called after every loop step, before the nodes flush: where a scenario acts.
  void set_app(std::function<void()> app) { app_ = std::move(app); }
  /// Called for every datagram sent, delivered and dropped.
  void set_observer(std::function<void(const Trace&)> observer) { observer_ = std::move(observer); }
  /// Flushes every node (run_until does this; call after acting outside the loop).
  void flush();
  /// Runs until `done()` holds (true), or until `limit` of virtual time passed or the
  /// event cap is hit (false); the clock reaches the limit even when nothing happens.
  bool run_until(const std::function<bool()>& done, util::Duration limit) {
    return loop_.run_until(done, limit);
  }
  /// Runs for `span` of virtual time.
  void run_for(util::Duration span);

 private:
  class HostSink;
  struct Host;
  struct Site;
  struct Packet {
    HostId sender = 0;  // Who sent it: blocks are decided by where it came from.
    util::Address src;
    util::Address dst;
    int ttl = 0;
    util::Bytes data;
  };
  enum class Stage { kRouterFromLan, kCore, kRouterFromWan, kHost };
  struct InFlight {
    util::TimePoint at;
    std::uint64_t seq;  // Ties keep sending order.
    Stage stage;
    std::size_t target;  // Site for router stages, host for kHost.
    Packet packet;
    bool operator>(const InFlight& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  struct Route {
    bool site = false;
    std::size_t index = 0;
  };

  void emit(HostId from, const util::Address& to, util::ByteView data, int ttl);
  void hop(Stage stage, std::size_t target, util::Duration delay, double loss, SiteId loss_site,
           Packet packet);
  void process(InFlight f);
  void at_router_from_lan(SiteId s, Packet p);
  void at_core(Packet p);
  bool blocked(const Packet& p, const Route& to) const;
  void at_router_from_wan(SiteId s, Packet p);
  void at_host(HostId h, Packet p);
  void drop(DropReason reason, SiteId site, HostId host, const Packet& p);
  void trace(TraceKind kind, DropReason reason, HostId host, SiteId site, const Packet& p);
  util::Address next_public_ip();
  util::TimePoint next_event() const;
  void step();

  NetConfig config_;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::vector<std::unique_ptr<Site>> sites_;
  std::map<util::Address, Route> routes_;  // Public IP (port 0) -> site or public host.
  // Sockets after a host's first (add_socket), public or LAN: full address -> host.
  std::map<util::Address, HostId> sockets_;
  std::set<std::pair<SiteId, SiteId>> blocked_;
  std::set<std::pair<SiteId, HostId>> blocked_hosts_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> in_flight_;
  std::function<void()> app_;
  std::function<void(const Trace&)> observer_;
  NetStats stats_;
  std::uint64_t seq_ = 0;
  unsigned public_hosts_ = 0;
  unsigned public_ips_ = 0;  // Addresses handed out in 203.0.113.0/24.
  VirtualLoop loop_;
};

}  // namespace punch::sim
