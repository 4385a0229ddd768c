#include "path/birthday_round.hpp"

#include <doctest/doctest.h>

#include "crypto/random.hpp"
#include "path/constants.hpp"
#include "test_time.hpp"

namespace path = punch::path;
namespace util = punch::util;
namespace wire = punch::wire;
using namespace std::chrono_literals;

namespace {
using punch::testing::kT0;
}

TEST_CASE("birthday_round: guesses wait for the peer's primed sockets, one hit per round") {
  punch::crypto::SeededRandom rng(7);
  path::BirthdayConfig config;
  config.guesses = 10;
  path::BirthdayRound b(config, rng, nullptr, nullptr);
  const util::Address target = *util::Address::parse("198.51.100.7:4000");
  b.new_round(false);
  CHECK_FALSE(b.start_guessing(target, kT0));  // the peer primed nothing yet
  b.on_peer_round(256);
  REQUIRE(b.start_guessing(target, kT0));
  CHECK_FALSE(b.start_guessing(target, kT0));  // once per round
  CHECK(b.busy());
  const auto guess = b.next_guess(kT0);
  REQUIRE(guess);
  CHECK(guess->ip == target.ip);
  const wire::PathToken token = b.token();
  CHECK(b.on_answer(wire::PathToken{}, util::kMainSocket, true) == path::GuessAnswer::kNotAGuess);
  CHECK(b.on_answer(token, util::kMainSocket, false) == path::GuessAnswer::kIgnored);
  CHECK(b.on_answer(token, util::kMainSocket, true) == path::GuessAnswer::kHit);
  CHECK(b.on_answer(token, util::kMainSocket, true) == path::GuessAnswer::kIgnored);
  CHECK(b.hit_rtt(*guess, kT0 + 30ms) == 30ms);
  b.end_guessing();
  CHECK_FALSE(b.busy());
  // A round that does not join the peer's forgets its sockets: no guesses.
  b.new_round(false);
  CHECK_FALSE(b.start_guessing(target, kT0 + 1s));
}

TEST_CASE("birthday_round: without a pool the hard side opens nothing but still waits") {
  punch::crypto::SeededRandom rng(7);
  path::BirthdayConfig config;
  path::BirthdayRound b(config, rng, nullptr, nullptr);
  CHECK(b.open_sockets(std::nullopt, kT0).empty());
  CHECK(b.busy());  // the peer's guesses may still come
  const util::TimePoint end = b.next_deadline();
  CHECK(end > kT0 + path::kChallengeAnswerTimeout);
  CHECK_FALSE(b.take_sockets_expired(end - 1ms));
  CHECK(b.take_sockets_expired(end));
  CHECK_FALSE(b.busy());
}
