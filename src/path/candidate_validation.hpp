// Whether one remote candidate's path is proven, and where its challenges stand
// (sans-I/O): one explicit state instead of loose flags. A path is validated when
// an answer to our challenge came back over it (docs/direct_path.md, "Challenges");
// a new round challenges a validated path again, for a fresh RTT, without making it
// unproven; only the liveness rule (lost()) does that.
#pragma once

#include <cstdint>

#include "util/time.hpp"

namespace punch::path {

/// Where one candidate stands. The three kValidated* states mirror the three others
/// for a path already proven.
enum class CandidateState : std::uint8_t {
  kIdle,                   ///< Unproven; no challenge scheduled (new, or this round's used up).
  kAwaitingPeer,           ///< Unproven; primed, full-TTL challenges wait for the peer's ROUND.
  kChallenging,            ///< Unproven; challenges scheduled at next_challenge().
  kValidated,              ///< Proven; no challenge scheduled.
  kValidatedAwaitingPeer,  ///< Proven before; a new round primed it and waits for the peer.
  kValidatedChallenging,   ///< Proven before; a new round challenges it again.
};

/// True if a candidate may go from `from` to `to` (the methods below make no other
/// move): a proven state is left only for its unproven twin (lost()), and an unproven
/// one becomes proven only by an answer, to kValidated (or kValidatedAwaitingPeer from
/// kAwaitingPeer: the round still waits for the peer's ROUND).
bool allowed(CandidateState from, CandidateState to);

/// The validation of one candidate path.
class CandidateValidation {
 public:
  /// The current state.
  CandidateState state() const { return state_; }
  /// True once an answer proved the path (and no liveness failure unproved it).
  bool validated() const;
  /// True while full-TTL challenges wait for the peer's ROUND.
  bool awaiting_peer() const;
  /// True while challenges are scheduled.
  bool challenging() const;
  /// When the next challenge is due (kNever unless challenging()).
  util::TimePoint next_challenge() const { return next_challenge_; }
  /// When the latest answer came (the epoch before the first).
  util::TimePoint validated_at() const { return validated_at_; }
  /// The smoothed RTT of the answers.
  util::Duration rtt() const { return rtt_; }

  /// A round primed it: full-TTL challenges wait for the peer (restarts the count).
  void await_peer();
  /// Challenges start at `now` (restarts the count: 100, 200, 400, 800 ms gaps).
  void challenge_from(util::TimePoint now);
  /// A challenge left at `now`: the next is scheduled, or none after the last gap.
  void challenge_sent(util::TimePoint now);
  /// No more challenges this round (the peer never primed, or challenging stopped).
  void stop();
  /// An answer after `rtt` came at `now`; true if it is the first (it proves the path).
  bool answered(util::Duration rtt, util::TimePoint now);
  /// The path stopped answering while in use: it is unproven again.
  void lost();

 private:
  void go(CandidateState to);

  CandidateState state_ = CandidateState::kIdle;
  util::TimePoint next_challenge_ = util::kNever;
  int attempts_ = 0;  // challenges sent since challenge_from()
  util::TimePoint validated_at_{};
  util::Duration rtt_{};
};

}  // namespace punch::path
