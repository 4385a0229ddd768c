// The libuv event loop behind a small owner, so the app runs and stops a loop
// without touching libuv: io objects take an io::Loop wherever they take the
// raw loop.
#pragma once

#include <uv.h>

namespace punch::io {

/// Owns one libuv loop: initialised on construction, every handle closed and the
/// loop closed on destruction.
class Loop {
 public:
  /// Initialises the loop.
  Loop();
  /// Closes what is still open (io::close_loop) and the loop itself.
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  /// Runs until no handle is active or stop() was called.
  void run();
  /// Makes run() return after the current iteration.
  void stop();
  /// The raw loop, for the io wrappers' constructors (implicit on purpose: the app
  /// hands an io::Loop to them and never names libuv).
  operator uv_loop_t*() { return &loop_; }

 private:
  uv_loop_t loop_;
};

}  // namespace punch::io
