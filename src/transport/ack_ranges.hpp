// The receiver's record of packet numbers: answers "seen before?" and builds ACK
// frames. Memory is bounded: at most kMaxTrackedAckRanges ranges are kept, and
// ranges the peer is known to have seen acknowledged are forgotten.
#pragma once

#include <cstdint>
#include <optional>

#include "transport/frame.hpp"
#include "transport/range_set.hpp"
#include "util/time.hpp"

namespace punch::transport {

/// Received packet numbers, for duplicate detection and ACK frames.
class AckRanges {
 public:
  /// Records packet `pn` received at `now`; returns false for a duplicate (or a packet older
  /// than anything still tracked, which is treated as one).
  bool add(std::uint64_t pn, util::TimePoint now);
  /// True when `pn` was already received or is too old to tell.
  bool is_duplicate(std::uint64_t pn) const;
  /// Largest packet number received, if any.
  std::optional<std::uint64_t> largest() const { return largest_; }
  /// Stops acknowledging packets below `pn`: an ACK covering them reached the peer.
  void forget_below(std::uint64_t pn);
  /// Fills `out` with an ACK of the highest `max_ranges` ranges, its delay measured from the
  /// largest packet's arrival to `now`; returns false when there is nothing to acknowledge.
  bool build_ack(util::TimePoint now, std::size_t max_ranges, AckFrame& out) const;
  /// Number of ranges currently tracked.
  std::size_t range_count() const { return ranges_.range_count(); }

 private:
  RangeSet ranges_;
  std::uint64_t floor_ = 0;  // Packets below this count as duplicates.
  std::optional<std::uint64_t> largest_;
  util::TimePoint largest_time_{};
};

}  // namespace punch::transport
