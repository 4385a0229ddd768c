#include "path/candidate_validation.hpp"

#include <doctest/doctest.h>

#include "path/constants.hpp"
#include "test_time.hpp"

namespace path = punch::path;
namespace util = punch::util;
using namespace std::chrono_literals;
using S = path::CandidateState;

namespace {
using punch::testing::kT0;
}

TEST_CASE("candidate_validation: challenges at 100, 200, 400, 800 ms, then idle") {
  path::CandidateValidation v;
  CHECK(v.state() == S::kIdle);
  v.challenge_from(kT0);
  CHECK(v.state() == S::kChallenging);
  util::TimePoint now = kT0;
  for (const util::Duration gap : path::kChallengeGaps) {
    CHECK(v.next_challenge() == now);
    v.challenge_sent(now);
    now += gap;
  }
  CHECK(v.next_challenge() == now);
  v.challenge_sent(now);  // the fifth and last
  CHECK(v.state() == S::kIdle);
  CHECK(v.next_challenge() == util::kNever);
}

TEST_CASE("candidate_validation: an answer proves the path; a new round keeps the proof") {
  path::CandidateValidation v;
  v.await_peer();
  CHECK(v.awaiting_peer());
  CHECK(v.next_challenge() == util::kNever);
  v.challenge_from(kT0);  // the peer's ROUND came
  CHECK(v.answered(40ms, kT0 + 40ms));
  CHECK(v.state() == S::kValidated);
  CHECK(v.rtt() == 40ms);
  v.challenge_from(kT0 + 1s);  // a later round
  CHECK(v.state() == S::kValidatedChallenging);
  CHECK_FALSE(v.answered(80ms, kT0 + 2s));  // not the first answer
  CHECK(v.rtt() == 45ms);                   // smoothed: (7 x 40 + 80) / 8
  CHECK(v.validated_at() == kT0 + 2s);
  v.lost();
  CHECK(v.state() == S::kIdle);
  CHECK_FALSE(v.validated());
}

TEST_CASE("candidate_validation: a primed path answered early still waits for the peer") {
  path::CandidateValidation v;
  v.await_peer();
  CHECK(v.answered(10ms, kT0));
  CHECK(v.state() == S::kValidatedAwaitingPeer);
  v.stop();  // the peer never primed
  CHECK(v.state() == S::kValidated);
}

TEST_CASE("candidate_validation: the allowed transitions") {
  const S all[] = {S::kIdle,      S::kAwaitingPeer,          S::kChallenging,
                   S::kValidated, S::kValidatedAwaitingPeer, S::kValidatedChallenging};
  for (const S from : all) {
    // Staying put is always allowed.
    CHECK(path::allowed(from, from));
  }
  CHECK(path::allowed(S::kIdle, S::kChallenging));
  CHECK(path::allowed(S::kChallenging, S::kValidated));
  CHECK_FALSE(path::allowed(S::kChallenging, S::kValidatedChallenging));  // answers end challenges
  CHECK(path::allowed(S::kAwaitingPeer, S::kValidatedAwaitingPeer));
  CHECK(path::allowed(S::kValidatedChallenging, S::kChallenging));  // lost
  CHECK_FALSE(path::allowed(S::kValidatedChallenging, S::kIdle));   // lost keeps the activity
  CHECK(path::allowed(S::kValidated, S::kValidatedChallenging));
}
