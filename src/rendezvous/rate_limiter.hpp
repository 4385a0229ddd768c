// Per-source rate limit for control messages (docs/protocol.md, "Limits"): it
// gates the expensive step (signature checks) and caps what a spoofed source can
// make the server send to a victim.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "util/address.hpp"
#include "util/time.hpp"

namespace punch::rendezvous {

/// A token bucket per source address, kept as a theoretical arrival time (GCRA),
/// which is the same bucket in one timestamp instead of a count and a timestamp.
class RateLimiter {
 public:
  /// Allows `rate_per_second` messages per second per source, bursts of `burst`,
  /// and keeps state for at most `max_sources` sources.
  RateLimiter(std::uint32_t rate_per_second, std::uint32_t burst, std::size_t max_sources);
  /// Allows one message per `interval` per source (for rates under one per second),
  /// bursts of `burst`, and keeps state for at most `max_sources` sources.
  RateLimiter(util::Duration interval, std::uint32_t burst, std::size_t max_sources);

  /// Takes one token from `from`'s bucket at `now`; false if it is empty, or if
  /// `from` is new and the table is full of sources that are not idle.
  bool allow(const util::Address& from, util::TimePoint now);
  /// Gives back the token the last allow() for `from` took: for work charged up front
  /// and paid for only when it fails (a signature check that succeeds).
  void refund(const util::Address& from);
  /// Sources currently tracked.
  std::size_t sources() const { return tat_.size(); }

 private:
  void sweep(util::TimePoint now);

  util::Duration interval_;
  util::Duration tolerance_;
  std::size_t max_sources_;
  std::unordered_map<util::Address, util::TimePoint, util::AddressHash> tat_;
  util::TimePoint last_sweep_ = util::TimePoint::min();
};

}  // namespace punch::rendezvous
