#include "transport/range_set.hpp"

#include <doctest/doctest.h>

#include <vector>

namespace punch::transport {
namespace {

std::vector<RangeSet::Range> ranges(const RangeSet& s) {
  std::vector<RangeSet::Range> out;
  s.for_each_descending([&](RangeSet::Range r) {
    out.insert(out.begin(), r);
    return true;
  });
  return out;
}

using R = RangeSet::Range;

}  // namespace

TEST_CASE("range_set: add merges overlapping and adjacent ranges and counts new values") {
  RangeSet s;
  CHECK(s.add(10, 20) == 10);
  CHECK(s.add(30, 40) == 10);
  CHECK(s.add(20, 25) == 5);  // Adjacent to [10, 20).
  CHECK(ranges(s) == std::vector<R>{{10, 25}, {30, 40}});
  CHECK(s.add(15, 35) == 5);  // Fills the gap [25, 30) only.
  CHECK(ranges(s) == std::vector<R>{{10, 40}});
  CHECK(s.add(12, 18) == 0);  // Duplicate.
  CHECK(s.add(5, 5) == 0);    // Empty.
  CHECK(s.add(0, 100) == 70);
  CHECK(ranges(s) == std::vector<R>{{0, 100}});
}

TEST_CASE("range_set: remove splits ranges") {
  RangeSet s;
  s.add(0, 100);
  s.remove(10, 20);
  CHECK(ranges(s) == std::vector<R>{{0, 10}, {20, 100}});
  s.remove(5, 30);
  CHECK(ranges(s) == std::vector<R>{{0, 5}, {30, 100}});
  s.remove(0, 5);
  CHECK(ranges(s) == std::vector<R>{{30, 100}});
  s.remove(90, 200);
  CHECK(ranges(s) == std::vector<R>{{30, 90}});
  s.add(95, 99);
  s.remove(0, 1000);
  CHECK(s.empty());
}

TEST_CASE("range_set: queries") {
  RangeSet s;
  s.add(10, 20);
  s.add(30, 40);
  CHECK_FALSE(s.contains(9));
  CHECK(s.contains(10));
  CHECK(s.contains(19));
  CHECK_FALSE(s.contains(20));
  CHECK(s.range_containing(15) == R{10, 20});
  CHECK(s.range_containing(25) == R{25, 25});
  CHECK(s.front() == R{10, 20});
  CHECK(s.back() == R{30, 40});
  CHECK(s.range_count() == 2);

  std::vector<R> gaps;
  s.for_each_gap(0, 50, [&](std::uint64_t a, std::uint64_t b) { gaps.push_back({a, b}); });
  CHECK(gaps == std::vector<R>{{0, 10}, {20, 30}, {40, 50}});
  gaps.clear();
  s.for_each_gap(15, 35, [&](std::uint64_t a, std::uint64_t b) { gaps.push_back({a, b}); });
  CHECK(gaps == std::vector<R>{{20, 30}});
  gaps.clear();
  s.for_each_gap(12, 18, [&](std::uint64_t a, std::uint64_t b) { gaps.push_back({a, b}); });
  CHECK(gaps.empty());
}

TEST_CASE("range_set: remove_below and pop_front") {
  RangeSet s;
  s.add(10, 20);
  s.add(30, 40);
  s.remove_below(15);
  CHECK(ranges(s) == std::vector<R>{{15, 20}, {30, 40}});
  s.remove_below(25);
  CHECK(ranges(s) == std::vector<R>{{30, 40}});
  s.pop_front();
  CHECK(s.empty());
}

}  // namespace punch::transport
