// The one virtual-time event loop of the simulators and the two-end tests. It is the
// loop the I/O layer runs for real, with the clock replaced: advance to the earliest
// thing due (a scheduled action, or whatever the model says: an arrival, a deadline),
// run the actions due, let the model step (deliver, run due timers, let the
// application act), flush what the nodes have to send, and again, until a predicate
// holds or a deadline passes. An event cap turns a protocol that livelocks into a
// test failure instead of a hang.
#pragma once

#include <cstdint>
#include <functional>
#include <map>

#include "util/time.hpp"

namespace punch::sim {

/// How a VirtualLoop behaves; the defaults are those of sim::Network.
struct LoopConfig {
  util::TimePoint start{};               ///< The clock's first reading.
  std::uint64_t event_cap = 20'000'000;  ///< Loop iterations before a run gives up.
  /// Flush again after every predicate check, so what the predicate itself wrote (a
  /// scenario's stream data) goes out before time moves.
  bool flush_after_check = true;
  /// With nothing left to happen at all, the clock still reaches the run's limit (true),
  /// so a scenario that waits out a timeout finds it moved; or stays where it is (false).
  bool idle_reaches_limit = true;
};

/// What a loop drives: the network and the cores on it.
struct LoopModel {
  /// The earliest arrival or deadline of the model (kNever: none); scheduled actions
  /// are the loop's own.
  std::function<util::TimePoint()> next_event;
  /// Everything due at the loop's now(): deliveries, due timers, the application.
  std::function<void()> step;
  /// Lets every node send what it has (cores send only from flush and timers).
  std::function<void()> flush;
};

/// A virtual clock, scheduled actions, and the loop that runs a LoopModel on them.
class VirtualLoop {
 public:
  /// A loop at `config.start` that drives `model`.
  VirtualLoop(const LoopConfig& config, LoopModel model);

  /// Current virtual time.
  util::TimePoint now() const { return now_; }
  /// Loop iterations so far.
  std::uint64_t events() const { return events_; }
  /// True once a run stopped because the event cap was reached.
  bool cap_hit() const { return cap_hit_; }

  /// Runs `action` when virtual time reaches `at` (before that step's deliveries).
  void at(util::TimePoint at, std::function<void()> action);
  /// Runs until `done()` holds (true), or `limit` of virtual time passed, nothing is
  /// left to happen or the event cap is hit (false).
  bool run_until(const std::function<bool()>& done, util::Duration limit);
  /// Runs until virtual time reaches `t` (at least); false if the event cap was hit.
  bool run_to(util::TimePoint t);

 private:
  util::TimePoint next_event() const;

  LoopConfig config_;
  LoopModel model_;
  util::TimePoint now_;
  std::multimap<util::TimePoint, std::function<void()>> actions_;
  std::uint64_t events_ = 0;
  bool cap_hit_ = false;
};

}  // namespace punch::sim
