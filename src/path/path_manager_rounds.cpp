// The path manager's driving of the challenge rounds (challenge_rounds.hpp keeps
// their numbers and timers): what a round primes and challenges, how the peer's
// ROUND releases or joins it, and when it ends. Apart from path_manager.cpp to keep
// each file one part.
#include <algorithm>

#include "path/candidates.hpp"
#include "path/constants.hpp"
#include "path/path_manager.hpp"

namespace punch::path {

void PathManager::end_hold(util::TimePoint now) {
  rounds_.end_hold();
  const bool join = rounds_.take_join();
  if (rounds_.active()) return;
  rounds_.reset_backoff();
  start_round(now, join);
  if (rounds_.active() && !join) rounds_.expect_peer_round(now);
}

// A round: prime every candidate behind a NAT (TTL 2), tell the peer with ROUND
// (through the relay, so it arrives after the priming left), and send full-TTL
// challenges to those candidates only once the peer's ROUND says it primed too.
// The peer primes in turn and answers, so both routers hold their outgoing
// mappings before either side's challenges reach them.
void PathManager::start_round(util::TimePoint now, bool peer_primed) {
  rounds_.stop_next_round();
  if (config_.relay_only || peer_relay_only_) return;
  if (strategy_ == Strategy::kRelay || rounds_.holding()) {
    // Hopeless (no priming, no challenges), or waiting for the peer's mapping. A ROUND
    // of the peer's is joined if that changes: its mapping news may trail its ROUND.
    rounds_.defer_join(peer_primed);
    return;
  }
  // Strategy::kBirthday challenges the candidates as kDirect does (against an open
  // peer that is enough: the hard side's port is learnt from its packets), and adds the
  // birthday paradox: the hard side opens its sockets and primes them before its
  // ROUND leaves, the other side guesses once that ROUND says they are primed.
  ++stats_.rounds;
  rounds_.begin(now, peer_primed);
  birthday_.new_round(peer_primed);
  if (hard_side()) open_birthday_sockets(now);
  std::vector<wire::Candidate> listed;
  for (Remote& r : remotes_) {
    if (r.socket != util::kMainSocket) continue;  // a previous round's socket
    listed.push_back(r.candidate);
    prime_and_challenge(r, now);
  }
  send_round(peer_primed, now);
  if (peer_primed) start_guessing(now);
  emit({PathEvent::Kind::kChallengeRound, {}, false, {}, describe(listed)});
}

void PathManager::send_round(bool answer, util::TimePoint now) {
  util::Bytes frames;
  wire::encode_path_frame(wire::PathRound{rounds_.number(), answer, birthday_.socket_count()},
                          frames);
  queue(util::kMainSocket, relay_, std::move(frames), 0);
  liveness_.on_relay_sent(now);
}

void PathManager::prime_and_challenge(Remote& r, util::TimePoint now) {
  if (preference_class(r.candidate) == 0) {
    r.validation.challenge_from(now);  // a host on a LAN: no NAT in between to prime
    return;
  }
  for (int i = 0; i < kPrimeCount; ++i)
    send_challenge(r.socket, r.candidate.address, now, kPrimeTtl);
  stats_.primes_sent += kPrimeCount;
  if (rounds_.peer_primed()) {
    r.validation.challenge_from(now);
  } else {
    r.validation.await_peer();
  }
}

void PathManager::release(util::TimePoint now, bool by_peer) {
  rounds_.release();
  // Guesses wait for the hard side's word that its sockets are primed: before that
  // they could only miss.
  if (by_peer) start_guessing(now);
  for (Remote& r : remotes_) {
    if (r.validation.awaiting_peer()) r.validation.challenge_from(now);
  }
}

void PathManager::on_round(const wire::PathRound& f, util::TimePoint now) {
  if (!rounds_.on_peer_round(f.round)) return;  // old or duplicate
  birthday_.on_peer_round(f.sockets);
  if (config_.relay_only || peer_relay_only_) return;
  if (!rounds_.active()) {
    // An answer to a round of ours that is over says nothing new, except to a guesser:
    // the hard side may have primed late (it waits for our mapping first).
    if (f.answer && !guesser()) return;
    // Joins the peer's round: primes, answers, and challenges at once (the peer primed).
    start_round(now, true);
    return;
  }
  // Our ROUND, sent after our priming, reaches the peer too (and releases it, or
  // makes it join): no answer needed. Candidates whose challenges were used up in a
  // long-running round get another go, since the peer just primed again.
  release(now, true);
  for (Remote& r : remotes_) {
    if (!r.validation.validated() && !r.validation.challenging()) r.validation.challenge_from(now);
  }
}

// True while the round has something left to send or to wait for.
bool PathManager::busy() const {
  return birthday_.busy() || std::any_of(remotes_.begin(), remotes_.end(), [](const Remote& r) {
           return r.validation.challenging() || r.validation.awaiting_peer();
         });
}

bool PathManager::awaiting_peer() const {
  return std::any_of(remotes_.begin(), remotes_.end(),
                     [](const Remote& r) { return r.validation.awaiting_peer(); });
}

// A round with nothing left to send ends once its last challenges had their answer
// time; armed as soon as that is so (after any input or timeout), and disarmed when
// the round sends again.
void PathManager::settle(util::TimePoint now) {
  if (!started_ || !rounds_.active()) return;
  if (busy()) {
    rounds_.busy();
  } else {
    rounds_.quiet(now);
  }
}

void PathManager::end_round_if_done(util::TimePoint now) {
  if (!rounds_.active()) return;
  if (rounds_.peer_silent(now)) {
    // The peer never sent its ROUND: no full-TTL challenges went to its public side.
    for (Remote& r : remotes_) {
      if (r.validation.awaiting_peer()) r.validation.stop();
    }
  }
  if (birthday_.take_sockets_expired(now)) {
    // Hard side: the peer's guesses are over; a socket carrying the session stays.
    prune_sockets();
  }
  settle(now);
  if (!rounds_.quiet_expired(now)) return;
  rounds_.end();
  if (!direct_) schedule_next_round(now);
}

void PathManager::run_challenges(util::TimePoint now) {
  for (Remote& r : remotes_) {
    if (r.validation.next_challenge() > now) continue;
    send_challenge(r.socket, r.candidate.address, now, 0);
    r.validation.challenge_sent(now);
  }
}

}  // namespace punch::path
