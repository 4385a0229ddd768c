// util::SocketPool on a simulated host: each extra socket is one more port of the
// host's IP in sim::Network (Network::add_socket), so what it sends crosses the
// host's router like any datagram and, behind a hard NAT, gets a mapping of its own;
// what arrives on it reaches the owner with the socket's id. Counts what a test of
// the birthday prober asserts on: how many were ever open at once, how many are open
// now, and any misuse (closing or sending through a socket that is not open).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "sim/sim_net.hpp"
#include "sim/sim_node.hpp"
#include "util/datagram_sink.hpp"
#include "util/socket_pool.hpp"

namespace punch::sim {

/// Counters of a SimSocketPool.
struct SocketPoolStats {
  std::uint64_t opened = 0;      ///< open() calls that returned a socket.
  std::uint64_t refused = 0;     ///< open() calls refused by the limit.
  std::uint64_t closed = 0;      ///< close() calls on an open socket.
  std::size_t max_open = 0;      ///< Most sockets open at once.
  std::uint64_t bad_closes = 0;  ///< close() of an id that is not open.
  std::uint64_t bad_sinks = 0;   ///< sink() of an id that is not open.
  std::uint64_t bad_sends = 0;   ///< Sends through the sink handed out for a bad id.
  std::uint64_t received = 0;    ///< Datagrams delivered on extra sockets.
};

/// Extra UDP sockets of one host of a sim::Network.
class SimSocketPool final : public util::SocketPool {
 public:
  /// Where datagrams that arrive on an extra socket go: (from, data, now, socket id).
  using Receiver =
      std::function<void(const util::Address&, util::ByteView, util::TimePoint, util::SocketId)>;

  /// First port an extra socket binds to: Linux's ip_local_port_range starts here.
  static constexpr std::uint16_t kFirstLocalPort = 32768;
  /// Last port of that range (60999 on Linux).
  static constexpr std::uint16_t kLastLocalPort = 60999;

  /// A pool of sockets on `host`'s IP in `net` handing what arrives to `receiver`;
  /// `net` must outlive the pool.
  SimSocketPool(Network& net, HostId host, Receiver receiver);
  /// Closes every socket still open.
  ~SimSocketPool() override;
  SimSocketPool(const SimSocketPool&) = delete;
  SimSocketPool& operator=(const SimSocketPool&) = delete;

  std::optional<util::SocketId> open() override;
  void close(util::SocketId id) override;
  util::DatagramSink& sink(util::SocketId id) override;
  std::size_t open_count() const override { return open_.size(); }

  /// Refuses open() while `limit` sockets are open (as a process out of descriptors).
  void set_limit(std::size_t limit) { limit_ = limit; }
  /// Counters so far.
  const SocketPoolStats& stats() const { return stats_; }
  /// The ids open now, in opening order.
  std::vector<util::SocketId> open_ids() const;
  /// The host of socket `id` (open or closed), or nullopt for an id never opened.
  std::optional<HostId> host_of(util::SocketId id) const;
  /// The socket id whose host is `host`, or nullopt when `host` is no socket of the pool.
  std::optional<util::SocketId> id_of(HostId host) const;
  /// The address of socket `id` (its LAN address behind a router), or an empty one.
  util::Address address_of(util::SocketId id) const;

 private:
  /// The node on an extra socket's host: hands datagrams to the receiver.
  class Port final : public SimNode {
   public:
    Port(SimSocketPool& owner, util::SocketId id) : owner_(owner), id_(id) {}
    void on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now) override;
    void on_timeout(util::TimePoint) override {}
    util::TimePoint next_deadline() const override { return util::kNever; }
    void flush(util::TimePoint) override {}

   private:
    SimSocketPool& owner_;
    util::SocketId id_;
  };
  /// The sink sink() hands out for an id that is not open: counts and drops.
  class BadSink final : public util::DatagramSink {
   public:
    explicit BadSink(SocketPoolStats& stats) : stats_(stats) {}
    void send(const util::Address&, util::ByteView) override { ++stats_.bad_sends; }

   private:
    SocketPoolStats& stats_;
  };
  struct Socket {
    HostId host = 0;
    // Kept after close: a close from inside this socket's own delivery stays safe.
    std::unique_ptr<Port> port;
  };

  std::optional<std::uint16_t> free_port();

  Network& net_;
  HostId host_;
  Receiver receiver_;
  std::map<util::SocketId, Socket> sockets_;  // Every socket ever opened.
  std::map<util::SocketId, HostId> open_;     // The open ones.
  std::map<HostId, util::SocketId> by_host_;
  util::SocketId next_id_ = util::kMainSocket + 1;
  std::uint16_t next_port_ = kFirstLocalPort;
  std::size_t limit_ = static_cast<std::size_t>(-1);
  SocketPoolStats stats_;
  BadSink bad_sink_{stats_};
};

}  // namespace punch::sim
