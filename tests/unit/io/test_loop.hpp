// A libuv loop for socket tests, bounded by a watchdog timer: a test that waits
// for something that never happens fails after kWatchdog instead of hanging.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "io/handle.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"

namespace punch::test {

/// A loop plus a watchdog; finish with close() == 0.
class TestLoop {
 public:
  /// Longest a single run_until() may take; loopback events take microseconds.
  static constexpr std::chrono::milliseconds kWatchdog{5000};

  /// Initialises the loop, its (disarmed) watchdog and the predicate check.
  TestLoop() {
    REQUIRE(uv_loop_init(&loop_) == 0);
    watchdog_ = new uv_timer_t;
    REQUIRE(uv_timer_init(&loop_, watchdog_) == 0);
    watchdog_->data = this;
    check_ = new uv_prepare_t;
    REQUIRE(uv_prepare_init(&loop_, check_) == 0);
    check_->data = this;
  }
  ~TestLoop() {
    if (watchdog_ != nullptr) close();
  }
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  /// The loop to hand to the objects under test.
  uv_loop_t* get() { return &loop_; }

  /// Runs the loop until `done()` or `limit`; returns done() (false = timed out).
  template <typename Pred>
  bool run_until(Pred done, std::chrono::milliseconds limit = kWatchdog) {
    expired_ = false;
    done_ = done;
    // The predicate is checked before every poll, so the loop never blocks once it
    // holds (callbacks may run before the poll); the watchdog stops it otherwise.
    uv_prepare_start(check_, [](uv_prepare_t* p) {
      auto* self = static_cast<TestLoop*>(p->data);
      if (self->done_()) uv_stop(p->loop);
    });
    uv_timer_start(
        watchdog_,
        [](uv_timer_t* t) {
          static_cast<TestLoop*>(t->data)->expired_ = true;
          uv_stop(t->loop);
        },
        static_cast<std::uint64_t>(limit.count()), 0);
    while (!done() && !expired_) uv_run(&loop_, UV_RUN_DEFAULT);
    uv_timer_stop(watchdog_);
    uv_prepare_stop(check_);
    done_ = nullptr;
    return done();
  }

  /// Runs the loop for `d` of loop time, to show that something does NOT happen.
  void run_for(std::chrono::milliseconds d) {
    run_until([] { return false; }, d);
  }

  /// Closes the watchdog, checks that the code under test left no open handle,
  /// lets pending close callbacks and requests finish, and closes the loop.
  int close() {
    io::close_and_delete(watchdog_);
    watchdog_ = nullptr;
    io::close_and_delete(check_);
    check_ = nullptr;
    int open = 0;
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void* arg) {
          if (!uv_is_closing(h)) ++*static_cast<int*>(arg);
        },
        &open);
    CHECK_MESSAGE(open == 0, "handles left open by the code under test");
    return io::close_loop(&loop_);
  }

 private:
  uv_loop_t loop_;
  uv_timer_t* watchdog_ = nullptr;
  uv_prepare_t* check_ = nullptr;
  std::function<bool()> done_;
  bool expired_ = false;
};

/// Byte `i` of a stream that reveals loss, duplication and reordering.
inline std::uint8_t pattern_byte(std::size_t i) { return static_cast<std::uint8_t>(i * 7 % 251); }

/// `n` bytes of the pattern starting at stream offset `offset`.
inline util::Bytes pattern(std::size_t offset, std::size_t n) {
  util::Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = pattern_byte(offset + i);
  return b;
}

/// The bytes of `v` as a string, for comparisons.
inline std::string text_of(util::ByteView v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

/// 127.0.0.1 with port 0: a loopback socket bound to it gets a free port.
inline const util::Address kLoopback = util::Address::v4(127, 0, 0, 1, 0);

/// Longest a plain blocking socket waits for a datagram that loopback queued on send.
constexpr int kReceiveTimeoutMs = 2000;

/// A pipe, both ends non-inheritable; the test closes what libuv did not.
struct Pipe {
  Pipe() { REQUIRE(::pipe2(fds, O_CLOEXEC) == 0); }
  int r() const { return fds[0]; }
  int w() const { return fds[1]; }
  int fds[2] = {-1, -1};
};

/// Closes `fd` unless it is closed already: libuv closes the descriptors of pipe and
/// socket handles above 2 when it closes them, and OutputStream::finish() may leave
/// /dev/null in the slot.
inline void close_if_open(int fd) {
  if (::fcntl(fd, F_GETFD) != -1) ::close(fd);
}

/// Writes all of `s` to the blocking descriptor `fd`.
inline void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    REQUIRE(n > 0);
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace punch::test
