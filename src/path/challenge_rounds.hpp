// The rounds of challenges to the peer's candidates (sans-I/O bookkeeping; the path
// manager sends): a round primes (TTL 2), tells the peer with ROUND, and challenges
// with full TTL once the peer's ROUND says it primed too; the first waits for the
// peer's mapping when ours is unpredictable (the hold); the connector keeps time for
// the rounds after a failure (1, 2, 4, 8 s, then 35 s), the listener joins them
// (docs/direct_path.md, "Challenges, and the two Linux traps").
#pragma once

#include <cstdint>
#include <utility>

#include "path/constants.hpp"
#include "util/time.hpp"
#include "util/timer_table.hpp"

namespace punch::path {

/// The timers of the rounds.
enum class RoundTimer {
  kHold,         ///< Stop waiting for the peer's mapping before the first round.
  kPeerPriming,  ///< First round: challenge even though the peer's ROUND never came.
  kPeerSilent,   ///< A round whose peer never primed gives up waiting (kRoundTimeout).
  kQuiet,        ///< Nothing left to send: the round ends once its answers had time.
  kNextRound,    ///< The connector's next round after a failure.
  kCount,
};

/// Round numbers, phases and timing; which candidates a round covers is the caller's.
class ChallengeRounds {
 public:
  /// The `initiator` (the connector) keeps time for the rounds after a failure.
  explicit ChallengeRounds(bool initiator);

  /// True while a round runs.
  bool active() const { return active_; }
  /// True once the peer primed for the running round (its ROUND came, or we joined it).
  bool peer_primed() const { return peer_primed_; }
  /// Our rounds so far (the number our ROUND carries).
  std::uint64_t number() const { return round_; }

  /// Holds the first round until the peer's mapping comes (at most kStrategyHold).
  void hold(util::TimePoint now);
  /// True while the first round is held.
  bool holding() const { return holding_; }
  /// Ends the hold (take_join() says whether a ROUND of the peer's came meanwhile).
  void end_hold();
  /// A ROUND of the peer's could not be joined now (held, or hopeless): remember it.
  void defer_join(bool peer_primed) { join_pending_ = join_pending_ || peer_primed; }
  /// Forgets a deferred join; true if there was one.
  bool take_join() { return std::exchange(join_pending_, false); }

  /// Any timer that started a round is spent (called whether or not one starts).
  void stop_next_round() { timers_.stop(RoundTimer::kNextRound); }
  /// Starts round number()+1 at `now`; `peer_primed` if it joins the peer's.
  void begin(util::TimePoint now, bool peer_primed);
  /// In the first round, challenges start by kPeerPrimingTimeout even without the
  /// peer's ROUND.
  void expect_peer_round(util::TimePoint now);
  /// The peer primed (its ROUND came, or it stayed away too long).
  void release();
  /// A ROUND numbered `round` came from the peer: true if it is new.
  bool on_peer_round(std::uint64_t round);
  /// Ends the running round.
  void end();
  /// Stops everything (the relay strategy): no round runs or is scheduled.
  void stop();
  /// After a failed round or a fallback: schedules the next (the connector only), kSlow-
  /// RoundInterval at least after a `birthday` round.
  void schedule_next(util::TimePoint now, bool birthday);
  /// A reason to look at once (new addresses, a path in use): quick rounds again.
  void reset_backoff() { backoff_ = kMinRoundBackoff; }

  /// Arms the end of a round that has nothing left to send, unless armed.
  void quiet(util::TimePoint now);
  /// The round sends again: it does not end yet.
  void busy() { timers_.stop(RoundTimer::kQuiet); }
  /// True if a quiet round's answers had their time at `now`.
  bool quiet_expired(util::TimePoint now) const { return timers_.expired(RoundTimer::kQuiet, now); }
  /// True if `timer` is due at `now` (disarming it).
  bool take_expired(RoundTimer timer, util::TimePoint now) {
    return timers_.take_expired(timer, now);
  }
  /// True once the peer had kRoundTimeout to prime for the running round.
  bool peer_silent(util::TimePoint now) const {
    return timers_.expired(RoundTimer::kPeerSilent, now);
  }
  /// When on_timeout() must next run; kPeerSilent counts only while `awaiting_peer`.
  util::TimePoint next_deadline(bool awaiting_peer) const;

 private:
  bool initiator_;
  bool active_ = false;
  bool holding_ = false;
  bool join_pending_ = false;  // the peer's ROUND came while we could not join
  bool peer_primed_ = false;
  std::uint64_t round_ = 0;       // our rounds so far
  std::uint64_t peer_round_ = 0;  // the peer's latest ROUND
  util::Duration backoff_;
  util::TimerTable<RoundTimer> timers_;
};

}  // namespace punch::path
