#include "path/path_manager.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

#include "path/constants.hpp"

namespace punch::path {
namespace {

// CANDIDATES carries path::Mapping as its wire code: the two enums must agree.
static_assert(static_cast<int>(Mapping::kUnknown) == static_cast<int>(wire::MappingCode::kUnknown));
static_assert(static_cast<int>(Mapping::kNone) == static_cast<int>(wire::MappingCode::kNone));
static_assert(static_cast<int>(Mapping::kEndpointIndependent) ==
              static_cast<int>(wire::MappingCode::kEndpointIndependent));
static_assert(static_cast<int>(Mapping::kEndpointDependent) ==
              static_cast<int>(wire::MappingCode::kEndpointDependent));
static_assert(static_cast<int>(Mapping::kAddressVaries) ==
              static_cast<int>(wire::MappingCode::kAddressVaries));

// Host candidates are LAN paths: preferred over anything through a NAT's public side.
int preference_class(const wire::Candidate& c) {
  return c.kind == wire::CandidateKind::kHost ? 0 : 1;
}

const char* kind_name(wire::CandidateKind kind) {
  switch (kind) {
    case wire::CandidateKind::kHost:
      return "host";
    case wire::CandidateKind::kReflexive:
      return "reflexive";
    case wire::CandidateKind::kPeerReflexive:
      return "peer-reflexive";
  }
  return "?";
}

std::string describe(const std::vector<wire::Candidate>& list) {
  std::string s;
  for (const wire::Candidate& c : list) {
    if (!s.empty()) s += ", ";
    s += c.address.to_string() + " (" + kind_name(c.kind) + ")";
  }
  return s.empty() ? "none" : s;
}

double ratio_of(util::Duration a, util::Duration b) {
  return b.count() > 0 ? static_cast<double>(a.count()) / static_cast<double>(b.count()) : 0.0;
}

}  // namespace

PathManager::PathManager(util::Address relay, const PathConfig& config, bool initiator,
                         crypto::RandomSource& rng, util::SocketPool* pool, ProbeBudget* budget)
    : relay_(relay),
      config_(config),
      initiator_(initiator),
      rng_(&rng),
      current_(relay),
      backoff_(kMinRoundBackoff) {
  if (budget == nullptr) {
    own_budget_ = std::make_unique<ProbeBudget>(config.birthday, rng);
    budget = own_budget_.get();
  }
  birthday_ = std::make_unique<BirthdayProber>(config.birthday, pool, *budget, rng);
}

bool PathManager::usable(const util::Address& a) const {
  return a.valid() && a.family == relay_.family && a != relay_ && a.port != 0;
}

void PathManager::start(util::TimePoint now) {
  if (started_) return;
  started_ = true;
  candidates_next_ = now;
  candidates_gap_ = kCandidatesResend;
  decide(now);
  if (unpredictable(local_mapping_) && !peer_mapping_known_ && !config_.relay_only) {
    // Our port is unpredictable: whether probing can work at all depends on the peer's
    // mapping, so the first round waits for its CANDIDATES (bounded) instead of
    // priming towards a peer that may turn out hopeless.
    holding_ = true;
    hold_until_ = now + kStrategyHold;
    return;
  }
  start_round(now, false);
  // A lost ROUND must not cost the first round: probe anyway after a while.
  if (round_active_) peer_priming_deadline_ = now + kPeerPrimingTimeout;
}

void PathManager::end_hold(util::TimePoint now) {
  holding_ = false;
  hold_until_ = util::kNever;
  const bool join = std::exchange(join_pending_, false);
  if (round_active_) return;
  backoff_ = kMinRoundBackoff;
  start_round(now, join);
  if (round_active_ && !join) peer_priming_deadline_ = now + kPeerPrimingTimeout;
}

void PathManager::set_local_mapping(Mapping mapping, util::TimePoint now) {
  if (mapping == local_mapping_) return;
  local_mapping_ = mapping;
  // The peer's strategy depends on it: a new list version, resent until acknowledged.
  ++local_seq_;
  if (!started_) return;
  candidates_next_ = now;
  candidates_gap_ = kCandidatesResend;
  decide(now);
}

// Both ends run the same table on the same two mappings, so they agree once each has
// the other's CANDIDATES; the event is only written from then on.
void PathManager::decide(util::TimePoint now) {
  if (!started_) return;
  const Strategy previous = strategy_;
  strategy_ = choose_strategy(local_mapping_, peer_mapping_);
  if (!peer_mapping_known_) return;
  if (strategy_announced_ && strategy_ == previous && announced_local_ == local_mapping_ &&
      announced_peer_ == peer_mapping_)
    return;
  strategy_announced_ = true;
  announced_local_ = local_mapping_;
  announced_peer_ = peer_mapping_;
  PathEvent e{PathEvent::Kind::kStrategy, {}, direct_, {}, strategy_token(strategy_)};
  e.strategy = strategy_;
  e.local_mapping = local_mapping_;
  e.peer_mapping = peer_mapping_;
  emit(std::move(e));
  if (strategy_ == Strategy::kRelay) {
    stop_probing();
  } else if (strategy_ == Strategy::kBirthday && round_active_) {
    // The hard side's ROUND may have come before its mapping did.
    start_guessing(now);
  } else if (previous == Strategy::kRelay && !direct_ && !round_active_ && !holding_) {
    // No longer hopeless (a mapping changed): look for a path at once.
    backoff_ = kMinRoundBackoff;
    start_round(now, std::exchange(join_pending_, false));
  }
}

// Relay strategy: nothing goes to the peer's addresses any more. A direct path already
// in use stays (it works, whatever the table says) with its keepalives.
void PathManager::stop_probing() {
  end_birthday();
  round_active_ = false;
  round_quiet_at_ = util::kNever;
  next_round_ = util::kNever;
  peer_priming_deadline_ = util::kNever;
  join_pending_ = false;
  for (Remote& r : remotes_) {
    r.next_probe = util::kNever;
    r.awaiting_peer_priming = false;
  }
}

void PathManager::set_local_candidates(std::vector<wire::Candidate> candidates,
                                       util::TimePoint now) {
  if (config_.relay_only) candidates.clear();
  std::erase_if(candidates, [this](const wire::Candidate& c) { return !usable(c.address); });
  if (candidates.size() > wire::kMaxCandidates) candidates.resize(wire::kMaxCandidates);
  if (candidates == local_) return;
  local_ = std::move(candidates);
  ++local_seq_;
  if (!started_) return;
  candidates_next_ = now;
  candidates_gap_ = kCandidatesResend;
  // Our addresses changed: the peer will probe the new ones, and a path that failed
  // before may work now, so probe at once instead of waiting out the backoff.
  backoff_ = kMinRoundBackoff;
  if (!round_active_) start_round(now, false);
}

void PathManager::add_remote_candidate(const wire::Candidate& candidate, util::TimePoint now) {
  if (config_.relay_only || peer_relay_only_ || !usable(candidate.address)) return;
  if (find(candidate.address) || remotes_.size() >= kMaxRemoteCandidates) return;
  Remote& r = add_remote(candidate);
  if (started_ && round_active_) prime_and_probe(r, now);
}

PathManager::Remote* PathManager::find(const util::Address& address, util::SocketId socket) {
  for (Remote& r : remotes_) {
    if (r.candidate.address == address && r.socket == socket) return &r;
  }
  return nullptr;
}

PathManager::Remote& PathManager::add_remote(const wire::Candidate& candidate,
                                             util::SocketId socket) {
  remotes_.push_back(Remote{candidate, socket});
  return remotes_.back();
}

// A round: prime every candidate behind a NAT (TTL 2), tell the peer with ROUND
// (through the relay, so it arrives after the priming left), and send full-TTL
// challenges to those candidates only once the peer's ROUND says it primed too.
// The peer primes in turn and answers, so both routers hold their outgoing
// mappings before either side's probes reach them.
void PathManager::start_round(util::TimePoint now, bool peer_primed) {
  next_round_ = util::kNever;
  if (config_.relay_only || peer_relay_only_) return;
  if (strategy_ == Strategy::kRelay || holding_) {
    // Hopeless (no priming, no probes), or waiting for the peer's mapping. A ROUND of
    // the peer's is joined if that changes: its mapping news may trail its ROUND.
    join_pending_ = join_pending_ || peer_primed;
    return;
  }
  // Strategy::kBirthday probes the candidates as kDirect does (against an open peer
  // that is enough: the hard side's port is learnt from its packets), and adds the
  // birthday paradox: the hard side opens its sockets and primes them before its
  // ROUND leaves, the other side guesses once that ROUND says they are primed.
  ++stats_.rounds;
  ++round_;
  round_active_ = true;
  round_started_ = now;
  round_quiet_at_ = util::kNever;
  peer_primed_ = peer_primed;
  guess_token_ = {};
  guess_hit_ = false;
  birthday_->stop_guessing();
  guesses_pending_ = true;              // the strategy may still turn out to be kBirthday
  if (!peer_primed) peer_sockets_ = 0;  // the peer has not primed for this round yet
  if (hard_side()) open_birthday_sockets(now);
  std::vector<wire::Candidate> listed;
  for (Remote& r : remotes_) {
    if (r.socket != util::kMainSocket) continue;  // a previous round's socket
    listed.push_back(r.candidate);
    prime_and_probe(r, now);
  }
  send_round(peer_primed, now);
  if (peer_primed) start_guessing(now);
  emit({PathEvent::Kind::kProbing, {}, false, {}, describe(listed)});
}

void PathManager::send_round(bool answer, util::TimePoint now) {
  util::Bytes frames;
  wire::encode_path_frame(wire::PathRound{round_, answer, birthday_->sockets().size()}, frames);
  queue(util::kMainSocket, relay_, std::move(frames), 0);
  last_relay_sent_ = now;
}

void PathManager::prime_and_probe(Remote& r, util::TimePoint now) {
  r.attempts = 0;
  r.awaiting_peer_priming = false;
  if (preference_class(r.candidate) == 0) {
    r.next_probe = now;  // a host on a LAN: no NAT in between to prime
    return;
  }
  for (int i = 0; i < kPrimeCount; ++i)
    send_challenge(r.socket, r.candidate.address, now, kPrimeTtl);
  stats_.primes_sent += kPrimeCount;
  r.awaiting_peer_priming = !peer_primed_;
  r.next_probe = peer_primed_ ? now : util::kNever;
}

void PathManager::release(util::TimePoint now, bool by_peer) {
  peer_primed_ = true;
  peer_priming_deadline_ = util::kNever;
  // Guesses wait for the hard side's word that its sockets are primed: before that
  // they could only miss.
  if (by_peer) start_guessing(now);
  for (Remote& r : remotes_) {
    if (!r.awaiting_peer_priming) continue;
    r.awaiting_peer_priming = false;
    r.next_probe = now;
  }
}

void PathManager::on_round(const wire::PathRound& f, util::TimePoint now) {
  if (f.round <= peer_round_) return;  // old or duplicate
  peer_round_ = f.round;
  peer_sockets_ = f.sockets;
  if (config_.relay_only || peer_relay_only_) return;
  if (!round_active_) {
    // An answer to a round of ours that is over says nothing new, except to a guesser:
    // the hard side may have primed late (it waits for our mapping first).
    if (f.answer && !guesser()) return;
    // Joins the peer's round: primes, answers, and probes at once (the peer primed).
    start_round(now, true);
    return;
  }
  // Our ROUND, sent after our priming, reaches the peer too (and releases it, or
  // makes it join): no answer needed. Candidates whose probes were used up in a
  // long-running round get another go, since the peer just primed again.
  release(now, true);
  for (Remote& r : remotes_) {
    if (!r.validated && r.next_probe == util::kNever) {
      r.attempts = 0;
      r.next_probe = now;
    }
  }
}

void PathManager::send_untracked_challenge(util::SocketId socket, const util::Address& to,
                                           const wire::PathToken& token, int ttl) {
  util::Bytes frames;
  wire::encode_path_frame(wire::PathChallenge{token}, frames);
  queue(socket, to, std::move(frames), ttl);
  ++stats_.challenges_sent;
}

void PathManager::send_challenge(util::SocketId socket, const util::Address& to,
                                 util::TimePoint now, int ttl) {
  Outstanding o{{}, socket, to, now};
  rng_->fill(o.token);
  send_untracked_challenge(socket, to, o.token, ttl);
  outstanding_.push_back(o);
  // Tokens are only needed until their answer could still arrive; a bound keeps a
  // long outage from growing the list.
  while (outstanding_.size() > 4 * kMaxRemoteCandidates ||
         (!outstanding_.empty() && outstanding_.front().sent + kProbeAnswerTimeout < now)) {
    outstanding_.pop_front();
  }
  if (direct_ && to == current_ && socket == current_socket_) {
    last_answerable_sent_ = now;
    if (awaiting_since_ == util::kNever) awaiting_since_ = now;
  }
}

void PathManager::send_candidates(util::TimePoint now) {
  wire::PathCandidates f;
  f.sequence = local_seq_;
  f.acknowledged = remote_seq_;
  f.mapping = static_cast<wire::MappingCode>(local_mapping_);
  f.candidates = local_;
  util::Bytes frames;
  wire::encode_path_frame(f, frames);
  queue(util::kMainSocket, relay_, std::move(frames), 0);
  ack_owed_ = false;
  last_relay_sent_ = now;
}

void PathManager::queue(util::SocketId socket, util::Address to, util::Bytes frames, int ttl) {
  out_.push_back(PathTransmit{socket, to, std::move(frames), ttl});
}

void PathManager::on_frames(const util::Address& from, util::SocketId socket,
                            const std::vector<wire::PathFrame>& frames, util::TimePoint now) {
  note_rx(from, socket);
  for (const wire::PathFrame& frame : frames) {
    if (const auto* c = std::get_if<wire::PathChallenge>(&frame)) {
      // A relay-only end answers only on the relay, so the peer never validates a
      // direct path it would then use towards us.
      if (config_.relay_only && from != relay_) continue;
      util::Bytes reply;
      wire::encode_path_frame(wire::PathResponse{c->token}, reply);
      // From the socket it came to: behind a hard NAT only that socket's mapping
      // leads back to the sender.
      queue(socket, from, std::move(reply), 0);
      learn_peer_reflexive(from, socket, now);
      recheck(from, socket, now);
    } else if (const auto* r = std::get_if<wire::PathResponse>(&frame)) {
      on_response(*r, from, socket, now);
    } else if (const auto* round = std::get_if<wire::PathRound>(&frame)) {
      on_round(*round, now);
    } else {
      on_candidates(std::get<wire::PathCandidates>(frame), now);
    }
  }
}

void PathManager::on_candidates(const wire::PathCandidates& f, util::TimePoint now) {
  if (f.acknowledged > peer_acked_ && f.acknowledged <= local_seq_) peer_acked_ = f.acknowledged;
  if (f.sequence <= remote_seq_) return;
  remote_seq_ = f.sequence;
  ack_owed_ = true;
  emit({PathEvent::Kind::kCandidates, {}, false, {}, describe(f.candidates)});
  peer_mapping_ = static_cast<Mapping>(f.mapping);
  peer_mapping_known_ = true;
  const bool was_holding = std::exchange(holding_, false);
  hold_until_ = util::kNever;
  decide(now);
  if (config_.relay_only) return;
  if (f.candidates.empty()) {
    // The peer runs --relay-only (or has no usable address): nothing to probe.
    join_pending_ = false;
    peer_relay_only_ = true;
    if (direct_) switch_to(nullptr, now);
    end_birthday();
    remotes_.clear();
    round_active_ = false;
    next_round_ = util::kNever;
    return;
  }
  peer_relay_only_ = false;
  // Addresses the peer no longer lists are dropped, unless learnt from its packets
  // or in use; new ones are primed and probed at once.
  std::erase_if(remotes_, [&](const Remote& r) {
    if (r.candidate.kind == wire::CandidateKind::kPeerReflexive) return false;
    if (direct_ && r.candidate.address == current_ && r.socket == current_socket_) return false;
    return std::none_of(f.candidates.begin(), f.candidates.end(),
                        [&](const wire::Candidate& c) { return c.address == r.candidate.address; });
  });
  bool added = false;
  for (const wire::Candidate& c : f.candidates) {
    if (!usable(c.address) || remotes_.size() >= kMaxRemoteCandidates || find(c.address)) continue;
    Remote& r = add_remote(c);
    added = true;
    // Joins the running round (primed, and probed once the peer primed too), or waits
    // for the round its arrival starts below.
    if (round_active_) prime_and_probe(r, now);
  }
  if (was_holding) {
    holding_ = true;  // end_hold() starts the first round (or joins the peer's)
    end_hold(now);
  } else if (added && !round_active_) {
    backoff_ = kMinRoundBackoff;
    start_round(now, false);
  }
}

void PathManager::on_response(const wire::PathResponse& f, const util::Address& from,
                              util::SocketId socket, util::TimePoint now) {
  if (on_guess_answer(f, from, socket, now)) return;
  const auto it = std::find_if(outstanding_.begin(), outstanding_.end(),
                               [&](const Outstanding& o) { return o.token == f.token; });
  if (it == outstanding_.end()) return;  // late, duplicate or not ours
  const Outstanding o = *it;
  outstanding_.erase(it);
  ++stats_.responses_received;
  Remote* r = find(o.to, o.socket);
  if (!r) return;  // the relay's keepalive, or a candidate since dropped
  if (direct_ && o.to == current_ && o.socket == current_socket_) awaiting_since_ = util::kNever;
  validate(*r, now - o.sent, now, kind_name(r->candidate.kind));
}

// An answer came over `r`'s path after `rtt`: the path works both ways.
void PathManager::validate(Remote& r, util::Duration rtt, util::TimePoint now, const char* detail) {
  const bool fresh = !r.validated;
  r.validated = true;
  r.validated_at = now;
  r.rtt = fresh ? rtt : (r.rtt * 7 + rtt) / 8;
  r.next_probe = util::kNever;
  if (fresh) emit({PathEvent::Kind::kValidated, r.candidate.address, true, rtt, detail});
  maybe_switch(now);
}

// The extra socket the current direct path goes through, if it does: it stays open
// whatever else of the birthday paradox's sockets closes.
std::optional<util::SocketId> PathManager::extra_socket_in_use() const {
  if (!direct_ || current_socket_ == util::kMainSocket) return std::nullopt;
  return current_socket_;
}

void PathManager::note_rx(const util::Address& from, util::SocketId socket) {
  last_rx_from_ = from;
  last_rx_socket_ = socket;
  if (!direct_ || from == relay_) return;
  // The peer is sending on a direct path. It may have picked another address pair
  // than ours (say our LAN address while we reach its public one); any validated one
  // shows the direct paths work, and that the peer is not falling back.
  const bool on_current = from == current_ && socket == current_socket_;
  const Remote* r = on_current ? nullptr : find(from, socket);
  if (on_current || (r != nullptr && r->validated)) {
    awaiting_since_ = util::kNever;
    relay_hint_ = false;
  }
}

// A challenge came from a candidate whose probes of this round were used up unanswered:
// the way is open now (the peer's NAT took a mapping we could not know, say one a guess
// hit), so probe it again at once rather than at the next round.
void PathManager::recheck(const util::Address& from, util::SocketId socket, util::TimePoint now) {
  if (config_.relay_only || peer_relay_only_ || strategy_ == Strategy::kRelay) return;
  Remote* r = find(from, socket);
  if (r == nullptr || r->validated || r->next_probe != util::kNever || r->awaiting_peer_priming)
    return;
  r->attempts = 0;
  r->next_probe = now;
}

void PathManager::on_authenticated(const util::Address& from, util::SocketId socket,
                                   std::uint64_t packet_number, util::TimePoint now) {
  note_rx(from, socket);
  if (from == relay_) {
    // A transport packet through the relay, sent after the last one the peer sent us
    // directly, while we are direct: the peer gave the direct path up (or has not
    // validated it yet). Unless it answers there soon, so do we; a receiver that only
    // sends ACKs would otherwise notice nothing until its next PING. (Copies the peer
    // mirrors to the relay carry numbers it also sent directly: they say nothing.)
    const bool newer = !highest_direct_pn_ || packet_number > *highest_direct_pn_;
    if (direct_ && newer) {
      if (awaiting_since_ == util::kNever) awaiting_since_ = now;
      relay_hint_ = true;
    }
    return;
  }
  highest_direct_pn_ = std::max(highest_direct_pn_.value_or(0), packet_number);
  // Every packet of a direct transfer lands here: from the path in use there is
  // nothing to learn and no reason to switch (validations decide that).
  if (direct_ && from == current_ && socket == current_socket_) return;
  learn_peer_reflexive(from, socket, now);
  maybe_switch(now);
}

void PathManager::learn_peer_reflexive(const util::Address& from, util::SocketId socket,
                                       util::TimePoint now) {
  if (config_.relay_only || peer_relay_only_ || !usable(from) || find(from, socket)) return;
  // An extra socket counts only while it is ours (a packet may trail its closing).
  if (socket != util::kMainSocket && !birthday_->owns(socket)) return;
  if (remotes_.size() >= kMaxRemoteCandidates) {
    // Make room by forgetting the oldest unvalidated peer-reflexive address.
    const auto victim = std::find_if(remotes_.begin(), remotes_.end(), [](const Remote& r) {
      return r.candidate.kind == wire::CandidateKind::kPeerReflexive && !r.validated;
    });
    if (victim == remotes_.end()) return;
    remotes_.erase(victim);
  }
  // The packet reached us from there, so our side needs no priming towards it.
  Remote& r = add_remote({wire::CandidateKind::kPeerReflexive, from}, socket);
  r.attempts = 0;
  r.next_probe = strategy_ == Strategy::kRelay ? util::kNever : now;
}

void PathManager::on_sent(bool answer_expected, util::TimePoint now) {
  if (!direct_) return;
  if (!answer_expected) return;
  last_answerable_sent_ = now;
  if (awaiting_since_ == util::kNever) awaiting_since_ = now;
}

void PathManager::maybe_switch(util::TimePoint now) {
  if (config_.relay_only) return;
  const Remote* best = nullptr;
  for (const Remote& r : remotes_) {
    if (!r.validated) continue;
    if (!best || preference_class(r.candidate) < preference_class(best->candidate) ||
        (preference_class(r.candidate) == preference_class(best->candidate) && r.rtt < best->rtt))
      best = &r;
  }
  if (!best) return;
  if (!direct_) {
    switch_to(best, now);
    return;
  }
  const Remote* cur = find(current_, current_socket_);
  if (!cur) {
    switch_to(best, now);
    return;
  }
  // The peer's packets now come from another validated address while ours still go
  // to the old one: its NAT rebound, follow it.
  const Remote* rx = find(last_rx_from_, last_rx_socket_);
  if (rx && rx != cur && rx->validated && rx->validated_at > cur->validated_at) {
    switch_to(rx, now);
    return;
  }
  if (best == cur) return;
  const int best_class = preference_class(best->candidate);
  const int cur_class = preference_class(cur->candidate);
  // Two ports of one peer IP are one route through its NAT: their RTTs differ by
  // noise, and switching between them would only leave the port the peer uses.
  const bool same_route = best->candidate.address.family == cur->candidate.address.family &&
                          best->candidate.address.ip == cur->candidate.address.ip;
  if (best_class < cur_class ||
      (best_class == cur_class && !same_route && ratio_of(best->rtt, cur->rtt) < kSwitchRttRatio)) {
    switch_to(best, now);
  }
}

void PathManager::switch_to(const Remote* r, util::TimePoint now) {
  const util::Address target = r ? r->candidate.address : relay_;
  const util::SocketId socket = r ? r->socket : util::kMainSocket;
  if (target == current_ && socket == current_socket_ && direct_ == (r != nullptr)) return;
  current_ = target;
  current_socket_ = socket;
  direct_ = r != nullptr;
  switched_ = true;
  ++stats_.switches;
  awaiting_since_ = util::kNever;
  relay_hint_ = false;
  last_answerable_sent_ = now;
  last_relay_sent_ = now;
  PathEvent e{PathEvent::Kind::kSwitched, current_, direct_, r ? r->rtt : util::Duration{},
              r ? kind_name(r->candidate.kind) : "relay"};
  if (direct_) {
    backoff_ = kMinRoundBackoff;
    next_round_ = util::kNever;
    promote_at_ = now + kStreamPromotionDelay;
    // A path validated: the birthday paradox has done its work (or was not needed).
    e.guesses = birthday_->guesses();
    e.sockets = birthday_->sockets().size();
    birthday_->stop_guessing();
    guesses_pending_ = false;
    prune_sockets();
  } else {
    promote_at_ = util::kNever;
  }
  emit(std::move(e));
}

// Every extra socket but the one in use is closed at once, with the candidates on them.
void PathManager::prune_sockets() {
  const std::optional<util::SocketId> keep = extra_socket_in_use();
  birthday_->close_sockets(keep);
  sockets_until_ = util::kNever;
  forget_closed_sockets();
}

// Nothing may refer to a closed socket: not a candidate, not a datagram still queued.
void PathManager::forget_closed_sockets() {
  const auto closed = [this](util::SocketId socket) {
    return socket != util::kMainSocket && !birthday_->owns(socket);
  };
  std::erase_if(remotes_, [&](const Remote& r) { return closed(r.socket); });
  std::erase_if(out_, [&](const PathTransmit& t) { return closed(t.socket); });
  std::erase_if(outstanding_, [&](const Outstanding& o) { return closed(o.socket); });
}

void PathManager::end_birthday() {
  birthday_->stop_guessing();
  guesses_pending_ = false;
  prune_sockets();
}

bool PathManager::hard_side() const {
  return strategy_ == Strategy::kBirthday && unpredictable(local_mapping_);
}

bool PathManager::guesser() const {
  return strategy_ == Strategy::kBirthday && !unpredictable(local_mapping_);
}

// Hard side: a fresh set of sockets each round (their mappings are new), primed with
// low TTL towards the peer's public side, like the main socket's candidates: each
// creates a mapping in our NAT without reaching the peer's router (LAB.md trap 1).
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
  const std::size_t before = birthday_->sockets().size();
  const auto& sockets = birthday_->open_sockets(keep);
  forget_closed_sockets();
  stats_.sockets_opened += sockets.size() - std::min(before, sockets.size());
  for (const util::SocketId socket : sockets) {
    if (keep && socket == *keep) continue;
    for (const util::Address& to : targets) {
      wire::PathToken token{};
      rng_->fill(token);
      send_untracked_challenge(socket, to, token, kPrimeTtl);
      ++stats_.primes_sent;
    }
  }
  // The peer may guess for this long after our ROUND: its whole budget at the slowest
  // pace, plus the time an answer may take.
  const auto slowest_gap = 2 * std::chrono::duration_cast<util::Duration>(std::chrono::seconds(1)) /
                           std::max<std::uint32_t>(config_.birthday.rate, 1);
  sockets_until_ = now + slowest_gap * config_.birthday.probes + kProbeAnswerTimeout;
}

// Guesser: guesses go to the hard side's public IP (from its reflexive candidate).
void PathManager::start_guessing(util::TimePoint now) {
  // Only against primed sockets: without them every guess would miss.
  if (!guesser() || !guesses_pending_ || !round_active_ || direct_ || peer_sockets_ == 0) return;
  const Remote* target = nullptr;
  for (const Remote& r : remotes_) {
    if (r.socket == util::kMainSocket && r.candidate.kind == wire::CandidateKind::kReflexive) {
      target = &r;
      break;
    }
  }
  if (target == nullptr) return;
  guesses_pending_ = false;
  rng_->fill(guess_token_);
  birthday_->start_guessing(target->candidate.address, now);
}

void PathManager::send_guesses(util::TimePoint now) {
  while (auto to = birthday_->next_guess(now)) {
    send_untracked_challenge(util::kMainSocket, *to, guess_token_, 0);
    ++stats_.guesses_sent;
  }
}

// An answer to one of this round's guesses: the port it came from leads to one of the
// hard side's sockets. Validated (the answer is authenticated and carries our token),
// with the time since that guess as its RTT.
bool PathManager::on_guess_answer(const wire::PathResponse& f, const util::Address& from,
                                  util::SocketId socket, util::TimePoint now) {
  if (guess_token_ == wire::PathToken{} || f.token != guess_token_) return false;
  if (socket != util::kMainSocket || config_.relay_only || !usable(from)) return true;
  // One hit per round: a second guess may have hit another socket before the first
  // one's answer came back, and the hard side keeps only the socket it validates
  // first. Its probes from there tell us which one that is.
  if (guess_hit_) return true;
  guess_hit_ = true;
  ++stats_.guess_hits;
  Remote* r = find(from);
  if (r == nullptr) {
    learn_peer_reflexive(from, socket, now);
    r = find(from);
    if (r == nullptr) return true;  // no room for it
  }
  const auto sent = birthday_->guessed_at(from);
  birthday_->stop_guessing();
  validate(*r, sent ? now - *sent : kMinDeadTimeout, now, "peer-reflexive (guessed)");
  return true;
}

void PathManager::fall_back(util::TimePoint now) {
  if (Remote* r = find(current_, current_socket_)) r->validated = false;
  emit({PathEvent::Kind::kLost, current_, true, {}, "no answer on the direct path"});
  path_lost_ = true;
  switch_to(nullptr, now);
  // Another validated candidate (a second interface) may still work.
  maybe_switch(now);
  if (!direct_) schedule_next_round(now);
}

void PathManager::schedule_next_round(util::TimePoint now) {
  // Only the initiator keeps time; the other end joins its rounds (on_round), so the
  // two never probe out of step, and both stay quiet between slow rounds.
  if (!initiator_ || next_round_ != util::kNever) return;
  // A birthday round spent its whole guess budget: waiting the slow interval lets the
  // entries its misses left in the hard side's router expire first (docs/birthday.md).
  if (strategy_ == Strategy::kBirthday) backoff_ = std::max(backoff_, kSlowRoundInterval);
  next_round_ = now + backoff_;
  backoff_ = backoff_ < kMaxQuickRoundBackoff ? backoff_ * 2 : kSlowRoundInterval;
}

util::Duration PathManager::dead_timeout() const {
  util::Duration rtt{};
  for (const Remote& r : remotes_) {
    if (r.candidate.address == current_ && r.socket == current_socket_) rtt = r.rtt;
  }
  return std::max<util::Duration>(kMinDeadTimeout, kDeadRttFactor * rtt + kDeadSlack);
}

void PathManager::end_round_if_done(util::TimePoint now) {
  if (!round_active_) return;
  if (now - round_started_ >= kRoundTimeout) {
    // The peer never sent its ROUND: no full-TTL probes went to its public side.
    for (Remote& r : remotes_) r.awaiting_peer_priming = false;
  }
  if (sockets_until_ <= now) {
    // Hard side: the peer's guesses are over; a socket carrying the session stays.
    sockets_until_ = util::kNever;
    prune_sockets();
  }
  const bool probing = birthday_->guessing() || sockets_until_ != util::kNever ||
                       std::any_of(remotes_.begin(), remotes_.end(), [](const Remote& r) {
                         return r.next_probe != util::kNever || r.awaiting_peer_priming;
                       });
  if (probing) {
    round_quiet_at_ = util::kNever;
    return;
  }
  // Give the last probes their answer time before calling the round over.
  if (round_quiet_at_ == util::kNever) {
    round_quiet_at_ = now + kMinDeadTimeout;
    return;
  }
  if (now < round_quiet_at_) return;
  round_active_ = false;
  round_quiet_at_ = util::kNever;
  if (!direct_) schedule_next_round(now);
}

void PathManager::on_timeout(util::TimePoint now) {
  if (!started_) return;
  // Our unpredictable mapping waited for the peer's; it never came: probe as before.
  if (holding_ && hold_until_ <= now) end_hold(now);
  // In the first round a peer whose ROUND never comes still gets probed, a little later.
  if (peer_priming_deadline_ <= now) release(now, false);
  if (candidates_next_ <= now) {
    if (local_seq_ > peer_acked_) {
      send_candidates(now);
      candidates_next_ = now + candidates_gap_;
      candidates_gap_ = std::min(candidates_gap_ * 2, kMaxCandidatesResend);
    } else {
      candidates_next_ = util::kNever;
    }
  }
  if (ack_owed_) send_candidates(now);
  send_guesses(now);
  for (Remote& r : remotes_) {
    if (r.next_probe > now) continue;
    send_challenge(r.socket, r.candidate.address, now, 0);
    ++r.attempts;
    r.next_probe = r.attempts <= static_cast<int>(std::size(kProbeGaps))
                       ? now + kProbeGaps[r.attempts - 1]
                       : util::kNever;
  }
  end_round_if_done(now);
  if (next_round_ <= now) start_round(now, false);
  if (direct_) {
    if (awaiting_since_ != util::kNever && now - awaiting_since_ >= dead_timeout()) {
      fall_back(now);
    } else {
      if (promote_at_ <= now) {
        promote_at_ = util::kNever;
        send_challenge(current_socket_, current_, now, 0);
      }
      if (now - last_answerable_sent_ >= kDirectKeepalive)
        send_challenge(current_socket_, current_, now, 0);
      if (now - last_relay_sent_ >= kRelayKeepalive) {
        send_challenge(util::kMainSocket, relay_, now, 0);
        last_relay_sent_ = now;
      }
    }
  }
}

util::TimePoint PathManager::next_deadline() const {
  if (!started_) return util::kNever;
  util::TimePoint t = std::min({candidates_next_, next_round_, peer_priming_deadline_, hold_until_,
                                birthday_->next_deadline(), sockets_until_});
  if (ack_owed_ || !out_.empty()) return util::TimePoint{};
  bool probing = birthday_->guessing() || sockets_until_ != util::kNever;
  bool awaiting = false;
  for (const Remote& r : remotes_) {
    t = std::min(t, r.next_probe);
    probing = probing || r.next_probe != util::kNever || r.awaiting_peer_priming;
    awaiting = awaiting || r.awaiting_peer_priming;
  }
  if (round_active_) {
    // A round whose last probe was answered ends (and schedules the next) on a timeout.
    if (round_quiet_at_ == util::kNever && !probing) return util::TimePoint{};
    t = std::min(t, round_quiet_at_);
    if (awaiting) t = std::min(t, round_started_ + kRoundTimeout);
  }
  if (direct_) {
    if (awaiting_since_ != util::kNever) t = std::min(t, awaiting_since_ + dead_timeout());
    t = std::min({t, last_answerable_sent_ + kDirectKeepalive, promote_at_});
    t = std::min(t, last_relay_sent_ + kRelayKeepalive);
  }
  return t;
}

std::optional<PathTransmit> PathManager::poll_transmit(util::TimePoint now) {
  if (next_deadline() <= now) on_timeout(now);
  if (out_.empty()) return std::nullopt;
  PathTransmit t = std::move(out_.front());
  out_.pop_front();
  return t;
}

std::optional<PathEvent> PathManager::poll_event() {
  if (events_.empty()) return std::nullopt;
  PathEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

bool PathManager::take_switched() { return std::exchange(switched_, false); }

bool PathManager::take_path_lost() { return std::exchange(path_lost_, false); }

}  // namespace punch::path
