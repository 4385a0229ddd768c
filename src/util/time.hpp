// Time in the sans-I/O cores is always an argument: the I/O layer reads the clock
// (or the simulator advances a virtual one) and passes `now` in.
#pragma once

#include <chrono>

namespace punch::util {

/// A point on the monotonic clock; the simulator builds them from its own epoch.
using TimePoint = std::chrono::steady_clock::time_point;
/// A span of time with nanosecond resolution.
using Duration = std::chrono::nanoseconds;

/// "No deadline": what a core returns from next_deadline() when it has no timer.
inline constexpr TimePoint kNever = TimePoint::max();

using namespace std::chrono_literals;

}  // namespace punch::util
