// The fixture of the scenarios that run the real cores on a sim::Network: a
// rendezvous server on the core and two endpoints (listener, connector), each alone
// on a site of its own router type, plus the steps every scenario takes (register,
// connect, move bytes both ways on one stream). Shared by sim_net_test.cpp and
// direct_path_sim_test.cpp.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>

#include "path/path_manager.hpp"
#include "sim/sim_endpoint_node.hpp"
#include "sim/sim_net.hpp"
#include "sim/sim_server_node.hpp"

namespace punch::sim {

/// How a core scenario's network is built.
struct CoresConfig {
  NatType listener_type = NatType::kEasy;   ///< The listener's router.
  NatType connector_type = NatType::kEasy;  ///< The connector's router.
  std::uint64_t seed = 1;                   ///< Network, server and endpoint seeds.
  double wan_loss = 0.0;                    ///< Random loss on both sites' WAN hops.
  /// One-way delay of every WAN hop: both site routers' and the server's.
  util::Duration wan_delay = std::chrono::milliseconds(25);
  util::Duration lan_delay = std::chrono::milliseconds(1);  ///< Host <-> router.
  std::uint16_t listener_port = 5000;                       ///< The listener's socket.
  std::uint16_t connector_port = 6000;                      ///< The connector's socket.
  path::PathConfig path{};                                  ///< Both endpoints' sessions.
  /// The routers' `nf_conntrack_udp_timeout` and `..._udp_timeout_stream`.
  util::Duration udp_timeout = std::chrono::seconds(30);
  util::Duration udp_timeout_stream = std::chrono::seconds(120);  ///< See udp_timeout.
  bool same_site = false;  ///< Both endpoints on the listener's LAN (connector_type unused).
  /// The rendezvous's probe port on its IP (0: none, so mappings stay unknown).
  std::uint16_t probe_port = 0;
  bool pool_by_port = false;  ///< Pool routers pick the address per destination port too.
  /// How both routers pick new external ports (hard and pool: every flow's).
  PortAllocation allocation = PortAllocation::kRandom;
};

/// The network, the server, the two endpoints, and a fingerprint of every datagram.
struct Cores {
  std::unique_ptr<Network> net;             ///< The internet (destroyed after the nodes).
  SiteId listener_site = 0;                 ///< The listener's router.
  SiteId connector_site = 0;                ///< The connector's router.
  HostId server_host = 0;                   ///< The rendezvous's public host.
  std::unique_ptr<ServerNode> server;       ///< The rendezvous core.
  std::unique_ptr<EndpointNode> listener;   ///< Accepts every invite.
  std::unique_ptr<EndpointNode> connector;  ///< Connects to the listener in bring_up().
  /// FNV-1a over each datagram's fate, time, ports and TTL. Not the bytes, nor their
  /// sizes: mbedTLS writes the wall clock's seconds into the DTLS Hello randoms, so
  /// signatures (and their DER lengths) differ when two runs straddle a second.
  /// Timing does not depend on sizes here (no link has a rate).
  std::uint64_t fingerprint = 0xcbf29ce484222325ull;
  std::uint64_t cid = 0;           ///< The session, once bring_up() connected.
  util::TimePoint connected_at{};  ///< When bring_up() called connect().

  /// Builds the network of `c`; `this` must not move afterwards (the observer holds it).
  explicit Cores(const CoresConfig& c) {
    NetConfig nc;
    nc.seed = c.seed;
    net = std::make_unique<Network>(nc);
    net->set_observer([this](const Trace& t) {
      mix(static_cast<std::uint64_t>(t.kind) * 16 + static_cast<std::uint64_t>(t.reason));
      mix(static_cast<std::uint64_t>((t.now - kSimEpoch).count()));
      mix(t.src.port * 65536ull + t.dst.port);
      mix(static_cast<std::uint64_t>(t.ttl));
    });
    SiteConfig sc;
    sc.lan_delay = c.lan_delay;
    sc.wan_delay = c.wan_delay;
    sc.wan_loss = c.wan_loss;
    sc.udp_timeout = c.udp_timeout;
    sc.udp_timeout_stream = c.udp_timeout_stream;
    sc.pool_by_port = c.pool_by_port;
    sc.allocation = c.allocation;
    sc.type = c.listener_type;
    listener_site = net->add_site(sc);
    sc.type = c.connector_type;
    connector_site = net->add_site(sc);
    PublicHostConfig pc;
    pc.delay = c.wan_delay;
    server_host = net->add_public_host(3478, pc);
    const HostId lh = net->add_host(listener_site, c.listener_port);
    const HostId ch = net->add_host(c.same_site ? listener_site : connector_site, c.connector_port);
    server = std::make_unique<ServerNode>(*net, server_host, c.seed * 3 + 1, c.probe_port);
    listener =
        std::make_unique<EndpointNode>(*net, lh, server->address(), true, c.seed * 3 + 2, c.path);
    connector =
        std::make_unique<EndpointNode>(*net, ch, server->address(), false, c.seed * 3 + 3, c.path);
  }
  Cores(const Cores&) = delete;
  Cores& operator=(const Cores&) = delete;

  /// Registers both, connects, and returns the virtual time from connect() until both
  /// sides reported the session up (REQUIREs on the way).
  util::Duration bring_up() {
    REQUIRE(net->run_until(
        [&] { return listener->endpoint().registered() && connector->endpoint().registered(); },
        std::chrono::seconds(30)));
    const util::TimePoint t0 = net->now();
    connected_at = t0;
    cid = connector->connect(listener->identity().id());
    using Kind = session::EndpointEvent::Kind;
    REQUIRE(net->run_until(
        [&] { return listener->has(Kind::kSessionUp) && connector->has(Kind::kSessionUp); },
        std::chrono::seconds(60)));
    return std::max(listener->first(Kind::kSessionUp)->at, connector->first(Kind::kSessionUp)->at) -
           t0;
  }

  /// Moves `up` from connector to listener and `down` back on one stream the connector
  /// opens, into `up_got` and `down_got`; false if that took longer than `limit`.
  bool transfer(const util::Bytes& up, const util::Bytes& down, util::Bytes& up_got,
                util::Bytes& down_got, util::Duration limit) {
    session::Session* cs = connector->endpoint().session(cid);
    REQUIRE(cs);
    auto& cc = cs->connection();
    const transport::StreamId sid = cc.open_stream();
    std::size_t up_written = 0, down_written = 0;
    bool up_fin = false, down_fin = false;
    return net->run_until(
        [&] {
          session::Session* ls = listener->endpoint().session(cid);
          if (ls == nullptr || !ls->established()) return false;
          auto& lc = ls->connection();
          if (up_written < up.size())
            up_written += cc.write(sid, util::ByteView(up).subspan(up_written));
          if (up_written == up.size() && !up_fin) {
            cc.finish(sid);
            up_fin = true;
          }
          std::uint8_t buf[8192];
          while (std::size_t n = lc.read(sid, buf)) up_got.insert(up_got.end(), buf, buf + n);
          if (!up_got.empty()) {  // The stream exists on the listener's side.
            if (down_written < down.size())
              down_written += lc.write(sid, util::ByteView(down).subspan(down_written));
            if (down_written == down.size() && !down_fin) {
              lc.finish(sid);
              down_fin = true;
            }
          }
          while (std::size_t n = cc.read(sid, buf)) down_got.insert(down_got.end(), buf, buf + n);
          return lc.read_finished(sid) && cc.read_finished(sid);
        },
        limit);
  }

 private:
  void mix(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      fingerprint ^= (v >> (8 * i)) & 0xff;
      fingerprint *= 0x100000001b3ull;
    }
  }
};

}  // namespace punch::sim
