#include "util/timer_table.hpp"

#include <doctest/doctest.h>

namespace util = punch::util;
using namespace std::chrono_literals;

namespace {

enum class Timer { kAck, kLoss, kIdle, kCount };

const util::TimePoint kT0{};

}  // namespace

TEST_CASE("timer table: nothing armed means no deadline") {
  util::TimerTable<Timer> t;
  CHECK(t.next() == util::kNever);
  CHECK_FALSE(t.next_timer().has_value());
  CHECK_FALSE(t.armed(Timer::kAck));
  CHECK_FALSE(t.take_expired(Timer::kAck, kT0 + 1h));
}

TEST_CASE("timer table: next() is the earliest armed timer") {
  util::TimerTable<Timer> t;
  t.set(Timer::kIdle, kT0 + 30s);
  t.set(Timer::kLoss, kT0 + 5ms);
  t.set(Timer::kAck, kT0 + 25ms);
  CHECK(t.next() == kT0 + 5ms);
  REQUIRE(t.next_timer().has_value());
  CHECK(t.next_timer()->first == Timer::kLoss);
  t.stop(Timer::kLoss);
  CHECK(t.next() == kT0 + 25ms);
  t.set(Timer::kAck, util::kNever);  // kNever disarms
  CHECK_FALSE(t.armed(Timer::kAck));
  CHECK(t.next() == kT0 + 30s);
  t.clear();
  CHECK(t.next() == util::kNever);
}

TEST_CASE("timer table: take_expired fires a due timer once and leaves others") {
  util::TimerTable<Timer> t;
  t.set(Timer::kAck, kT0 + 10ms);
  t.set(Timer::kLoss, kT0 + 20ms);
  CHECK_FALSE(t.take_expired(Timer::kAck, kT0 + 9ms));
  CHECK(t.expired(Timer::kAck, kT0 + 10ms));
  CHECK(t.take_expired(Timer::kAck, kT0 + 10ms));
  CHECK_FALSE(t.take_expired(Timer::kAck, kT0 + 10ms));
  CHECK(t.get(Timer::kLoss) == kT0 + 20ms);
  CHECK(t.next() == kT0 + 20ms);
}
