// One abstract byte stream with both directions, so the app bridges a TCP
// connection and stdio to a transport stream through the same code: data and
// end-of-input upward, writes with back-pressure and a half-close downward.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "util/bytes.hpp"

namespace punch::io {

/// A bidirectional byte stream (TCP connection, stdin+stdout) with half-close.
class Duplex {
 public:
  /// Called with each chunk of input; the view is valid only during the call.
  using DataFn = std::function<void(util::ByteView)>;
  /// Called once when input ends: "" for the peer's EOF/FIN, else the error text.
  using EndFn = std::function<void(const std::string& error)>;
  /// Called when queued() falls below kLowWater after having reached kHighWater.
  using DrainFn = std::function<void()>;
  /// Called once when finish() completed ("") or failed (the error text).
  using DoneFn = std::function<void(const std::string& error)>;

  virtual ~Duplex() = default;

  /// Starts delivering input chunks to `on_data` and the end of input to `on_end`.
  virtual void start(DataFn on_data, EndFn on_end) = 0;
  /// Stops reading until resume(), so a full tunnel pushes back on the source.
  virtual void pause() = 0;
  /// Continues reading after pause().
  virtual void resume() = 0;
  /// Queues a copy of `data` for sending; ignored after finish(), abort() or close().
  virtual void write(util::ByteView data) = 0;
  /// Bytes queued by write() and not yet handed to the kernel.
  virtual std::size_t queued() const = 0;
  /// Sets the callback for the queue draining below kLowWater.
  virtual void on_drain(DrainFn fn) = 0;
  /// After every queued byte, half-closes the sending direction (TCP: FIN; stdout:
  /// close) and then calls `done`; input keeps flowing until its own end.
  virtual void finish(DoneFn done) = 0;
  /// Tears down both directions now, dropping the queue (TCP: sends RST); no
  /// callback runs afterwards.
  virtual void abort() = 0;
  /// Releases the stream without waiting and without RST; idempotent, and no
  /// callback runs afterwards.
  virtual void close() = 0;

  /// Queued bytes at or above which the producer should stop writing.
  static constexpr std::size_t kHighWater = 1 << 20;
  /// Queued bytes below which on_drain fires again (hysteresis against flapping).
  static constexpr std::size_t kLowWater = kHighWater / 2;
};

}  // namespace punch::io
