// The common case of the Simulator: a client (a) and a server (b) joined by one
// link each way, with the names the scenarios use.
#pragma once

#include <cstdint>
#include <functional>

#include "sim/simulator.hpp"

namespace punch::sim {

/// How the two ends are connected.
struct PairConfig {
  LinkConfig a_to_b;                     ///< Link from the client (a) to the server (b).
  LinkConfig b_to_a;                     ///< Link from the server (b) to the client (a).
  std::uint64_t seed = 1;                ///< Seeds both links (differently).
  std::size_t max_payload = 1166;        ///< What the session layer passes to poll_send.
  std::size_t datagram_overhead = 0;     ///< See SimConfig::datagram_overhead.
  std::uint64_t event_cap = 20'000'000;  ///< Loop iterations before run_until gives up.
  bool deliver_corrupted = false;        ///< See SimConfig::deliver_corrupted.
  /// Congestion controller of both ends.
  transport::CongestionAlgorithm algorithm = transport::CongestionAlgorithm::kBbr;
};

/// A client and a server Connection over simulated links.
class ConnectionPair {
 public:
  /// Creates both connections at kSimEpoch.
  explicit ConnectionPair(const PairConfig& config);

  /// The simulator underneath (for scheduled actions and the observer).
  Simulator& sim() { return sim_; }
  /// The client end.
  transport::Connection& a() { return sim_.node(0); }
  /// The server end.
  transport::Connection& b() { return sim_.node(1); }
  /// Link carrying a's packets.
  Link& a_to_b() { return sim_.link(0); }
  /// Link carrying b's packets.
  Link& b_to_a() { return sim_.link(1); }
  /// Current virtual time.
  util::TimePoint now() const { return sim_.now(); }
  /// Virtual time since the start.
  util::Duration elapsed() const { return sim_.elapsed(); }
  /// Loop iterations so far.
  std::uint64_t events() const { return sim_.events(); }
  /// True once run_until stopped because the event cap was reached.
  bool cap_hit() const { return sim_.cap_hit(); }

  /// See Simulator::set_app.
  void set_app(std::function<void()> app) { sim_.set_app(std::move(app)); }
  /// See Simulator::flush.
  void flush() { sim_.flush(); }
  /// See Simulator::run_until.
  bool run_until(const std::function<bool()>& done, util::Duration limit) {
    return sim_.run_until(done, limit);
  }
  /// See Simulator::run_for.
  void run_for(util::Duration span) { sim_.run_for(span); }

 private:
  Simulator sim_;
};

}  // namespace punch::sim
