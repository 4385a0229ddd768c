// A rendezvous::Server running on a simulated host, with its own seeded randomness.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "crypto/random.hpp"
#include "rendezvous/server.hpp"
#include "sim/sim_net.hpp"
#include "sim/sim_node.hpp"

namespace punch::sim {

/// The rendezvous core on a host of a sim::Network.
class ServerNode final : public SimNode {
 public:
  /// Starts a server on `host` of `net` (attaching itself), drawing from a generator
  /// seeded with `seed`, with its probe port on `probe_port` of the same IP (0: none,
  /// and REGISTERED says so); `net` must outlive it.
  ServerNode(Network& net, HostId host, std::uint64_t seed, std::uint16_t probe_port = 0);
  ~ServerNode() override;
  ServerNode(const ServerNode&) = delete;
  ServerNode& operator=(const ServerNode&) = delete;

  /// The server core.
  rendezvous::Server& server() { return server_; }
  /// The address clients register with.
  const util::Address& address() const { return net_.address(host_); }
  /// The probe port's host (a second socket of the server's IP), if it has one.
  std::optional<HostId> probe_host() const { return probe_host_; }

  void on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now) override;
  void on_timeout(util::TimePoint now) override;
  util::TimePoint next_deadline() const override;
  void flush(util::TimePoint now) override;

 private:
  /// The probe port's socket: hands probes to the server, which answers through it.
  class ProbePort final : public SimNode {
   public:
    ProbePort(ServerNode& owner, HostId host) : owner_(owner), host_(host) {}
    void on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now) override {
      owner_.server_.on_probe_socket_datagram(from, data, owner_.net_.sink(host_), now);
    }
    void on_timeout(util::TimePoint) override {}
    util::TimePoint next_deadline() const override { return util::kNever; }
    void flush(util::TimePoint) override {}

   private:
    ServerNode& owner_;
    HostId host_;
  };

  Network& net_;
  HostId host_;
  std::optional<HostId> probe_host_;
  std::unique_ptr<ProbePort> probe_;
  crypto::SeededRandom rng_;
  rendezvous::Server server_;
};

}  // namespace punch::sim
