#include "transport/ack_ranges.hpp"

#include <chrono>

#include "transport/constants.hpp"

namespace punch::transport {

bool AckRanges::add(std::uint64_t pn, util::TimePoint now) {
  if (is_duplicate(pn)) return false;
  ranges_.add(pn, pn + 1);
  if (!largest_ || pn > *largest_) {
    largest_ = pn;
    largest_time_ = now;
  }
  while (ranges_.range_count() > kMaxTrackedAckRanges) {
    floor_ = ranges_.front().end;
    ranges_.pop_front();
  }
  return true;
}

bool AckRanges::is_duplicate(std::uint64_t pn) const { return pn < floor_ || ranges_.contains(pn); }

void AckRanges::forget_below(std::uint64_t pn) {
  if (pn <= floor_) return;
  floor_ = pn;
  ranges_.remove_below(pn);
}

bool AckRanges::build_ack(util::TimePoint now, std::size_t max_ranges, AckFrame& out) const {
  out.ranges.clear();
  if (ranges_.empty() || max_ranges == 0) return false;
  ranges_.for_each_descending([&](RangeSet::Range r) {
    out.ranges.push_back({r.start, r.end - 1});
    return out.ranges.size() < max_ranges;
  });
  const auto delay = now > largest_time_ ? now - largest_time_ : util::Duration{0};
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(delay).count();
  out.ack_delay = static_cast<std::uint64_t>(micros) >> kAckDelayExponent;
  return true;
}

}  // namespace punch::transport
