#include "path/challenge_rounds.hpp"

#include <doctest/doctest.h>

#include "path/constants.hpp"
#include "test_time.hpp"

namespace path = punch::path;
namespace util = punch::util;
using namespace std::chrono_literals;
using T = path::RoundTimer;

namespace {
using punch::testing::kT0;
}

TEST_CASE("challenge_rounds: the connector backs off 1, 2, 4, 8 s, then 35 s") {
  path::ChallengeRounds r(true);
  util::TimePoint now = kT0;
  for (const auto expected : {1s, 2s, 4s, 8s, 35s, 35s}) {
    r.begin(now, false);
    r.end();
    r.schedule_next(now, false);
    CHECK(r.next_deadline(false) == now + expected);
    now += expected;
    CHECK(r.take_expired(T::kNextRound, now));
  }
  r.reset_backoff();
  r.schedule_next(now, true);  // a birthday round waits the slow interval at least
  CHECK(r.next_deadline(false) == now + path::kSlowRoundInterval);
}

TEST_CASE("challenge_rounds: the listener keeps no time") {
  path::ChallengeRounds r(false);
  r.begin(kT0, false);
  r.end();
  r.schedule_next(kT0, false);
  CHECK(r.next_deadline(false) == util::kNever);
}

TEST_CASE("challenge_rounds: hold, deferred join, priming and quiet timers") {
  path::ChallengeRounds r(true);
  r.hold(kT0);
  CHECK(r.holding());
  CHECK(r.next_deadline(false) == kT0 + path::kStrategyHold);
  r.defer_join(true);
  r.end_hold();
  CHECK_FALSE(r.holding());
  CHECK(r.take_join());
  CHECK_FALSE(r.take_join());
  r.begin(kT0, false);
  CHECK(r.number() == 1);
  r.expect_peer_round(kT0);
  CHECK(r.next_deadline(false) == kT0 + path::kPeerPrimingTimeout);
  r.release();
  CHECK(r.peer_primed());
  // The silent-peer timer counts only while a candidate waits for the peer.
  CHECK(r.next_deadline(false) == util::kNever);
  CHECK(r.next_deadline(true) == kT0 + path::kRoundTimeout);
  r.quiet(kT0 + 1s);
  r.quiet(kT0 + 2s);  // armed once
  CHECK(r.next_deadline(false) == kT0 + 1s + path::kMinDeadTimeout);
  r.busy();
  CHECK(r.next_deadline(false) == util::kNever);
  CHECK(r.on_peer_round(4));
  CHECK_FALSE(r.on_peer_round(4));
  CHECK_FALSE(r.on_peer_round(3));
  r.stop();
  CHECK_FALSE(r.active());
}
