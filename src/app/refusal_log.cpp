#include "app/refusal_log.hpp"

#include <chrono>

namespace punch::app {

bool RefusalLog::record(const crypto::NodeId& peer, const std::string& reason,
                        util::TimePoint now) {
  if (now >= interval_end_) {
    // Nothing held back (the caller took the summary): this one opens an interval.
    interval_end_ = now + kRefusalReportInterval;
    held_ = {};
    keys_.clear();
    return true;
  }
  ++held_.refusals;
  // The listener's reasons are a few fixed texts, so this map stays tiny.
  ++held_.reasons[reason];
  if (keys_.size() < kMaxCountedRefusedKeys) {
    keys_.insert(peer);
  } else if (!keys_.contains(peer)) {
    held_.keys_capped = true;
  }
  return false;
}

std::optional<RefusalLog::Summary> RefusalLog::take_summary(util::TimePoint now) {
  if (held_.refusals == 0 || now < interval_end_) return std::nullopt;
  Summary s = std::move(held_);
  s.keys = keys_.size();
  held_ = {};
  keys_.clear();
  return s;
}

util::TimePoint RefusalLog::next_deadline() const {
  return held_.refusals > 0 ? interval_end_ : util::kNever;
}

std::string describe(const RefusalLog::Summary& s) {
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(kRefusalReportInterval).count();
  std::string line = std::to_string(s.refusals) + " more invitation" +
                     (s.refusals == 1 ? "" : "s") + " from " + (s.keys_capped ? "at least " : "") +
                     std::to_string(s.keys) + " key" + (s.keys == 1 ? "" : "s") + " in the last " +
                     std::to_string(seconds) + " s (";
  bool first = true;
  for (const auto& [reason, count] : s.reasons) {
    if (!first) line += ", ";
    first = false;
    line += std::to_string(count) + " " + reason;
  }
  return line + ")";
}

}  // namespace punch::app
