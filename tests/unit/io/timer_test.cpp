#include "io/timer.hpp"

#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>

#include "io/handle.hpp"
#include "util/time.hpp"

using punch::io::Pump;
using punch::io::Timer;
namespace io = punch::io;
namespace util = punch::util;
using namespace std::chrono_literals;

namespace {

// Upper bound on blocking loop iterations while waiting for a short timer.
constexpr int kMaxTimerIterations = 100;

template <typename Pred>
void run_once_until(uv_loop_t* loop, Pred done) {
  for (int i = 0; i < kMaxTimerIterations && !done(); ++i) uv_run(loop, UV_RUN_ONCE);
}

}  // namespace

TEST_CASE("Timer fires once after arm(deadline), not before") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    int fired = 0;
    util::TimePoint fired_at{};
    Timer t(&loop, [&] {
      ++fired;
      fired_at = io::now();
    });
    const util::TimePoint start = io::now();
    const util::TimePoint deadline = start + 5ms;
    t.arm(deadline, start);
    run_once_until(&loop, [&] { return fired > 0; });
    CHECK(fired == 1);
    CHECK(fired_at >= deadline);
    // One-shot: nothing stays active, so the loop runs out without firing again.
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(fired == 1);
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("Timer armed with a past deadline fires on the next iteration") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    int fired = 0;
    Timer t(&loop, [&] { ++fired; });
    const util::TimePoint now = io::now();
    t.arm(now - 1s, now);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(fired == 1);
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("Timer arm(kNever) disarms") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    int fired = 0;
    Timer t(&loop, [&] { ++fired; });
    const util::TimePoint now = io::now();
    t.arm(now + 1ms, now);
    CHECK(uv_loop_alive(&loop) != 0);
    t.arm(util::kNever, now);
    CHECK(uv_loop_alive(&loop) == 0);
    // Nothing is active, so the loop exits at once instead of waiting for the timer.
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(fired == 0);
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("Timer re-arming moves the deadline") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);

  SUBCASE("earlier") {
    int fired = 0;
    Timer t(&loop, [&] { ++fired; });
    // A guard stops the loop if the move did not happen, so a failure cannot hang.
    Timer guard(&loop, [&] { uv_stop(&loop); });
    const util::TimePoint now = io::now();
    t.arm(now + 1h, now);
    t.arm(now + 2ms, now);
    guard.arm(now + 10s, now);
    run_once_until(&loop, [&] { return fired > 0; });
    CHECK(fired == 1);
  }

  SUBCASE("later") {
    int fired = 0;
    bool guard_fired = false;
    Timer t(&loop, [&] { ++fired; });
    Timer guard(&loop, [&] { guard_fired = true; });
    const util::TimePoint now = io::now();
    t.arm(now + 1ms, now);
    t.arm(now + 1h, now);
    guard.arm(now + 30ms, now);
    run_once_until(&loop, [&] { return guard_fired; });
    CHECK(guard_fired);
    CHECK(fired == 0);
  }

  SUBCASE("again after firing") {
    int fired = 0;
    Timer t(&loop, [&] { ++fired; });
    util::TimePoint now = io::now();
    t.arm(now, now);
    run_once_until(&loop, [&] { return fired == 1; });
    REQUIRE(fired == 1);
    // The same deadline again must not be mistaken for "already armed".
    t.arm(now, io::now());
    run_once_until(&loop, [&] { return fired == 2; });
    CHECK(fired == 2);
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(fired == 2);
  }

  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("Timer close stops it and later arms are ignored") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    int fired = 0;
    Timer t(&loop, [&] { ++fired; });
    const util::TimePoint now = io::now();
    t.arm(now, now);
    t.close();
    t.arm(now, now);
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(fired == 0);
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("Pump runs only when marked, once per loop iteration") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    int runs = 0;
    Pump pump(&loop, [&] { ++runs; });

    // Unmarked, the pump keeps nothing alive and never runs.
    CHECK(uv_loop_alive(&loop) == 0);
    for (int i = 0; i < 5; ++i) uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(runs == 0);

    // Several marks in one iteration give one run.
    pump.mark();
    pump.mark();
    pump.mark();
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(runs == 1);
    for (int i = 0; i < 5; ++i) uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(runs == 1);

    // A marked pump keeps the loop running until it has run, then lets it end.
    pump.mark();
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(runs == 2);
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("Pump marked from its own function runs again on the next iteration") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    int runs = 0;
    Pump* self = nullptr;
    Pump pump(&loop, [&] {
      ++runs;
      if (runs < 3) self->mark();
    });
    self = &pump;
    pump.mark();
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(runs == 1);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(runs == 2);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(runs == 3);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(runs == 3);
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("Pump marked does not let the loop block in poll") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    int runs = 0;
    int timer_fired = 0;
    Pump pump(&loop, [&] { ++runs; });
    // Keeps the loop alive; if the pump let poll block, this would fire first.
    Timer t(&loop, [&] { ++timer_fired; });
    const util::TimePoint now = io::now();
    t.arm(now + 2s, now);
    pump.mark();
    uv_run(&loop, UV_RUN_ONCE);
    CHECK(runs == 1);
    CHECK(timer_fired == 0);
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("Pump close stops it") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    int runs = 0;
    Pump pump(&loop, [&] { ++runs; });
    pump.mark();
    pump.close();
    pump.mark();  // ignored after close
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(runs == 0);
  }
  CHECK(io::close_loop(&loop) == 0);
}
