// The one loop every sans-I/O core runs in: feed it `now` with each input, then
// arm one timer from its next_deadline(). Written once here so the app's commands
// (rendezvous, netcheck, tunnel) hold no libuv code.
#pragma once

#include <functional>
#include <optional>

#include "io/loop.hpp"
#include "io/timer.hpp"
#include "util/time.hpp"

namespace punch::io {

/// Runs one core on a loop: a timer armed from the core's deadline, re-armed after
/// every call into the core.
class CoreDriver {
 public:
  /// When the core's output is flushed and the timer re-armed.
  enum class Flush {
    kEveryCall,         ///< Right after each input or timeout.
    kOncePerIteration,  ///< Once per loop iteration after I/O (io::Pump): a burst of
                        ///< datagrams read at once yields one flush.
  };

  /// What the driver calls on the core.
  struct Hooks {
    /// The core's timers are due (core.on_timeout(now)).
    std::function<void(util::TimePoint)> on_timeout;
    /// The core's next deadline (util::kNever: none).
    std::function<util::TimePoint()> next_deadline;
    /// Runs after the inputs and before the timer is re-armed: flush the core, react
    /// to its events; may close() the driver.
    std::function<void(util::TimePoint)> after;
  };

  /// Drives a core through `hooks` on `loop`; the timer starts disarmed (call arm()).
  CoreDriver(Loop& loop, Hooks hooks, Flush flush = Flush::kEveryCall);
  CoreDriver(const CoreDriver&) = delete;
  CoreDriver& operator=(const CoreDriver&) = delete;

  /// Hands the core an input at the current time (`input(now)`), then flushes and
  /// re-arms (at once, or at the end of this loop iteration).
  void feed(const std::function<void(util::TimePoint)>& input);
  /// Requests a flush and re-arm without an input (work was queued on the core).
  void mark();
  /// Flushes now and arms the timer from the core's deadline.
  void arm();
  /// Stops the timer (and the pump) for good; later calls do nothing.
  void close();
  /// True once close() ran.
  bool closed() const { return closed_; }

 private:
  void settle(util::TimePoint now);

  Hooks hooks_;
  Timer timer_;
  std::optional<Pump> pump_;  // kOncePerIteration only
  bool closed_ = false;
};

}  // namespace punch::io
