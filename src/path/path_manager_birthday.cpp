// The path manager's wiring of the birthday paradox (birthday_round.hpp): which
// addresses the hard side primes its sockets towards, which the guesser guesses at,
// and what a hit validates. Apart from path_manager.cpp to keep each file one part.
#include <algorithm>

#include "path/candidates.hpp"
#include "path/constants.hpp"
#include "path/path_manager.hpp"

namespace punch::path {

// Every extra socket but the one in use is closed at once, with the candidates on them.
void PathManager::prune_sockets() {
  birthday_.close_sockets(extra_socket_in_use());
  forget_closed_sockets();
}

// Nothing may refer to a closed socket: not a candidate, not a datagram still queued.
void PathManager::forget_closed_sockets() {
  const auto closed = [this](util::SocketId socket) {
    return socket != util::kMainSocket && !birthday_.owns(socket);
  };
  std::erase_if(remotes_, [&](const Remote& r) { return closed(r.socket); });
  std::erase_if(out_, [&](const PathTransmit& t) { return closed(t.socket); });
  std::erase_if(outstanding_, [&](const Outstanding& o) { return closed(o.socket); });
}

void PathManager::end_birthday() {
  birthday_.end_guessing();
  prune_sockets();
}

bool PathManager::hard_side() const {
  return strategy_ == Strategy::kBirthday && unpredictable(mappings_.local);
}

bool PathManager::guesser() const {
  return strategy_ == Strategy::kBirthday && !unpredictable(mappings_.local);
}

// Hard side: the round's fresh sockets are primed with low TTL towards the peer's
// public side, like the main socket's candidates: each creates a mapping in our NAT
// without reaching the peer's router (LAB.md trap 1).
void PathManager::open_birthday_sockets(util::TimePoint now) {
  std::vector<util::Address> targets;
  for (const Remote& r : remotes_) {
    if (r.socket != util::kMainSocket || preference_class(r.candidate) == 0) continue;
    if (std::find(targets.begin(), targets.end(), r.candidate.address) != targets.end()) continue;
    targets.push_back(r.candidate.address);
    if (targets.size() == kBirthdayMaxTargets) break;
  }
  if (targets.empty()) return;
  // A socket still carrying the session stays; every other is replaced.
  const std::optional<util::SocketId> keep = extra_socket_in_use();
  const std::size_t before = birthday_.socket_count();
  const std::vector<util::SocketId> fresh = birthday_.open_sockets(keep, now);
  forget_closed_sockets();
  const std::size_t open = birthday_.socket_count();
  stats_.sockets_opened += open - std::min(before, open);
  for (const util::SocketId socket : fresh) {
    for (const util::Address& to : targets) {
      wire::PathToken token{};
      rng_->fill(token);
      send_untracked_challenge(socket, to, token, kPrimeTtl);
      ++stats_.primes_sent;
    }
  }
}

// Guesser: guesses go to the hard side's public IP (from its reflexive candidate).
void PathManager::start_guessing(util::TimePoint now) {
  if (!guesser() || !rounds_.active() || direct_) return;
  for (const Remote& r : remotes_) {
    if (r.socket == util::kMainSocket && r.candidate.kind == wire::CandidateKind::kReflexive) {
      birthday_.start_guessing(r.candidate.address, now);
      return;
    }
  }
}

void PathManager::send_guesses(util::TimePoint now) {
  while (auto to = birthday_.next_guess(now)) {
    send_untracked_challenge(util::kMainSocket, *to, birthday_.token(), 0);
    ++stats_.guesses_sent;
  }
}

// An answer to one of this round's guesses: the port it came from leads to one of the
// hard side's sockets. Validated (the answer is authenticated and carries our token),
// with the time since that guess as its RTT.
bool PathManager::on_guess_answer(const wire::PathResponse& f, const util::Address& from,
                                  util::SocketId socket, util::TimePoint now) {
  const GuessAnswer answer =
      birthday_.on_answer(f.token, socket, !config_.relay_only && usable(from));
  if (answer == GuessAnswer::kNotAGuess) return false;
  if (answer == GuessAnswer::kIgnored) return true;
  ++stats_.guess_hits;
  Remote* r = find(from);
  if (r == nullptr) {
    learn_peer_reflexive(from, socket, now);
    r = find(from);
    if (r == nullptr) return true;  // no room for it
  }
  const auto rtt = birthday_.hit_rtt(from, now);
  birthday_.stop_guessing();
  validate(*r, rtt.value_or(kMinDeadTimeout), now, "peer-reflexive (guessed)");
  return true;
}

}  // namespace punch::path
