#include "rendezvous/rate_limiter.hpp"

#include <doctest/doctest.h>

#include "rendezvous/constants.hpp"
#include "test_time.hpp"

namespace rv = punch::rendezvous;
namespace util = punch::util;
using namespace std::chrono_literals;

namespace {

using punch::testing::kT0;
const util::Address kSourceA = util::Address::v4(192, 0, 2, 1, 1000);
const util::Address kSourceB = util::Address::v4(192, 0, 2, 2, 1000);
const util::Address kSourceC = util::Address::v4(192, 0, 2, 3, 1000);

// How many messages `from` gets through back to back at `now`.
int drain(rv::RateLimiter& limiter, const util::Address& from, util::TimePoint now) {
  int n = 0;
  while (limiter.allow(from, now)) {
    if (++n > 10'000) break;
  }
  return n;
}

}  // namespace

TEST_CASE("a fresh source gets exactly its burst, then nothing") {
  rv::RateLimiter limiter(10, 5, 100);
  CHECK(drain(limiter, kSourceA, kT0) == 5);
  CHECK_FALSE(limiter.allow(kSourceA, kT0));
  CHECK(limiter.sources() == 1);
}

TEST_CASE("after the burst a source gets one message per interval") {
  rv::RateLimiter limiter(10, 5, 100);  // One token per 100 ms.
  REQUIRE(drain(limiter, kSourceA, kT0) == 5);
  CHECK_FALSE(limiter.allow(kSourceA, kT0 + 99ms));
  CHECK(limiter.allow(kSourceA, kT0 + 100ms));
  CHECK_FALSE(limiter.allow(kSourceA, kT0 + 100ms));
  // Over one second exactly the rate gets through.
  int allowed = 0;
  for (auto t = kT0 + 101ms; t <= kT0 + 1100ms; t += 1ms)
    allowed += limiter.allow(kSourceA, t) ? 1 : 0;
  CHECK(allowed == 10);
}

TEST_CASE("refused messages do not use up tokens") {
  rv::RateLimiter limiter(10, 5, 100);
  REQUIRE(drain(limiter, kSourceA, kT0) == 5);
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(limiter.allow(kSourceA, kT0 + 50ms));
  CHECK(limiter.allow(kSourceA, kT0 + 100ms));
}

TEST_CASE("an idle source refills to the burst and no further") {
  rv::RateLimiter limiter(10, 5, 100);
  REQUIRE(drain(limiter, kSourceA, kT0) == 5);
  CHECK(drain(limiter, kSourceA, kT0 + 300ms) == 3);
  CHECK(drain(limiter, kSourceA, kT0 + 1h) == 5);
}

TEST_CASE("sources have separate buckets") {
  rv::RateLimiter limiter(10, 5, 100);
  REQUIRE(drain(limiter, kSourceA, kT0) == 5);
  CHECK(drain(limiter, kSourceB, kT0) == 5);
  CHECK(drain(limiter, util::Address::v4(192, 0, 2, 1, 1001), kT0) == 5);  // Port counts.
  CHECK(limiter.sources() == 3);
}

TEST_CASE("a burst of one allows one message per interval") {
  rv::RateLimiter limiter(4, 1, 100);  // One token per 250 ms.
  CHECK(limiter.allow(kSourceA, kT0));
  CHECK_FALSE(limiter.allow(kSourceA, kT0));
  CHECK_FALSE(limiter.allow(kSourceA, kT0 + 249ms));
  CHECK(limiter.allow(kSourceA, kT0 + 250ms));
  CHECK_FALSE(limiter.allow(kSourceA, kT0 + 250ms));
  CHECK(drain(limiter, kSourceA, kT0 + 1h) == 1);
}

TEST_CASE("the server's control limits allow the documented burst") {
  rv::RateLimiter limiter(rv::kControlRatePerSecond, rv::kControlBurst, rv::kMaxRateLimitedSources);
  CHECK(drain(limiter, kSourceA, kT0) == static_cast<int>(rv::kControlBurst));
  CHECK(drain(limiter, kSourceA, kT0 + 1s) == static_cast<int>(rv::kControlRatePerSecond));
}

TEST_CASE("a full table refuses new sources while tracked ones are busy") {
  rv::RateLimiter limiter(10, 5, 2);
  CHECK(limiter.allow(kSourceA, kT0));
  CHECK(limiter.allow(kSourceB, kT0));
  CHECK(limiter.sources() == 2);
  CHECK_FALSE(limiter.allow(kSourceC, kT0));
  CHECK(limiter.sources() == 2);
  // Known sources keep their own budget.
  CHECK(limiter.allow(kSourceA, kT0));
  CHECK(limiter.allow(kSourceB, kT0));
}

TEST_CASE("idle sources are swept to make room, at most once per sweep interval") {
  rv::RateLimiter limiter(10, 5, 2);
  REQUIRE(limiter.allow(kSourceA, kT0));
  REQUIRE(limiter.allow(kSourceB, kT0));
  // Both have full buckets again at 100 ms; the refusal at 0 swept nothing and
  // holds off the next sweep for a second.
  CHECK_FALSE(limiter.allow(kSourceC, kT0));
  CHECK_FALSE(limiter.allow(kSourceC, kT0 + 500ms));
  CHECK(limiter.sources() == 2);
  CHECK(limiter.allow(kSourceC, kT0 + rv::kRateSweepInterval));
  CHECK(limiter.sources() == 1);
  // A forgotten source starts over with a full burst.
  CHECK(drain(limiter, kSourceA, kT0 + rv::kRateSweepInterval) == 5);
}

TEST_CASE("a sweep keeps sources whose bucket is not yet full") {
  rv::RateLimiter limiter(10, 5, 2);
  REQUIRE(drain(limiter, kSourceA, kT0) == 5);  // Full again only at 500 ms.
  REQUIRE(limiter.allow(kSourceB, kT0));        // Full again at 100 ms.
  CHECK(limiter.allow(kSourceC, kT0 + 200ms));  // First sweep: B goes, A stays.
  CHECK(limiter.sources() == 2);
  // A kept its state: 200 ms after its burst it has won back two tokens, not five.
  CHECK(drain(limiter, kSourceA, kT0 + 200ms) == 2);
}

TEST_CASE("rate limiter: an interval longer than a second gives less than one per second") {
  rv::RateLimiter limiter(5s, 2, 100);
  CHECK(drain(limiter, kSourceA, kT0) == 2);
  CHECK_FALSE(limiter.allow(kSourceA, kT0 + 4999ms));
  CHECK(limiter.allow(kSourceA, kT0 + 5s));
  CHECK_FALSE(limiter.allow(kSourceA, kT0 + 5s));
}

TEST_CASE("rate limiter: a refund gives back the token just taken, never more than the burst") {
  rv::RateLimiter limiter(10, 5, 100);
  REQUIRE(drain(limiter, kSourceA, kT0) == 5);
  limiter.refund(kSourceA);
  CHECK(limiter.allow(kSourceA, kT0));
  CHECK_FALSE(limiter.allow(kSourceA, kT0));
  // Charge-then-refund, as for signature checks that hold, costs nothing.
  rv::RateLimiter fresh(10, 5, 100);
  for (int i = 0; i < 100; ++i) {
    REQUIRE(fresh.allow(kSourceB, kT0));
    fresh.refund(kSourceB);
  }
  CHECK(drain(fresh, kSourceB, kT0) == 5);
  // Refunding an unknown source does nothing.
  fresh.refund(kSourceC);
  CHECK(fresh.sources() == 1);
}
