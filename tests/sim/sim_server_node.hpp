// A rendezvous::Server running on a simulated host, with its own seeded randomness.
#pragma once

#include <cstdint>

#include "crypto/random.hpp"
#include "rendezvous/server.hpp"
#include "sim/sim_net.hpp"
#include "sim/sim_node.hpp"

namespace punch::sim {

/// The rendezvous core on a host of a sim::Network.
class ServerNode final : public SimNode {
 public:
  /// Starts a server on `host` of `net` (attaching itself), drawing from a generator
  /// seeded with `seed`; `net` must outlive it.
  ServerNode(Network& net, HostId host, std::uint64_t seed);
  ~ServerNode() override;
  ServerNode(const ServerNode&) = delete;
  ServerNode& operator=(const ServerNode&) = delete;

  /// The server core.
  rendezvous::Server& server() { return server_; }
  /// The address clients register with.
  const util::Address& address() const { return net_.address(host_); }

  void on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now) override;
  void on_timeout(util::TimePoint now) override;
  util::TimePoint next_deadline() const override;
  void flush(util::TimePoint now) override;

 private:
  Network& net_;
  HostId host_;
  crypto::SeededRandom rng_;
  rendezvous::Server server_;
};

}  // namespace punch::sim
