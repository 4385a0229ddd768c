#include "transport/range_set.hpp"

#include <algorithm>

#include "util/assert.hpp"

namespace punch::transport {

std::uint64_t RangeSet::add(std::uint64_t start, std::uint64_t end) {
  if (start >= end) return 0;
  std::uint64_t added = end - start;
  // Find the first range that touches [start, end): it may begin before start.
  auto it = ranges_.upper_bound(start);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= start) it = prev;
  }
  std::uint64_t new_start = start;
  std::uint64_t new_end = end;
  while (it != ranges_.end() && it->first <= end) {
    const std::uint64_t overlap_start = std::max(it->first, start);
    const std::uint64_t overlap_end = std::min(it->second, end);
    if (overlap_end > overlap_start) added -= overlap_end - overlap_start;
    new_start = std::min(new_start, it->first);
    new_end = std::max(new_end, it->second);
    it = ranges_.erase(it);
  }
  ranges_.emplace_hint(it, new_start, new_end);
  return added;
}

void RangeSet::remove(std::uint64_t start, std::uint64_t end) {
  if (start >= end) return;
  auto it = ranges_.upper_bound(start);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->second > start) it = prev;
  }
  while (it != ranges_.end() && it->first < end) {
    const std::uint64_t r_start = it->first;
    const std::uint64_t r_end = it->second;
    it = ranges_.erase(it);
    if (r_start < start) ranges_.emplace(r_start, start);
    if (r_end > end) {
      ranges_.emplace(end, r_end);
      break;
    }
  }
}

void RangeSet::remove_below(std::uint64_t value) {
  while (!ranges_.empty()) {
    auto it = ranges_.begin();
    if (it->first >= value) return;
    const std::uint64_t r_end = it->second;
    ranges_.erase(it);
    if (r_end > value) {
      ranges_.emplace(value, r_end);
      return;
    }
  }
}

bool RangeSet::contains(std::uint64_t value) const {
  auto it = ranges_.upper_bound(value);
  if (it == ranges_.begin()) return false;
  return std::prev(it)->second > value;
}

RangeSet::Range RangeSet::front() const {
  PUNCH_ASSERT(!ranges_.empty());
  return {ranges_.begin()->first, ranges_.begin()->second};
}

RangeSet::Range RangeSet::back() const {
  PUNCH_ASSERT(!ranges_.empty());
  return {ranges_.rbegin()->first, ranges_.rbegin()->second};
}

void RangeSet::pop_front() {
  PUNCH_ASSERT(!ranges_.empty());
  ranges_.erase(ranges_.begin());
}

RangeSet::Range RangeSet::range_containing(std::uint64_t value) const {
  auto it = ranges_.upper_bound(value);
  if (it == ranges_.begin()) return {value, value};
  --it;
  if (it->second > value) return {it->first, it->second};
  return {value, value};
}

}  // namespace punch::transport
