// One libuv timer armed from a core's next_deadline().
#pragma once

#include <uv.h>

#include <functional>

#include "util/time.hpp"

namespace punch::io {

/// A re-armable one-shot timer on the monotonic clock.
class Timer {
 public:
  /// Creates a disarmed timer on `loop` that calls `fire` when due.
  Timer(uv_loop_t* loop, std::function<void()> fire);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  /// Fires at `deadline` (at once if past); kNever disarms.
  void arm(util::TimePoint deadline, util::TimePoint now);
  /// Disarms and closes the handle.
  void close();

 private:
  void start(util::Duration wait);

  uv_timer_t* handle_;
  std::function<void()> fire_;
  util::TimePoint armed_ = util::kNever;
};

/// Calls `fn` once per event-loop iteration after I/O, when marked: the place to
/// flush the cores, so a burst of received datagrams yields one flush.
class Pump {
 public:
  /// Creates a pump on `loop` that runs `fn` after I/O whenever mark() was called.
  Pump(uv_loop_t* loop, std::function<void()> fn);
  ~Pump();
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  /// Requests a run at the end of this loop iteration.
  void mark();
  /// Stops and closes the handles.
  void close();

 private:
  uv_check_t* check_;
  uv_idle_t* idle_;  // keeps the loop from blocking in poll while a run is pending
  std::function<void()> fn_;
  bool marked_ = false;
};

/// The monotonic clock, read only here and passed into the cores.
util::TimePoint now();

}  // namespace punch::io
