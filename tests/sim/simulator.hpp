// A network of transport Connections on virtual time: nodes (each a Connection),
// one-way links between them (several flows may share one, as at a bottleneck),
// scheduled actions (blackholes, loss changes, path changes), and an observer that
// sees every packet sent and delivered, run by the shared VirtualLoop: advance to the
// earliest deadline or arrival, deliver, run due timers, let the application act,
// poll every node's packets out.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "sim/sim_link.hpp"
#include "sim/virtual_loop.hpp"
#include "transport/connection.hpp"

namespace punch::sim {

/// Network-wide parameters.
struct SimConfig {
  std::uint64_t seed = 1;          ///< Seeds every link (each differently).
  std::size_t max_payload = 1166;  ///< What the session layer passes to poll_send.
  /// What the session layer adds to a payload (header, AEAD tag): given to every node's
  /// Connection::set_datagram_overhead. With the defaults no MTU probe fits max_payload.
  std::size_t datagram_overhead = 0;
  std::uint64_t event_cap = 20'000'000;  ///< Loop iterations before run_until gives up.
  /// Corrupted datagrams are dropped as the session's AEAD would (false), or handed to
  /// on_packet as garbage to prove the transport survives it (true).
  bool deliver_corrupted = false;
};

/// A packet as the observer sees it.
struct Observed {
  std::size_t from = 0;    ///< Sending node.
  std::size_t to = 0;      ///< Receiving node.
  bool delivered = false;  ///< False when sent (offered to the link), true on arrival.
  std::uint64_t packet_number = 0;
  util::ByteView payload;  ///< Transport frames (valid during the call only).
  util::TimePoint now{};
};

/// Nodes, links and virtual time.
class Simulator {
 public:
  /// Creates an empty network at kSimEpoch.
  explicit Simulator(const SimConfig& config);

  /// Adds a link with `config`; returns its index.
  std::size_t add_link(const LinkConfig& config);
  /// Adds a node running a Connection of `role` with `algorithm`; returns its index.
  std::size_t add_node(transport::Role role, transport::CongestionAlgorithm algorithm =
                                                 transport::CongestionAlgorithm::kBbr);
  /// Routes the packets of node `from` over `link` to node `to`.
  void route(std::size_t from, std::size_t link, std::size_t to);

  /// Node `i`'s connection.
  transport::Connection& node(std::size_t i) { return *nodes_[i].conn; }
  /// Link `i`.
  Link& link(std::size_t i) { return *links_[i]; }
  /// Current virtual time.
  util::TimePoint now() const { return loop_.now(); }
  /// Virtual time since the start.
  util::Duration elapsed() const { return now() - kSimEpoch; }
  /// Loop iterations so far.
  std::uint64_t events() const { return loop_.events(); }
  /// True once run_until stopped because the event cap was reached.
  bool cap_hit() const { return loop_.cap_hit(); }
  /// Corrupted datagrams dropped in place of the AEAD.
  std::uint64_t dropped_corrupt() const { return dropped_corrupt_; }

  /// Runs `action` when virtual time reaches `at` (before that step's deliveries).
  void at(util::TimePoint at, std::function<void()> action) { loop_.at(at, std::move(action)); }
  /// Called after every loop step (before sending), where a scenario reads and writes.
  void set_app(std::function<void()> app) { app_ = std::move(app); }
  /// Called for every packet sent and delivered.
  void set_observer(std::function<void(const Observed&)> observer) {
    observer_ = std::move(observer);
  }
  /// Polls every node's packets out (run_until does this; call after app actions taken
  /// outside the loop).
  void flush();
  /// Runs until `done()` holds (true), `limit` of virtual time passed, nothing is left to
  /// happen, or the event cap is hit (false).
  bool run_until(const std::function<bool()>& done, util::Duration limit) {
    return loop_.run_until(done, limit);
  }
  /// Runs for `span` of virtual time.
  void run_for(util::Duration span);

 private:
  struct Node {
    std::unique_ptr<transport::Connection> conn;
    std::size_t link = 0;
    std::size_t peer = 0;
    bool routed = false;
  };

  void drain(std::size_t from);
  void deliver(std::size_t link);
  util::TimePoint next_event() const;
  void step();

  SimConfig config_;
  std::vector<Node> nodes_;
  std::vector<std::unique_ptr<Link>> links_;
  std::function<void()> app_;
  std::function<void(const Observed&)> observer_;
  std::uint64_t dropped_corrupt_ = 0;
  VirtualLoop loop_;
};

}  // namespace punch::sim
