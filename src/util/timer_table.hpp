// Named timers for a sans-I/O core (as quinn's TimerTable): one slot per timer
// of an enum, each armed at a time point or not, and next() derived from the
// slots, so a core's next_deadline() can never drift from what its on_timeout()
// handles. Cores keep their timers here instead of loose TimePoint members.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <utility>

#include "util/time.hpp"

namespace punch::util {

/// A fixed table of timers named by `Timer`, an enum whose last enumerator is kCount.
template <typename Timer>
class TimerTable {
 public:
  /// Number of timers in the table.
  static constexpr std::size_t kSize = static_cast<std::size_t>(Timer::kCount);

  /// Arms `timer` to expire at `at` (kNever disarms it).
  void set(Timer timer, TimePoint at) { slots_[index(timer)] = at; }
  /// Disarms `timer`.
  void stop(Timer timer) { slots_[index(timer)] = kNever; }
  /// When `timer` expires; kNever if it is not armed.
  TimePoint get(Timer timer) const { return slots_[index(timer)]; }
  /// True while `timer` is armed.
  bool armed(Timer timer) const { return get(timer) != kNever; }
  /// True if `timer` is armed and due at `now`.
  bool expired(Timer timer, TimePoint now) const { return armed(timer) && get(timer) <= now; }
  /// Disarms `timer` and returns true if it was due at `now`: the dispatch step of on_timeout().
  bool take_expired(Timer timer, TimePoint now) {
    if (!expired(timer, now)) return false;
    stop(timer);
    return true;
  }
  /// The earliest armed timer and when it expires, if any.
  std::optional<std::pair<Timer, TimePoint>> next_timer() const {
    std::optional<std::pair<Timer, TimePoint>> best;
    for (std::size_t i = 0; i < kSize; ++i) {
      if (slots_[i] == kNever) continue;
      if (!best || slots_[i] < best->second) best.emplace(static_cast<Timer>(i), slots_[i]);
    }
    return best;
  }
  /// The earliest expiry over all timers; kNever if none is armed.
  TimePoint next() const {
    const auto t = next_timer();
    return t ? t->second : kNever;
  }
  /// Disarms every timer.
  void clear() { slots_.fill(kNever); }

 private:
  static constexpr std::size_t index(Timer timer) { return static_cast<std::size_t>(timer); }

  std::array<TimePoint, kSize> slots_ = make_empty();

  static constexpr std::array<TimePoint, kSize> make_empty() {
    std::array<TimePoint, kSize> a{};
    a.fill(kNever);
    return a;
  }
};

}  // namespace punch::util
