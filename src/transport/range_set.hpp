// A set of uint64 values stored as disjoint half-open ranges: the bookkeeping
// behind received packet numbers, received stream bytes, acknowledged and lost
// stream bytes. Operations cost O(log n + merged ranges).
#pragma once

#include <cstdint>
#include <iterator>
#include <map>

namespace punch::transport {

/// Disjoint, non-adjacent half-open ranges [start, end) of uint64 values.
class RangeSet {
 public:
  /// One range [start, end).
  struct Range {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    bool operator==(const Range&) const = default;
  };

  /// Adds [start, end) (no-op when empty); returns how many values were not in the set before.
  std::uint64_t add(std::uint64_t start, std::uint64_t end);
  /// Removes [start, end) from the set.
  void remove(std::uint64_t start, std::uint64_t end);
  /// Removes every value below `value`.
  void remove_below(std::uint64_t value);
  /// True when `value` is in the set.
  bool contains(std::uint64_t value) const;
  /// True when the set holds no value.
  bool empty() const { return ranges_.empty(); }
  /// Number of disjoint ranges.
  std::size_t range_count() const { return ranges_.size(); }
  /// Lowest range; the set must not be empty.
  Range front() const;
  /// Highest range; the set must not be empty.
  Range back() const;
  /// Drops the lowest range; the set must not be empty.
  void pop_front();
  /// The range containing `value`, or an empty Range{value, value} when none does.
  Range range_containing(std::uint64_t value) const;
  /// Calls `f(start, end)` for each maximal sub-range of [start, end) not in the set, ascending.
  template <typename F>
  void for_each_gap(std::uint64_t start, std::uint64_t end, F&& f) const;
  /// Calls `f(Range)` for each range from the highest down until `f` returns false.
  template <typename F>
  void for_each_descending(F&& f) const;
  /// Removes every value.
  void clear() { ranges_.clear(); }

 private:
  std::map<std::uint64_t, std::uint64_t> ranges_;  // start -> end
};

template <typename F>
void RangeSet::for_each_gap(std::uint64_t start, std::uint64_t end, F&& f) const {
  if (start >= end) return;
  auto it = ranges_.upper_bound(start);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->second > start) start = prev->second;
  }
  for (; start < end && it != ranges_.end() && it->first < end; ++it) {
    if (it->first > start) f(start, it->first);
    if (it->second > start) start = it->second;
  }
  if (start < end) f(start, end);
}

template <typename F>
void RangeSet::for_each_descending(F&& f) const {
  for (auto it = ranges_.rbegin(); it != ranges_.rend(); ++it) {
    if (!f(Range{it->first, it->second})) return;
  }
}

}  // namespace punch::transport
