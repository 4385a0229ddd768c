// What sim::Network drives on a host: a sans-I/O core seen through the four calls
// the I/O layer makes for real. The network feeds datagrams and time in; the core
// sends only from flush() and on_timeout(), through the host's sink.
#pragma once

#include "util/address.hpp"
#include "util/bytes.hpp"
#include "util/time.hpp"

namespace punch::sim {

/// A core running on a simulated host.
class SimNode {
 public:
  virtual ~SimNode() = default;
  /// Handles datagram `data` that arrived from `from` at `now`.
  virtual void on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now) = 0;
  /// Runs the timers due at `now`.
  virtual void on_timeout(util::TimePoint now) = 0;
  /// When on_timeout() must next run; kNever when no timer is armed.
  virtual util::TimePoint next_deadline() const = 0;
  /// Sends what is ready (the I/O layer's once-per-iteration flush).
  virtual void flush(util::TimePoint now) = 0;
};

}  // namespace punch::sim
