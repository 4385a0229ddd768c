#include "path/candidate_validation.hpp"

#include <iterator>

#include "path/constants.hpp"
#include "util/assert.hpp"

namespace punch::path {
namespace {

bool proven(CandidateState s) {
  return s == CandidateState::kValidated || s == CandidateState::kValidatedAwaitingPeer ||
         s == CandidateState::kValidatedChallenging;
}

// The same activity with or without proof.
CandidateState with_proof(CandidateState s, bool proof) {
  switch (s) {
    case CandidateState::kIdle:
    case CandidateState::kValidated:
      return proof ? CandidateState::kValidated : CandidateState::kIdle;
    case CandidateState::kAwaitingPeer:
    case CandidateState::kValidatedAwaitingPeer:
      return proof ? CandidateState::kValidatedAwaitingPeer : CandidateState::kAwaitingPeer;
    case CandidateState::kChallenging:
    case CandidateState::kValidatedChallenging:
      return proof ? CandidateState::kValidatedChallenging : CandidateState::kChallenging;
  }
  return s;
}

}  // namespace

bool allowed(CandidateState from, CandidateState to) {
  // Activity (idle, awaiting the peer, challenging) may change freely within one
  // side; proof is gained only by an answer and lost only with the activity kept.
  if (proven(from) == proven(to)) return true;
  if (!proven(from)) {
    // An answer ends the challenges; a primed path stays primed for the peer's ROUND.
    return to == CandidateState::kValidated ||
           (from == CandidateState::kAwaitingPeer && to == CandidateState::kValidatedAwaitingPeer);
  }
  return with_proof(from, false) == to;
}

bool CandidateValidation::validated() const { return proven(state_); }

bool CandidateValidation::awaiting_peer() const {
  return state_ == CandidateState::kAwaitingPeer ||
         state_ == CandidateState::kValidatedAwaitingPeer;
}

bool CandidateValidation::challenging() const {
  return state_ == CandidateState::kChallenging || state_ == CandidateState::kValidatedChallenging;
}

void CandidateValidation::go(CandidateState to) {
  PUNCH_ASSERT(allowed(state_, to));
  state_ = to;
}

void CandidateValidation::await_peer() {
  attempts_ = 0;
  next_challenge_ = util::kNever;
  go(with_proof(CandidateState::kAwaitingPeer, validated()));
}

void CandidateValidation::challenge_from(util::TimePoint now) {
  attempts_ = 0;
  next_challenge_ = now;
  go(with_proof(CandidateState::kChallenging, validated()));
}

void CandidateValidation::challenge_sent(util::TimePoint now) {
  ++attempts_;
  if (attempts_ <= static_cast<int>(std::size(kChallengeGaps))) {
    next_challenge_ = now + kChallengeGaps[attempts_ - 1];
    return;
  }
  stop();
}

void CandidateValidation::stop() {
  next_challenge_ = util::kNever;
  go(with_proof(CandidateState::kIdle, validated()));
}

bool CandidateValidation::answered(util::Duration rtt, util::TimePoint now) {
  const bool fresh = !validated();
  validated_at_ = now;
  rtt_ = fresh ? rtt : (rtt_ * 7 + rtt) / 8;
  next_challenge_ = util::kNever;
  // A path still primed for the peer's ROUND stays so: the ROUND challenges it again.
  go(awaiting_peer() ? CandidateState::kValidatedAwaitingPeer : CandidateState::kValidated);
  return fresh;
}

void CandidateValidation::lost() { go(with_proof(state_, false)); }

}  // namespace punch::path
