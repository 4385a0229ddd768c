#include "path/path_manager.hpp"

#include <algorithm>
#include <utility>

#include "path/candidates.hpp"
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

double ratio_of(util::Duration a, util::Duration b) {
  return b.count() > 0 ? static_cast<double>(a.count()) / static_cast<double>(b.count()) : 0.0;
}

}  // namespace

PathManager::PathManager(util::Address relay, const PathConfig& config, bool initiator,
                         crypto::RandomSource& rng, util::SocketPool* pool, BirthdayBudget* budget)
    : relay_(relay),
      config_(config),
      rng_(&rng),
      current_(relay),
      rounds_(initiator),
      birthday_(config.birthday, rng, pool, budget) {}

bool PathManager::usable(const util::Address& a) const {
  return a.valid() && a.family == relay_.family && a != relay_ && a.port != 0;
}

bool PathManager::on_current(const util::Address& to, util::SocketId socket) const {
  return direct_ && to == current_ && socket == current_socket_;
}

Route PathManager::route() const {
  return Route{current_socket_, current_, direct_, liveness_.mirror_to_relay()};
}

void PathManager::start(util::TimePoint now) {
  if (started_) return;
  started_ = true;
  exchange_.send_from(now);
  decide(now);
  if (unpredictable(mappings_.local) && !mappings_.peer_known && !config_.relay_only) {
    // Our port is unpredictable: whether challenges can work at all depends on the
    // peer's mapping, so the first round waits for its CANDIDATES (bounded) instead of
    // priming towards a peer that may turn out hopeless.
    rounds_.hold(now);
    return;
  }
  start_round(now, false);
  // A lost ROUND must not cost the first round: challenge anyway after a while.
  if (rounds_.active()) rounds_.expect_peer_round(now);
  settle(now);
}

void PathManager::set_local_mapping(Mapping mapping, util::TimePoint now) {
  if (mapping == mappings_.local) return;
  mappings_.local = mapping;
  // The peer's strategy depends on it: a new list version, resent until acknowledged.
  exchange_.new_version();
  if (!started_) return;
  exchange_.send_from(now);
  decide(now);
  settle(now);
}

// Both ends run the same table on the same two mappings, so they agree once each has
// the other's CANDIDATES; the event is only written from then on.
void PathManager::decide(util::TimePoint now) {
  if (!started_) return;
  const Strategy previous = strategy_;
  strategy_ = choose_strategy(mappings_.local, mappings_.peer);
  if (!mappings_.peer_known) return;
  const std::pair<Mapping, Mapping> both{mappings_.local, mappings_.peer};
  if (announced_ && strategy_ == previous && *announced_ == both) return;
  announced_ = both;
  PathEvent e{PathEvent::Kind::kStrategy, {}, direct_, {}, strategy_token(strategy_)};
  e.strategy = strategy_;
  e.local_mapping = mappings_.local;
  e.peer_mapping = mappings_.peer;
  emit(std::move(e));
  if (strategy_ == Strategy::kRelay) {
    stop_challenging();
  } else if (strategy_ == Strategy::kBirthday && rounds_.active()) {
    // The hard side's ROUND may have come before its mapping did.
    start_guessing(now);
  } else if (previous == Strategy::kRelay && !direct_ && !rounds_.active() && !rounds_.holding()) {
    // No longer hopeless (a mapping changed): look for a path at once.
    rounds_.reset_backoff();
    start_round(now, rounds_.take_join());
  }
}

// Relay strategy: nothing goes to the peer's addresses any more. A direct path already
// in use stays (it works, whatever the table says) with its keepalives.
void PathManager::stop_challenging() {
  end_birthday();
  rounds_.stop();
  for (Remote& r : remotes_) r.validation.stop();
}

void PathManager::set_local_candidates(std::vector<wire::Candidate> candidates,
                                       util::TimePoint now) {
  if (config_.relay_only) candidates.clear();
  std::erase_if(candidates, [this](const wire::Candidate& c) { return !usable(c.address); });
  if (candidates.size() > wire::kMaxCandidates) candidates.resize(wire::kMaxCandidates);
  if (!exchange_.set_local(std::move(candidates))) return;
  if (!started_) return;
  exchange_.send_from(now);
  // Our addresses changed: the peer will challenge the new ones, and a path that failed
  // before may work now, so start a round at once instead of waiting out the backoff.
  rounds_.reset_backoff();
  if (!rounds_.active()) start_round(now, false);
  settle(now);
}

void PathManager::add_remote_candidate(const wire::Candidate& candidate, util::TimePoint now) {
  if (config_.relay_only || peer_relay_only_ || !usable(candidate.address)) return;
  if (find(candidate.address) || remotes_.size() >= kMaxRemoteCandidates) return;
  Remote& r = add_remote(candidate);
  if (started_ && rounds_.active()) prime_and_challenge(r, now);
  settle(now);
}

PathManager::Remote* PathManager::find(const util::Address& address, util::SocketId socket) {
  for (Remote& r : remotes_) {
    if (r.candidate.address == address && r.socket == socket) return &r;
  }
  return nullptr;
}

PathManager::Remote& PathManager::add_remote(const wire::Candidate& candidate,
                                             util::SocketId socket) {
  remotes_.push_back(Remote{candidate, socket, {}});
  return remotes_.back();
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
         (!outstanding_.empty() && outstanding_.front().sent + kChallengeAnswerTimeout < now)) {
    outstanding_.pop_front();
  }
  if (on_current(to, socket)) liveness_.on_answerable_sent(now);
}

void PathManager::send_candidates(const wire::PathCandidates& f, util::TimePoint now) {
  util::Bytes frames;
  wire::encode_path_frame(f, frames);
  queue(util::kMainSocket, relay_, std::move(frames), 0);
  liveness_.on_relay_sent(now);
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
  settle(now);
}

void PathManager::on_candidates(const wire::PathCandidates& f, util::TimePoint now) {
  if (!exchange_.on_frame(f, now)) return;
  emit({PathEvent::Kind::kCandidates, {}, false, {}, describe(f.candidates)});
  mappings_.peer = static_cast<Mapping>(f.mapping);
  mappings_.peer_known = true;
  // The hold ends (a ROUND of the peer's that came meanwhile is joined below).
  const bool was_holding = rounds_.holding();
  rounds_.end_hold();
  decide(now);
  if (config_.relay_only) return;
  if (f.candidates.empty()) {
    // The peer runs --relay-only (or has no usable address): nothing to challenge.
    rounds_.take_join();
    peer_relay_only_ = true;
    if (direct_) switch_to(nullptr, now);
    end_birthday();
    remotes_.clear();
    rounds_.end();
    rounds_.stop_next_round();
    return;
  }
  peer_relay_only_ = false;
  // Addresses the peer no longer lists are dropped, unless learnt from its packets
  // or in use; new ones are primed and challenged at once.
  std::erase_if(remotes_, [&](const Remote& r) {
    if (r.candidate.kind == wire::CandidateKind::kPeerReflexive) return false;
    if (on_current(r.candidate.address, r.socket)) return false;
    return std::none_of(f.candidates.begin(), f.candidates.end(),
                        [&](const wire::Candidate& c) { return c.address == r.candidate.address; });
  });
  bool added = false;
  for (const wire::Candidate& c : f.candidates) {
    if (!usable(c.address) || remotes_.size() >= kMaxRemoteCandidates || find(c.address)) continue;
    Remote& r = add_remote(c);
    added = true;
    // Joins the running round (primed, and challenged once the peer primed too), or
    // waits for the round its arrival starts below.
    if (rounds_.active()) prime_and_challenge(r, now);
  }
  if (was_holding) {
    end_hold(now);  // starts the first round (or joins the peer's)
  } else if (added && !rounds_.active()) {
    rounds_.reset_backoff();
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
  if (on_current(o.to, o.socket)) liveness_.on_answer();
  validate(*r, now - o.sent, now, kind_name(r->candidate.kind));
}

// An answer came over `r`'s path after `rtt`: the path works both ways.
void PathManager::validate(Remote& r, util::Duration rtt, util::TimePoint now, const char* detail) {
  if (r.validation.answered(rtt, now))
    emit({PathEvent::Kind::kValidated, r.candidate.address, true, rtt, detail});
  // The dead timeout of the path in use follows its RTT.
  if (on_current(r.candidate.address, r.socket)) liveness_.set_dead_timeout(dead_timeout());
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
  const bool current = on_current(from, socket);
  const Remote* r = current ? nullptr : find(from, socket);
  if (current || (r != nullptr && r->validation.validated())) liveness_.on_direct_heard();
}

// A challenge came from a candidate whose challenges of this round were used up
// unanswered: the way is open now (the peer's NAT took a mapping we could not know,
// say one a guess hit), so challenge it again at once rather than at the next round.
void PathManager::recheck(const util::Address& from, util::SocketId socket, util::TimePoint now) {
  if (config_.relay_only || peer_relay_only_ || strategy_ == Strategy::kRelay) return;
  Remote* r = find(from, socket);
  if (r == nullptr || r->validation.state() != CandidateState::kIdle) return;
  r->validation.challenge_from(now);
}

void PathManager::on_authenticated(const util::Address& from, util::SocketId socket,
                                   std::uint64_t packet_number, util::TimePoint now) {
  note_rx(from, socket);
  if (from == relay_) {
    // A transport packet through the relay while we are direct: unless the direct path
    // answers soon, the peer gave it up (liveness.hpp); a receiver that only sends ACKs
    // would otherwise notice nothing until its next PING.
    liveness_.on_relay_packet(packet_number, now);
    settle(now);
    return;
  }
  liveness_.on_direct_packet(packet_number);
  // Every packet of a direct transfer lands here: from the path in use there is
  // nothing to learn and no reason to switch (validations decide that).
  if (on_current(from, socket)) return;
  learn_peer_reflexive(from, socket, now);
  maybe_switch(now);
  settle(now);
}

void PathManager::learn_peer_reflexive(const util::Address& from, util::SocketId socket,
                                       util::TimePoint now) {
  if (config_.relay_only || peer_relay_only_ || !usable(from) || find(from, socket)) return;
  // An extra socket counts only while it is ours (a packet may trail its closing).
  if (socket != util::kMainSocket && !birthday_.owns(socket)) return;
  if (remotes_.size() >= kMaxRemoteCandidates) {
    // Make room by forgetting the oldest unvalidated peer-reflexive address.
    const auto victim = std::find_if(remotes_.begin(), remotes_.end(), [](const Remote& r) {
      return r.candidate.kind == wire::CandidateKind::kPeerReflexive && !r.validation.validated();
    });
    if (victim == remotes_.end()) return;
    remotes_.erase(victim);
  }
  // The packet reached us from there, so our side needs no priming towards it.
  Remote& r = add_remote({wire::CandidateKind::kPeerReflexive, from}, socket);
  if (strategy_ != Strategy::kRelay) r.validation.challenge_from(now);
}

void PathManager::on_sent(bool answer_expected, util::TimePoint now) {
  if (answer_expected) liveness_.on_answerable_sent(now);
}

void PathManager::maybe_switch(util::TimePoint now) {
  if (config_.relay_only) return;
  const Remote* best = nullptr;
  for (const Remote& r : remotes_) {
    if (!r.validation.validated()) continue;
    if (!best || preference_class(r.candidate) < preference_class(best->candidate) ||
        (preference_class(r.candidate) == preference_class(best->candidate) &&
         r.validation.rtt() < best->validation.rtt()))
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
  if (rx && rx != cur && rx->validation.validated() &&
      rx->validation.validated_at() > cur->validation.validated_at()) {
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
      (best_class == cur_class && !same_route &&
       ratio_of(best->validation.rtt(), cur->validation.rtt()) < kSwitchRttRatio)) {
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
  liveness_.on_switch(direct_, dead_timeout(), now);
  PathEvent e{PathEvent::Kind::kSwitched, current_, direct_,
              r ? r->validation.rtt() : util::Duration{},
              r ? kind_name(r->candidate.kind) : "relay"};
  if (direct_) {
    rounds_.reset_backoff();
    rounds_.stop_next_round();
    // A path validated: the birthday paradox has done its work (or was not needed).
    e.guesses = birthday_.guesses();
    e.sockets = birthday_.socket_count();
    birthday_.end_guessing();
    prune_sockets();
  }
  emit(std::move(e));
}

void PathManager::fall_back(util::TimePoint now) {
  if (Remote* r = find(current_, current_socket_)) r->validation.lost();
  emit({PathEvent::Kind::kLost, current_, true, {}, "no answer on the direct path"});
  path_lost_ = true;
  switch_to(nullptr, now);
  // Another validated candidate (a second interface) may still work.
  maybe_switch(now);
  if (!direct_) schedule_next_round(now);
}

void PathManager::schedule_next_round(util::TimePoint now) {
  rounds_.schedule_next(now, strategy_ == Strategy::kBirthday);
}

util::Duration PathManager::dead_timeout() const {
  util::Duration rtt{};
  for (const Remote& r : remotes_) {
    if (r.candidate.address == current_ && r.socket == current_socket_) rtt = r.validation.rtt();
  }
  return Liveness::dead_timeout_for(rtt);
}

void PathManager::run_liveness(util::TimePoint now) {
  const LivenessDue due = liveness_.on_timeout(now);
  if (due.dead) {
    fall_back(now);
    return;
  }
  if (due.promotion) send_challenge(current_socket_, current_, now, 0);
  if (liveness_.keepalive_due(now)) send_challenge(current_socket_, current_, now, 0);
  if (due.relay_keepalive) send_challenge(util::kMainSocket, relay_, now, 0);
}

void PathManager::on_timeout(util::TimePoint now) {
  if (!started_) return;
  // Our unpredictable mapping waited for the peer's; it never came: challenge as before.
  if (rounds_.take_expired(RoundTimer::kHold, now)) end_hold(now);
  // In the first round a peer whose ROUND never comes still gets challenged, later.
  if (rounds_.take_expired(RoundTimer::kPeerPriming, now)) release(now, false);
  if (auto f = exchange_.on_timeout(now, mappings_.local)) send_candidates(*f, now);
  send_guesses(now);
  run_challenges(now);
  end_round_if_done(now);
  if (rounds_.take_expired(RoundTimer::kNextRound, now)) start_round(now, false);
  if (direct_) run_liveness(now);
  settle(now);
}

util::TimePoint PathManager::next_deadline() const {
  if (!started_) return util::kNever;
  util::TimePoint t =
      std::min({exchange_.next_deadline(), birthday_.next_deadline(), liveness_.next_deadline()});
  for (const Remote& r : remotes_) t = std::min(t, r.validation.next_challenge());
  return std::min(t, rounds_.next_deadline(rounds_.active() && awaiting_peer()));
}

std::optional<PathTransmit> PathManager::poll_transmit() {
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
