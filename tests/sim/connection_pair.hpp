// Two transport Connections joined by two simulated links, driven on virtual time
// by their next_deadline() and the links' arrivals: the event loop the I/O layer
// runs for real, with the clock replaced. An event cap turns a protocol that
// livelocks (deadline never advancing) into a test failure instead of a hang.
#pragma once

#include <cstdint>
#include <functional>

#include "sim/sim_link.hpp"
#include "transport/connection.hpp"

namespace punch::sim {

/// How the two ends are connected.
struct PairConfig {
  LinkConfig a_to_b;                     ///< Link from the client (a) to the server (b).
  LinkConfig b_to_a;                     ///< Link from the server (b) to the client (a).
  std::uint64_t seed = 1;                ///< Seeds both links (differently).
  std::size_t max_payload = 1166;        ///< What the session layer passes to poll_send.
  std::uint64_t event_cap = 20'000'000;  ///< Loop iterations before run_until gives up.
};

/// A client and a server Connection over simulated links.
class ConnectionPair {
 public:
  /// Creates both connections at kSimEpoch.
  explicit ConnectionPair(const PairConfig& config);

  /// The client end.
  transport::Connection& a() { return a_; }
  /// The server end.
  transport::Connection& b() { return b_; }
  /// Link carrying a's packets.
  Link& a_to_b() { return ab_; }
  /// Link carrying b's packets.
  Link& b_to_a() { return ba_; }
  /// Current virtual time.
  util::TimePoint now() const { return now_; }
  /// Virtual time since the start.
  util::Duration elapsed() const { return now_ - kSimEpoch; }
  /// Loop iterations so far.
  std::uint64_t events() const { return events_; }
  /// True once run_until stopped because the event cap was reached.
  bool cap_hit() const { return cap_hit_; }

  /// Called after every loop step (before sending), where a scenario reads and writes.
  void set_app(std::function<void()> app) { app_ = std::move(app); }
  /// Polls both connections' packets out (run_until does this; call after app actions
  /// taken outside the loop).
  void flush();
  /// Runs until `done()` holds (true), `limit` of virtual time passed, nothing is left to
  /// happen, or the event cap is hit (false).
  bool run_until(const std::function<bool()>& done, util::Duration limit);
  /// Runs for `span` of virtual time.
  void run_for(util::Duration span);

 private:
  void deliver(Link& link, transport::Connection& to);
  void drain(transport::Connection& from, Link& link);

  PairConfig config_;
  util::TimePoint now_ = kSimEpoch;
  transport::Connection a_;
  transport::Connection b_;
  Link ab_;
  Link ba_;
  std::function<void()> app_;
  std::uint64_t events_ = 0;
  bool cap_hit_ = false;
};

}  // namespace punch::sim
