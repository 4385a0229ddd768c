// Bounded reporting of refused invitations (docs/security.md, "Invitation floods"):
// a flood of them must not become a flood of log lines and --events records. In each
// interval the first refusal is reported in full (who and why: what a user who forgot
// an --allow needs to see); the others are counted and reported together, in one
// summary, when the interval ends. So at most two reports per interval, at any rate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "crypto/node_id.hpp"
#include "util/time.hpp"

namespace punch::app {

/// Length of one reporting interval: short enough that a flood shows in the log
/// within seconds, long enough that its reports are a handful of lines a minute.
inline constexpr util::Duration kRefusalReportInterval = std::chrono::seconds(10);
/// Distinct keys counted per interval for the summary (16 bytes each, plus the set's
/// node); beyond it the summary says "at least".
inline constexpr std::size_t kMaxCountedRefusedKeys = 1024;

/// Counts refusals and decides which are reported in full.
class RefusalLog {
 public:
  /// What the refusals held back in one interval add up to.
  struct Summary {
    std::uint64_t refusals = 0;  ///< Refusals not reported in full.
    std::size_t keys = 0;        ///< Distinct keys among them (at most kMaxCountedRefusedKeys).
    bool keys_capped = false;    ///< There were more keys than counted.
    /// Refusals per reason (the reasons are the listener's own few texts).
    std::map<std::string, std::uint64_t> reasons;
  };

  /// Records a refusal of `peer` for `reason` at `now`; true if it is to be reported in
  /// full (the first of an interval). Take the summary due at `now` first.
  bool record(const crypto::NodeId& peer, const std::string& reason, util::TimePoint now);
  /// The summary of the interval that ended by `now`, once, if it held refusals back.
  std::optional<Summary> take_summary(util::TimePoint now);
  /// When take_summary() has something: the end of an interval that held refusals
  /// back; util::kNever otherwise.
  util::TimePoint next_deadline() const;

 private:
  util::TimePoint interval_end_ = util::TimePoint::min();  // no interval open
  Summary held_;
  std::set<crypto::NodeId> keys_;
};

/// One log line for `s` (after "refused "), e.g. "12 more invitations from 3 keys in the
/// last 10 s (12 not authorized by the listener)".
std::string describe(const RefusalLog::Summary& s);

}  // namespace punch::app
