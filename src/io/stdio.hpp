// Standard input and output as byte streams on libuv, whatever they are: a
// terminal, a pipe or socket (ssh ProxyCommand), or a regular file (< file).
// Reading can pause (back-pressure); writing reports how much is still queued.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "util/bytes.hpp"

namespace punch::io {

/// Reads a file descriptor until EOF.
class InputStream {
 public:
  /// Called with each chunk; the view is valid only during the call.
  using DataFn = std::function<void(util::ByteView)>;
  /// Called once at EOF (empty string) or on a read error (its message).
  using EndFn = std::function<void(const std::string& error)>;

  /// Wraps `fd` (not yet reading).
  InputStream(uv_loop_t* loop, int fd);
  ~InputStream();
  InputStream(const InputStream&) = delete;
  InputStream& operator=(const InputStream&) = delete;

  /// Starts delivering data to `on_data` and the end to `on_end`.
  void start(DataFn on_data, EndFn on_end);
  /// Stops reading until resume() (back-pressure: the tunnel is full).
  void pause();
  /// Continues after pause().
  void resume();
  /// Stops reading for good and releases the handle; libuv then closes the fd,
  /// unless it is 0-2 (which stay open) or a regular file (closed by nobody).
  void close();

 private:
  void read_file();
  void finish(const std::string& error);

  uv_loop_t* loop_;
  int fd_;
  uv_handle_type type_;
  uv_stream_t* stream_ = nullptr;  // tty, pipe or socket
  uv_fs_t* file_req_ = nullptr;    // regular file: one read in flight at most
  util::Bytes buffer_;
  std::int64_t file_offset_ = 0;
  bool paused_ = false;
  bool reading_ = false;
  bool ended_ = false;
  DataFn on_data_;
  EndFn on_end_;
};

/// Writes to a file descriptor in order, buffering what the fd cannot take yet.
class OutputStream {
 public:
  /// Called when the queue falls below the low-water mark after being above it.
  using DrainFn = std::function<void()>;
  /// Called once after finish() when every byte was written, or on a write error.
  using DoneFn = std::function<void(const std::string& error)>;

  /// Wraps `fd`.
  OutputStream(uv_loop_t* loop, int fd);
  ~OutputStream();
  OutputStream(const OutputStream&) = delete;
  OutputStream& operator=(const OutputStream&) = delete;

  /// Queues a copy of `data`.
  void write(util::ByteView data);
  /// Bytes queued and not yet written.
  std::size_t queued() const { return queued_; }
  /// Sets the callback for falling below the low-water mark.
  void on_drain(DrainFn fn) { on_drain_ = std::move(fn); }
  /// After the queued bytes, closes the fd so the reader sees EOF (fds 0-2 are
  /// pointed at /dev/null instead, keeping their numbers taken); then `done`.
  void finish(DoneFn done);
  /// Releases the handle without waiting; as with InputStream::close(), libuv
  /// closes a pipe or socket fd above 2 itself.
  void close();

  /// Above this many queued bytes the producer should stop.
  static constexpr std::size_t kHighWater = 1 << 20;

 private:
  void write_file();
  void maybe_done();
  void on_written(std::size_t n, int status);

  uv_loop_t* loop_;
  int fd_;
  uv_handle_type type_;
  uv_stream_t* stream_ = nullptr;
  uv_fs_t* file_req_ = nullptr;
  std::deque<util::Bytes> file_queue_;
  bool file_busy_ = false;
  std::size_t queued_ = 0;
  bool above_high_ = false;
  bool finishing_ = false;
  bool done_ = false;
  std::string error_;
  DrainFn on_drain_;
  DoneFn on_done_;
};

}  // namespace punch::io
