// SIGINT/SIGTERM as loop events, so shutdown runs on the loop like everything else.
#pragma once

#include <uv.h>

#include <functional>

namespace punch::io {

/// Calls a function when SIGINT or SIGTERM arrives.
class Signals {
 public:
  /// Watches both signals on `loop`; `fn` gets the signal number.
  Signals(uv_loop_t* loop, std::function<void(int)> fn);
  ~Signals();
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;
  /// Stops watching.
  void close();

 private:
  uv_signal_t* int_;
  uv_signal_t* term_;
  std::function<void(int)> fn_;
};

}  // namespace punch::io
