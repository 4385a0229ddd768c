#include "sim/sim_net.hpp"

#include <algorithm>

#include "util/assert.hpp"

namespace punch::sim {

namespace {

constexpr HostId kNoHost = static_cast<HostId>(-1);
// First private LAN address behind each NAT router: 198.51.100.10.
constexpr std::uint8_t kFirstLanOctet = 10;

util::Address ip_only(util::Address a) {
  a.port = 0;
  return a;
}

}  // namespace

/// What a core sees as its socket: sending hands the datagram to the network, which
/// only queues it, so no core is ever called back from inside its own send.
class Network::HostSink final : public util::DatagramSink {
 public:
  HostSink(Network& net, HostId id) : net_(net), id_(id) {}
  void send(const util::Address& to, util::ByteView data) override {
    net_.emit(id_, to, data, net_.config_.ttl);
  }
  void send_with_ttl(const util::Address& to, util::ByteView data, int ttl) override {
    net_.emit(id_, to, data, ttl);
  }

 private:
  Network& net_;
  HostId id_;
};

struct Network::Host {
  util::Address address;
  SiteId site = kNoSite;
  PublicHostConfig public_config;
  std::unique_ptr<HostSink> sink;
  SimNode* node = nullptr;
  std::vector<Received> inbox;
  bool extra = false;   // Made by add_socket(): may be closed.
  bool closed = false;  // close_socket() ran: sends are dropped, nothing arrives.
};

struct Network::Site {
  SiteConfig config;
  Nat nat;
  std::map<util::Address, HostId> lan;  // LAN IP (port 0) -> host.
  SiteStats stats;                      // The network's share; the router's is in `nat`.
};

Network::Network(const NetConfig& config)
    : config_(config),
      rng_(config.seed),
      loop_(LoopConfig{kSimEpoch, config.event_cap, true, true},
            LoopModel{[this] { return next_event(); }, [this] { step(); }, [this] { flush(); }}) {}

Network::~Network() = default;

util::Address Network::next_public_ip() {
  PUNCH_ASSERT(public_ips_ < 250);
  return util::Address::v4(203, 0, 113, static_cast<std::uint8_t>(++public_ips_), 0);
}

SiteId Network::add_site(const SiteConfig& config) {
  const SiteId id = sites_.size();
  NatConfig nc;
  nc.type = config.type;
  nc.udp_timeout = config.udp_timeout;
  nc.udp_timeout_stream = config.udp_timeout_stream;
  nc.pool_by_port = config.pool_by_port;
  nc.allocation = config.allocation;
  nc.first_port = config.first_port;
  nc.last_port = config.last_port;
  nc.seed = config_.seed * 0x9e3779b97f4a7c15ull + id + 1;
  if (translates(config.type) || config.type == NatType::kUdpBlock) {
    nc.wan = next_public_ip();
    routes_[nc.wan] = Route{true, id};
    if (config.type == NatType::kPool) {
      for (std::size_t i = 0; i < config.pool_size; ++i) {
        nc.pool.push_back(next_public_ip());
        routes_[nc.pool.back()] = Route{true, id};
      }
    }
  }
  sites_.push_back(std::make_unique<Site>(Site{config, Nat(nc), {}, {}}));
  return id;
}

HostId Network::add_host(SiteId site, std::uint16_t port) {
  Site& s = *sites_.at(site);
  const HostId id = hosts_.size();
  util::Address ip;
  if (s.nat.config().wan.valid()) {
    PUNCH_ASSERT(s.lan.size() < 240);
    ip = util::Address::v4(198, 51, 100, static_cast<std::uint8_t>(kFirstLanOctet + s.lan.size()),
                           0);
  } else {
    ip = next_public_ip();
    routes_[ip] = Route{true, site};
  }
  s.lan[ip] = id;
  auto h = std::make_unique<Host>();
  h->address = ip;
  h->address.port = port;
  h->site = site;
  h->sink = std::make_unique<HostSink>(*this, id);
  hosts_.push_back(std::move(h));
  return id;
}

HostId Network::add_public_host(std::uint16_t port, const PublicHostConfig& config) {
  PUNCH_ASSERT(public_hosts_ < 250);
  const HostId id = hosts_.size();
  const util::Address ip =
      util::Address::v4(192, 0, 2, static_cast<std::uint8_t>(++public_hosts_), 0);
  routes_[ip] = Route{false, id};
  auto h = std::make_unique<Host>();
  h->address = ip;
  h->address.port = port;
  h->public_config = config;
  h->sink = std::make_unique<HostSink>(*this, id);
  hosts_.push_back(std::move(h));
  return id;
}

HostId Network::add_public_socket(HostId host, std::uint16_t port) {
  PUNCH_ASSERT(hosts_.at(host)->site == kNoSite);
  return add_socket(host, port);
}

HostId Network::add_socket(HostId host, std::uint16_t port) {
  const Host& owner = *hosts_.at(host);
  util::Address address = owner.address;
  address.port = port;
  PUNCH_ASSERT(!bound(address));
  const HostId id = hosts_.size();
  auto h = std::make_unique<Host>();
  h->address = address;
  h->site = owner.site;
  h->public_config = owner.public_config;
  h->sink = std::make_unique<HostSink>(*this, id);
  h->extra = true;
  sockets_[address] = id;
  // Growing hosts_ while the loop walks it is safe: every walk goes by index.
  hosts_.push_back(std::move(h));
  return id;
}

void Network::close_socket(HostId socket) {
  Host& h = *hosts_.at(socket);
  PUNCH_ASSERT(h.extra && !h.closed);
  h.closed = true;
  h.node = nullptr;
  sockets_.erase(h.address);
}

bool Network::is_open(HostId host) const { return !hosts_.at(host)->closed; }

bool Network::bound(const util::Address& address) const {
  if (sockets_.contains(address)) return true;
  const auto route = routes_.find(ip_only(address));
  if (route != routes_.end() && !route->second.site)
    return hosts_[route->second.index]->address == address;
  for (const auto& site : sites_) {
    const auto it = site->lan.find(ip_only(address));
    if (it != site->lan.end() && hosts_[it->second]->address == address) return true;
  }
  return false;
}

void Network::attach(HostId host, SimNode& node) { hosts_.at(host)->node = &node; }

void Network::detach(HostId host) { hosts_.at(host)->node = nullptr; }

util::DatagramSink& Network::sink(HostId host) { return *hosts_.at(host)->sink; }

const util::Address& Network::address(HostId host) const { return hosts_.at(host)->address; }

SiteId Network::site_of(HostId host) const { return hosts_.at(host)->site; }

const util::Address& Network::wan_address(SiteId site) const {
  return sites_.at(site)->nat.config().wan;
}

Nat& Network::nat(SiteId site) { return sites_.at(site)->nat; }

const Nat& Network::nat(SiteId site) const { return sites_.at(site)->nat; }

SiteStats Network::site_stats(SiteId site) const {
  const Site& s = *sites_.at(site);
  SiteStats out = s.stats;
  const NatStats& n = s.nat.stats();
  out.forwarded = n.forwarded;
  out.translated = n.translated;
  out.dropped_filter = n.dropped_filter;
  out.dropped_local = n.dropped_local;
  out.clashes = n.clashes;
  return out;
}

const std::vector<Received>& Network::inbox(HostId host) const { return hosts_.at(host)->inbox; }

void Network::clear_inbox(HostId host) { hosts_.at(host)->inbox.clear(); }

void Network::block(SiteId a, SiteId b) { blocked_.insert(std::minmax(a, b)); }

void Network::unblock(SiteId a, SiteId b) { blocked_.erase(std::minmax(a, b)); }

void Network::block_host(SiteId site, HostId host) { blocked_hosts_.emplace(site, host); }

void Network::unblock_host(SiteId site, HostId host) { blocked_hosts_.erase({site, host}); }

void Network::set_wan_delay(SiteId site, util::Duration delay) {
  sites_.at(site)->config.wan_delay = delay;
}

void Network::set_lan_delay(SiteId site, util::Duration delay) {
  sites_.at(site)->config.lan_delay = delay;
}

void Network::set_public_delay(HostId host, util::Duration delay) {
  Host& h = *hosts_.at(host);
  PUNCH_ASSERT(h.site == kNoSite);
  h.public_config.delay = delay;
}

void Network::set_loss(SiteId site, double lan_loss, double wan_loss) {
  sites_.at(site)->config.lan_loss = lan_loss;
  sites_.at(site)->config.wan_loss = wan_loss;
}

void Network::trace(TraceKind kind, DropReason reason, HostId host, SiteId site, const Packet& p) {
  if (!observer_) return;
  observer_(Trace{kind, reason, host, site, p.src, p.dst, p.ttl, p.data, now()});
}

void Network::drop(DropReason reason, SiteId site, HostId host, const Packet& p) {
  switch (reason) {
    case DropReason::kLoss:
      ++stats_.dropped_loss;
      if (site != kNoSite) ++sites_[site]->stats.dropped_loss;
      break;
    case DropReason::kTtl:
      if (site == kNoSite) {
        ++stats_.core_dropped_ttl;
      } else {
        ++sites_[site]->stats.dropped_ttl;
      }
      break;
    case DropReason::kBlocked:
      ++stats_.dropped_blocked;
      if (site != kNoSite) ++sites_[site]->stats.dropped_blocked;
      break;
    case DropReason::kNoRoute:
      ++stats_.dropped_no_route;
      break;
    case DropReason::kNoSocket:
      ++stats_.dropped_no_socket;
      break;
    case DropReason::kFilter:  // Counted by the router's Nat.
    case DropReason::kNone:
      break;
  }
  trace(TraceKind::kDropped, reason, host, site, p);
}

void Network::emit(HostId from, const util::Address& to, util::ByteView data, int ttl) {
  const Host& h = *hosts_.at(from);
  Packet p{from, h.address, to, ttl, util::Bytes(data.begin(), data.end())};
  if (h.closed) {
    ++stats_.sent_closed;
    return trace(TraceKind::kDropped, DropReason::kNoSocket, from, kNoSite, p);
  }
  ++stats_.sent;
  trace(TraceKind::kSent, DropReason::kNone, from, kNoSite, p);
  if (h.site == kNoSite) {
    hop(Stage::kCore, 0, h.public_config.delay, h.public_config.loss, kNoSite, std::move(p));
    return;
  }
  const Site& s = *sites_[h.site];
  // A neighbour on the same LAN is reached through the switch, never the router: no
  // TTL spent, no NAT state touched.
  if (const auto it = s.lan.find(ip_only(to)); it != s.lan.end()) {
    const auto socket = sockets_.find(to);
    const HostId target = socket == sockets_.end() ? it->second : socket->second;
    hop(Stage::kHost, target, s.config.lan_delay, s.config.lan_loss, h.site, std::move(p));
    return;
  }
  hop(Stage::kRouterFromLan, h.site, s.config.lan_delay, s.config.lan_loss, h.site, std::move(p));
}

void Network::hop(Stage stage, std::size_t target, util::Duration delay, double loss,
                  SiteId loss_site, Packet packet) {
  if (loss > 0.0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < loss) {
    drop(DropReason::kLoss, loss_site, kNoHost, packet);
    return;
  }
  in_flight_.push(InFlight{now() + delay, seq_++, stage, target, std::move(packet)});
}

void Network::at_router_from_lan(SiteId s, Packet p) {
  Site& site = *sites_[s];
  // The TTL is checked on forwarding, before conntrack confirms the new flow: a
  // datagram that dies here leaves no mapping behind.
  if (p.ttl <= 1) return drop(DropReason::kTtl, s, kNoHost, p);
  --p.ttl;
  if (site.nat.owns(p.dst)) {
    // Plain masquerade has no DNAT rule, so no hairpinning: a datagram to the router's
    // own address is for the router, which has no socket there.
    return drop(DropReason::kNoSocket, s, kNoHost, p);
  }
  const auto src = site.nat.outbound(p.src, p.dst, now());
  if (!src) return drop(DropReason::kFilter, s, kNoHost, p);
  p.src = *src;
  hop(Stage::kCore, 0, site.config.wan_delay, site.config.wan_loss, s, std::move(p));
}

bool Network::blocked(const Packet& p, const Route& to) const {
  const SiteId from_site = hosts_[p.sender]->site;
  if (from_site == kNoSite) return to.site && blocked_hosts_.contains({to.index, p.sender});
  if (!to.site) return blocked_hosts_.contains({from_site, to.index});
  return blocked_.contains(std::minmax(from_site, to.index));
}

void Network::at_core(Packet p) {
  if (p.ttl <= 1) return drop(DropReason::kTtl, kNoSite, kNoHost, p);
  --p.ttl;
  const auto it = routes_.find(ip_only(p.dst));
  if (it == routes_.end()) return drop(DropReason::kNoRoute, kNoSite, kNoHost, p);
  const Route r = it->second;
  if (blocked(p, r)) return drop(DropReason::kBlocked, hosts_[p.sender]->site, kNoHost, p);
  if (!r.site) {
    // The IP's first host, unless another socket of it has the exact address.
    const auto socket = sockets_.find(p.dst);
    const HostId target = socket == sockets_.end() ? r.index : socket->second;
    const Host& h = *hosts_[target];
    hop(Stage::kHost, target, h.public_config.delay, h.public_config.loss, kNoSite, std::move(p));
    return;
  }
  const Site& to = *sites_[r.index];
  hop(Stage::kRouterFromWan, r.index, to.config.wan_delay, to.config.wan_loss, r.index,
      std::move(p));
}

void Network::at_router_from_wan(SiteId s, Packet p) {
  Site& site = *sites_[s];
  // A datagram that matches no mapping is addressed to the router itself and is
  // delivered locally whatever its TTL (LAB.md trap 2); only forwarding checks it.
  const bool local = translates(site.config.type) && site.nat.owns(p.dst) &&
                     !site.nat.is_reply(p.src, p.dst, now());
  if (!local) {
    if (p.ttl <= 1) return drop(DropReason::kTtl, s, kNoHost, p);
    --p.ttl;
  }
  const auto dst = site.nat.inbound(p.src, p.dst, now());
  if (!dst) return drop(DropReason::kFilter, s, kNoHost, p);
  p.dst = *dst;
  const auto it = site.lan.find(ip_only(p.dst));
  if (it == site.lan.end()) return drop(DropReason::kNoRoute, s, kNoHost, p);
  // The IP's first socket, unless another socket of it has the exact address.
  const auto socket = sockets_.find(p.dst);
  const HostId target = socket == sockets_.end() ? it->second : socket->second;
  hop(Stage::kHost, target, site.config.lan_delay, site.config.lan_loss, s, std::move(p));
}

void Network::at_host(HostId id, Packet p) {
  Host& h = *hosts_[id];
  // A socket closed while the datagram was on its way is gone: its port has no
  // socket any more (the IP's other sockets have other ports).
  if (p.dst != h.address || h.closed) return drop(DropReason::kNoSocket, kNoSite, id, p);
  ++stats_.delivered;
  trace(TraceKind::kDelivered, DropReason::kNone, id, kNoSite, p);
  if (h.node != nullptr) {
    h.node->on_datagram(p.src, p.data, now());
  } else {
    h.inbox.push_back(Received{p.src, std::move(p.data), p.ttl, now()});
  }
}

void Network::process(InFlight f) {
  switch (f.stage) {
    case Stage::kRouterFromLan:
      return at_router_from_lan(f.target, std::move(f.packet));
    case Stage::kCore:
      return at_core(std::move(f.packet));
    case Stage::kRouterFromWan:
      return at_router_from_wan(f.target, std::move(f.packet));
    case Stage::kHost:
      return at_host(f.target, std::move(f.packet));
  }
}

void Network::flush() {
  // By index: a node may open sockets (add hosts) from inside its flush.
  for (std::size_t i = 0; i < hosts_.size(); ++i)
    if (hosts_[i]->node != nullptr) hosts_[i]->node->flush(now());
}

util::TimePoint Network::next_event() const {
  util::TimePoint next = in_flight_.empty() ? util::kNever : in_flight_.top().at;
  for (const auto& h : hosts_)
    if (h->node != nullptr) next = std::min(next, h->node->next_deadline());
  return next;
}

void Network::step() {
  while (!in_flight_.empty() && in_flight_.top().at <= now()) {
    // priority_queue::top() is const; the element is popped right after, so moving is safe.
    InFlight f = std::move(const_cast<InFlight&>(in_flight_.top()));
    in_flight_.pop();
    process(std::move(f));
  }
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    SimNode* node = hosts_[i]->node;
    if (node != nullptr && node->next_deadline() <= now()) node->on_timeout(now());
  }
  if (app_) app_();
}

void Network::run_for(util::Duration span) {
  run_until([] { return false; }, span);
}

}  // namespace punch::sim
