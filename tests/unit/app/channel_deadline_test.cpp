#include "app/channel_deadline.hpp"

#include <doctest/doctest.h>

#include <chrono>

#include "forward/constants.hpp"

namespace punch::app {
namespace {

using namespace std::chrono_literals;
using Expiry = ChannelDeadline::Expiry;

const util::TimePoint kT0 = util::TimePoint{} + std::chrono::hours(1);

}  // namespace

TEST_CASE("channel deadline: without --idle-timeout an idle connection stays forever") {
  ChannelDeadline d(util::Duration::zero(), kT0);
  CHECK(d.deadline() == util::kNever);
  CHECK(d.check(kT0 + std::chrono::hours(24 * 365)) == Expiry::kNone);
}

TEST_CASE("channel deadline: the idle timeout counts from the last byte either way") {
  ChannelDeadline d(5min, kT0);
  CHECK(d.deadline() == kT0 + 5min);
  CHECK(d.check(kT0 + 5min - 1s) == Expiry::kNone);
  d.on_activity(kT0 + 4min);
  CHECK(d.deadline() == kT0 + 9min);
  CHECK(d.check(kT0 + 6min) == Expiry::kNone);
  CHECK(d.check(kT0 + 9min) == Expiry::kIdle);
  // Stdio and -R control streams are exempt.
  d.exempt_from_idle();
  CHECK(d.deadline() == util::kNever);
  CHECK(d.check(kT0 + 9min) == Expiry::kNone);
}

TEST_CASE("channel deadline: a wait for stream credit ends in a refusal after 10 s") {
  // Issue 17: connections beyond the 1,024-stream credit waited forever.
  ChannelDeadline d(util::Duration::zero(), kT0);
  d.on_credit_wait(kT0 + 1s);
  d.on_credit_wait(kT0 + 5s);  // still the same wait: it started at the first call
  CHECK(d.waiting_for_credit());
  CHECK(d.deadline() == kT0 + 1s + forward::kStreamCreditWait);
  CHECK(d.check(kT0 + 1s + forward::kStreamCreditWait - 1ms) == Expiry::kNone);
  CHECK(d.check(kT0 + 1s + forward::kStreamCreditWait) == Expiry::kNoStreamCredit);
  d.on_stream_opened();
  CHECK_FALSE(d.waiting_for_credit());
  CHECK(d.deadline() == util::kNever);
  CHECK(d.check(kT0 + std::chrono::hours(1)) == Expiry::kNone);
}

TEST_CASE("channel deadline: a connection being given up has no deadline left") {
  ChannelDeadline d(3s, kT0);
  d.on_credit_wait(kT0);
  d.stop();
  CHECK(d.deadline() == util::kNever);
  CHECK(d.check(kT0 + std::chrono::hours(1)) == Expiry::kNone);
}

TEST_CASE("channel deadline: the earlier of the two deadlines comes first") {
  ChannelDeadline d(3s, kT0);
  d.on_credit_wait(kT0);
  CHECK(d.deadline() == kT0 + 3s);
  CHECK(d.check(kT0 + 3s) == Expiry::kIdle);
  CHECK(d.check(kT0 + forward::kStreamCreditWait) == Expiry::kNoStreamCredit);
}

}  // namespace punch::app
