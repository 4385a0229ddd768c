// Virtual time in the tests: where it starts, and durations as figures. One
// definition shared by the test files, so they can be compiled together (the test
// binary is a unity build).
#pragma once

#include <chrono>

#include "util/time.hpp"

namespace punch::testing {

/// An hour past the clock's zero: far enough that "now minus a timeout" never goes
/// below TimePoint{}, and no test depends on the exact value.
inline const util::TimePoint kT0 = util::TimePoint{} + std::chrono::hours(1);

/// `d` in milliseconds, for the figures tests print.
inline double ms(util::Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace punch::testing
