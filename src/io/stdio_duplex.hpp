// Standard input and output as one Duplex, so the stdio mode (ssh ProxyCommand)
// goes through the same bridge as TCP port forwards.
#pragma once

#include <uv.h>

#include "io/duplex.hpp"
#include "io/stdio.hpp"

namespace punch::io {

/// Reads `in_fd` and writes `out_fd` (stdin and stdout by default) as one Duplex.
class StdioDuplex final : public Duplex {
 public:
  /// Wraps `in_fd` for input and `out_fd` for output on `loop` (not yet reading).
  explicit StdioDuplex(uv_loop_t* loop, int in_fd = 0, int out_fd = 1);
  ~StdioDuplex() override;
  StdioDuplex(const StdioDuplex&) = delete;
  StdioDuplex& operator=(const StdioDuplex&) = delete;

  /// Starts reading input into `on_data`; EOF or a read error goes to `on_end`.
  void start(DataFn on_data, EndFn on_end) override;
  /// Stops reading input until resume().
  void pause() override;
  /// Continues reading input.
  void resume() override;
  /// Queues a copy of `data` for the output.
  void write(util::ByteView data) override;
  /// Output bytes not yet written.
  std::size_t queued() const override;
  /// Sets the callback for the output queue draining.
  void on_drain(DrainFn fn) override;
  /// After the queued bytes, closes the output so its reader sees EOF, then `done`.
  void finish(DoneFn done) override;
  /// Closes input and output now, dropping queued bytes (stdio has no RST).
  void abort() override;
  /// Closes input and output now; idempotent.
  void close() override;

 private:
  InputStream in_;
  OutputStream out_;
  bool closed_ = false;
};

}  // namespace punch::io
