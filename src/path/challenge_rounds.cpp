#include "path/challenge_rounds.hpp"

#include <algorithm>

#include "path/constants.hpp"

namespace punch::path {

ChallengeRounds::ChallengeRounds(bool initiator)
    : initiator_(initiator), backoff_(kMinRoundBackoff) {}

void ChallengeRounds::hold(util::TimePoint now) {
  holding_ = true;
  timers_.set(RoundTimer::kHold, now + kStrategyHold);
}

void ChallengeRounds::end_hold() {
  holding_ = false;
  timers_.stop(RoundTimer::kHold);
}

void ChallengeRounds::begin(util::TimePoint now, bool peer_primed) {
  ++round_;
  active_ = true;
  peer_primed_ = peer_primed;
  timers_.set(RoundTimer::kPeerSilent, now + kRoundTimeout);
  timers_.stop(RoundTimer::kQuiet);
}

void ChallengeRounds::expect_peer_round(util::TimePoint now) {
  timers_.set(RoundTimer::kPeerPriming, now + kPeerPrimingTimeout);
}

void ChallengeRounds::release() {
  peer_primed_ = true;
  timers_.stop(RoundTimer::kPeerPriming);
}

bool ChallengeRounds::on_peer_round(std::uint64_t round) {
  if (round <= peer_round_) return false;  // old or duplicate
  peer_round_ = round;
  return true;
}

void ChallengeRounds::end() {
  active_ = false;
  timers_.stop(RoundTimer::kQuiet);
  timers_.stop(RoundTimer::kPeerSilent);
}

void ChallengeRounds::stop() {
  end();
  timers_.stop(RoundTimer::kNextRound);
  timers_.stop(RoundTimer::kPeerPriming);
  join_pending_ = false;
}

void ChallengeRounds::schedule_next(util::TimePoint now, bool birthday) {
  // Only the initiator keeps time; the other end joins its rounds, so the two never
  // challenge out of step, and both stay quiet between slow rounds.
  if (!initiator_ || timers_.armed(RoundTimer::kNextRound)) return;
  // A birthday round spent its whole guess budget: waiting the slow interval lets the
  // entries its misses left in the hard side's router expire first (docs/birthday.md).
  if (birthday) backoff_ = std::max(backoff_, kSlowRoundInterval);
  timers_.set(RoundTimer::kNextRound, now + backoff_);
  backoff_ = backoff_ < kMaxQuickRoundBackoff ? backoff_ * 2 : kSlowRoundInterval;
}

void ChallengeRounds::quiet(util::TimePoint now) {
  // The last challenges get their answer time before the round counts as over.
  if (!timers_.armed(RoundTimer::kQuiet)) timers_.set(RoundTimer::kQuiet, now + kMinDeadTimeout);
}

util::TimePoint ChallengeRounds::next_deadline(bool awaiting_peer) const {
  util::TimePoint t = util::kNever;
  for (std::size_t i = 0; i < util::TimerTable<RoundTimer>::kSize; ++i) {
    const auto timer = static_cast<RoundTimer>(i);
    if (timer == RoundTimer::kPeerSilent && !awaiting_peer) continue;
    t = std::min(t, timers_.get(timer));
  }
  return t;
}

}  // namespace punch::path
