// SIGINT, SIGTERM and SIGHUP as loop events, so shutdown runs on the loop like
// everything else. SIGHUP (the terminal or ssh session went away) ends punch as
// SIGTERM does, so the peer hears of it at once rather than after the 30 s idle
// timeout; a SIGHUP ignored at start (nohup) stays ignored.
#pragma once

#include <uv.h>

#include <functional>

namespace punch::io {

/// Calls a function when SIGINT, SIGTERM or (unless ignored at start) SIGHUP arrives.
class Signals {
 public:
  /// Watches the signals on `loop`; `fn` gets the signal number.
  Signals(uv_loop_t* loop, std::function<void(int)> fn);
  ~Signals();
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;
  /// Stops watching.
  void close();

  /// True when SIGHUP was ignored when the process started (nohup), so it is not watched.
  static bool hangup_ignored_at_start();

 private:
  uv_signal_t* int_;
  uv_signal_t* term_;
  uv_signal_t* hup_;  // nullptr when SIGHUP is left ignored
  std::function<void(int)> fn_;
};

}  // namespace punch::io
