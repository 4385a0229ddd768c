// Spreads a window's worth of packets over the round trip instead of sending it
// as one burst that overflows router queues (RFC 9002 7.7). A token bucket: a
// late timer lets a short burst out, never more than the bucket holds.
#pragma once

#include <cstdint>

#include "util/time.hpp"

namespace punch::transport {

/// Token-bucket pacer over virtual or real time.
class Pacer {
 public:
  /// Starts unpaced with a full bucket of kMinPacingBurst.
  Pacer() { reset(); }

  /// Sets the rate in bytes per second (infinite or non-positive: unpaced) and sizes the
  /// bucket to cover kPacingBurstInterval at that rate.
  void set_rate(double bytes_per_second);
  /// True when `bytes` may leave at `now`.
  bool can_send(util::TimePoint now, std::uint64_t bytes);
  /// Makes the bucket hold at least `bytes`, the largest packet the sender may send: a
  /// smaller bucket could never fill up for it and sending would stop for good.
  void set_max_packet(std::uint64_t bytes);
  /// Earliest time `bytes` may leave (meaningful after can_send() returned false).
  util::TimePoint next_send_time(std::uint64_t bytes) const;
  /// Takes `bytes` from the bucket for a packet sent at `now`.
  void on_sent(util::TimePoint now, std::uint64_t bytes);
  /// Returns to unpaced with a full bucket (the max packet stays).
  void reset();
  /// Current rate in bytes per second (infinity when unpaced).
  double rate() const { return rate_; }

 private:
  void refill(util::TimePoint now);
  double min_capacity() const;

  double rate_ = 0;
  double capacity_ = 0;
  std::uint64_t max_packet_ = 0;
  double tokens_ = 0;
  util::TimePoint last_{};
  bool started_ = false;
};

}  // namespace punch::transport
