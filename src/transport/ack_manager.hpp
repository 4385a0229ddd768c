// The acknowledgements this end owes (RFC 9000 13.2): which packets arrived, whether
// an ACK is due now or by the delay deadline, the ACK frame trimmed to fit a packet,
// and when an ACK-only packet must elicit an answer (so that our ACK ranges get
// acknowledged and can be forgotten).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "transport/ack_ranges.hpp"
#include "transport/frame.hpp"
#include "util/bytes.hpp"
#include "util/time.hpp"

namespace punch::transport {

/// Received packets and the ACK owed for them.
class AckManager {
 public:
  /// Whether an ACK is owed and how soon.
  enum class Owed {
    kNothing,    ///< No ack-eliciting packet arrived since our last ACK.
    kDelayed,    ///< An ACK is due by delay_deadline().
    kImmediate,  ///< An ACK is due now (two packets, or a gap).
  };

  /// True when `pn` was already received or is too old to tell.
  bool is_duplicate(std::uint64_t pn) const { return received_.is_duplicate(pn); }
  /// Largest packet number received, if any.
  std::optional<std::uint64_t> largest() const { return received_.largest(); }
  /// Records packet `pn`, whose frames were processed, at `now`; `largest_before` is
  /// largest() from before its frames ran. Ack-eliciting packets make an ACK owed.
  void on_received(std::uint64_t pn, util::TimePoint now, bool eliciting,
                   std::optional<std::uint64_t> largest_before);
  /// The delay timer fired at `now`: a delayed ACK becomes immediate.
  void on_timeout(util::TimePoint now);
  /// The peer saw one of our ACKs up to `largest_acked`: stop repeating those ranges.
  void on_ack_acked(std::uint64_t largest_acked) { received_.forget_below(largest_acked + 1); }

  /// What is owed.
  Owed owed() const { return owed_; }
  /// True if an ACK is owed at all (it then rides along in every packet sent).
  bool pending() const { return owed_ != Owed::kNothing; }
  /// True if the owed ACK may not wait any longer.
  bool due(util::TimePoint now) const {
    return owed_ == Owed::kImmediate || (owed_ == Owed::kDelayed && now >= delay_deadline_);
  }
  /// When the ACK timer expires: `last_received` for an immediate ACK, the delay
  /// deadline for a delayed one, kNever when nothing is owed.
  util::TimePoint deadline(util::TimePoint last_received) const;

  /// Appends the owed ACK to `w` if it fits in `max_payload` bytes of packet (dropping the
  /// oldest ranges to fit); returns its Largest Acknowledged, or nullopt if none was
  /// written. An ACK that cannot be built (the ranges were all forgotten) is owed no more.
  std::optional<std::uint64_t> write(util::ByteWriter& w, util::TimePoint now,
                                     std::size_t max_payload);
  /// True when an ACK-only packet now should carry a PING: every kAckOnlyBeforePing-th.
  bool ack_only_needs_ping() const;
  /// A packet left: `eliciting` or ACK-only, carrying our ACK (`carried_ack`) or not.
  void on_packet_sent(bool eliciting, bool carried_ack);

 private:
  void clear();

  AckRanges received_;
  Owed owed_ = Owed::kNothing;
  std::uint64_t eliciting_since_ack_ = 0;
  util::TimePoint delay_deadline_ = util::kNever;
  std::uint64_t ack_only_in_row_ = 0;
  AckFrame scratch_;  // Reused so that building an ACK allocates nothing.
};

}  // namespace punch::transport
