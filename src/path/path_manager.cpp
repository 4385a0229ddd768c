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
                         crypto::RandomSource& rng)
    : relay_(relay),
      config_(config),
      initiator_(initiator),
      rng_(&rng),
      current_(relay),
      backoff_(kMinRoundBackoff) {}

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
  } else if (previous == Strategy::kRelay && !direct_ && !round_active_ && !holding_) {
    // No longer hopeless (a mapping changed): look for a path at once.
    backoff_ = kMinRoundBackoff;
    start_round(now, std::exchange(join_pending_, false));
  }
}

// Relay strategy: nothing goes to the peer's addresses any more. A direct path already
// in use stays (it works, whatever the table says) with its keepalives.
void PathManager::stop_probing() {
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

PathManager::Remote* PathManager::find(const util::Address& address) {
  for (Remote& r : remotes_) {
    if (r.candidate.address == address) return &r;
  }
  return nullptr;
}

PathManager::Remote& PathManager::add_remote(const wire::Candidate& candidate) {
  remotes_.push_back(Remote{candidate});
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
  // Strategy::kBirthday probes like kDirect for now: against an open peer that works
  // (the hard side's port is learnt from its packets). The birthday prober plugs in here.
  ++stats_.rounds;
  ++round_;
  round_active_ = true;
  round_started_ = now;
  round_quiet_at_ = util::kNever;
  peer_primed_ = peer_primed;
  std::vector<wire::Candidate> listed;
  for (Remote& r : remotes_) {
    listed.push_back(r.candidate);
    prime_and_probe(r, now);
  }
  send_round(peer_primed, now);
  emit({PathEvent::Kind::kProbing, {}, false, {}, describe(listed)});
}

void PathManager::send_round(bool answer, util::TimePoint now) {
  util::Bytes frames;
  wire::encode_path_frame(wire::PathRound{round_, answer}, frames);
  queue(relay_, std::move(frames), 0);
  last_relay_sent_ = now;
}

void PathManager::prime_and_probe(Remote& r, util::TimePoint now) {
  r.attempts = 0;
  r.awaiting_peer_priming = false;
  if (preference_class(r.candidate) == 0) {
    r.next_probe = now;  // a host on a LAN: no NAT in between to prime
    return;
  }
  for (int i = 0; i < kPrimeCount; ++i) send_challenge(r.candidate.address, now, kPrimeTtl);
  stats_.primes_sent += kPrimeCount;
  r.awaiting_peer_priming = !peer_primed_;
  r.next_probe = peer_primed_ ? now : util::kNever;
}

void PathManager::release(util::TimePoint now) {
  peer_primed_ = true;
  peer_priming_deadline_ = util::kNever;
  for (Remote& r : remotes_) {
    if (!r.awaiting_peer_priming) continue;
    r.awaiting_peer_priming = false;
    r.next_probe = now;
  }
}

void PathManager::on_round(const wire::PathRound& f, util::TimePoint now) {
  if (f.round <= peer_round_) return;  // old or duplicate
  peer_round_ = f.round;
  if (config_.relay_only || peer_relay_only_) return;
  if (!round_active_) {
    if (f.answer) return;  // answers a round of ours that is over
    // Joins the peer's round: primes, answers, and probes at once (the peer primed).
    start_round(now, true);
    return;
  }
  // Our ROUND, sent after our priming, reaches the peer too (and releases it, or
  // makes it join): no answer needed. Candidates whose probes were used up in a
  // long-running round get another go, since the peer just primed again.
  release(now);
  for (Remote& r : remotes_) {
    if (!r.validated && r.next_probe == util::kNever) {
      r.attempts = 0;
      r.next_probe = now;
    }
  }
}

void PathManager::send_challenge(const util::Address& to, util::TimePoint now, int ttl) {
  Outstanding o{{}, to, now};
  rng_->fill(o.token);
  util::Bytes frames;
  wire::encode_path_frame(wire::PathChallenge{o.token}, frames);
  queue(to, std::move(frames), ttl);
  outstanding_.push_back(o);
  // Tokens are only needed until their answer could still arrive; a bound keeps a
  // long outage from growing the list.
  while (outstanding_.size() > 4 * kMaxRemoteCandidates ||
         (!outstanding_.empty() && outstanding_.front().sent + kProbeAnswerTimeout < now)) {
    outstanding_.pop_front();
  }
  ++stats_.challenges_sent;
  if (direct_ && to == current_) {
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
  queue(relay_, std::move(frames), 0);
  ack_owed_ = false;
  last_relay_sent_ = now;
}

void PathManager::queue(util::Address to, util::Bytes frames, int ttl) {
  out_.push_back(PathTransmit{util::kMainSocket, to, std::move(frames), ttl});
}

void PathManager::on_frames(const util::Address& from, const std::vector<wire::PathFrame>& frames,
                            util::TimePoint now) {
  note_rx(from, now);
  for (const wire::PathFrame& frame : frames) {
    if (const auto* c = std::get_if<wire::PathChallenge>(&frame)) {
      // A relay-only end answers only on the relay, so the peer never validates a
      // direct path it would then use towards us.
      if (config_.relay_only && from != relay_) continue;
      util::Bytes reply;
      wire::encode_path_frame(wire::PathResponse{c->token}, reply);
      queue(from, std::move(reply), 0);
      learn_peer_reflexive(from, now);
    } else if (const auto* r = std::get_if<wire::PathResponse>(&frame)) {
      on_response(*r, now);
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
    if (direct_ && r.candidate.address == current_) return false;
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

void PathManager::on_response(const wire::PathResponse& f, util::TimePoint now) {
  const auto it = std::find_if(outstanding_.begin(), outstanding_.end(),
                               [&](const Outstanding& o) { return o.token == f.token; });
  if (it == outstanding_.end()) return;  // late, duplicate or not ours
  const Outstanding o = *it;
  outstanding_.erase(it);
  ++stats_.responses_received;
  Remote* r = find(o.to);
  if (!r) return;  // the relay's keepalive, or a candidate since dropped
  const util::Duration rtt = now - o.sent;
  const bool fresh = !r->validated;
  r->validated = true;
  r->validated_at = now;
  r->rtt = fresh ? rtt : (r->rtt * 7 + rtt) / 8;
  r->next_probe = util::kNever;
  if (direct_ && o.to == current_) awaiting_since_ = util::kNever;
  if (fresh) emit({PathEvent::Kind::kValidated, o.to, true, rtt, kind_name(r->candidate.kind)});
  maybe_switch(now);
}

void PathManager::note_rx(const util::Address& from, util::TimePoint now) {
  static_cast<void>(now);
  last_rx_from_ = from;
  if (!direct_ || from == relay_) return;
  // The peer is sending on a direct path. It may have picked another address pair
  // than ours (say our LAN address while we reach its public one); any validated one
  // shows the direct paths work, and that the peer is not falling back.
  const Remote* r = from == current_ ? nullptr : find(from);
  if (from == current_ || (r != nullptr && r->validated)) {
    awaiting_since_ = util::kNever;
    relay_hint_ = false;
  }
}

void PathManager::on_authenticated(const util::Address& from, std::uint64_t packet_number,
                                   util::TimePoint now) {
  note_rx(from, now);
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
  if (direct_ && from == current_) return;
  learn_peer_reflexive(from, now);
  maybe_switch(now);
}

void PathManager::learn_peer_reflexive(const util::Address& from, util::TimePoint now) {
  if (config_.relay_only || peer_relay_only_ || !usable(from) || find(from)) return;
  if (remotes_.size() >= kMaxRemoteCandidates) {
    // Make room by forgetting the oldest unvalidated peer-reflexive address.
    const auto victim = std::find_if(remotes_.begin(), remotes_.end(), [](const Remote& r) {
      return r.candidate.kind == wire::CandidateKind::kPeerReflexive && !r.validated;
    });
    if (victim == remotes_.end()) return;
    remotes_.erase(victim);
  }
  // The packet reached us from there, so our side needs no priming towards it.
  Remote& r = add_remote({wire::CandidateKind::kPeerReflexive, from});
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
  const Remote* cur = find(current_);
  if (!cur) {
    switch_to(best, now);
    return;
  }
  // The peer's packets now come from another validated address while ours still go
  // to the old one: its NAT rebound, follow it.
  const Remote* rx = find(last_rx_from_);
  if (rx && rx != cur && rx->validated && rx->validated_at > cur->validated_at) {
    switch_to(rx, now);
    return;
  }
  if (best == cur) return;
  const int best_class = preference_class(best->candidate);
  const int cur_class = preference_class(cur->candidate);
  if (best_class < cur_class ||
      (best_class == cur_class && ratio_of(best->rtt, cur->rtt) < kSwitchRttRatio)) {
    switch_to(best, now);
  }
}

void PathManager::switch_to(const Remote* r, util::TimePoint now) {
  const util::Address target = r ? r->candidate.address : relay_;
  if (target == current_ && direct_ == (r != nullptr)) return;
  current_ = target;
  direct_ = r != nullptr;
  switched_ = true;
  ++stats_.switches;
  awaiting_since_ = util::kNever;
  relay_hint_ = false;
  last_answerable_sent_ = now;
  last_relay_sent_ = now;
  if (direct_) {
    backoff_ = kMinRoundBackoff;
    next_round_ = util::kNever;
    promote_at_ = now + kStreamPromotionDelay;
  } else {
    promote_at_ = util::kNever;
  }
  emit({PathEvent::Kind::kSwitched, current_, direct_, r ? r->rtt : util::Duration{},
        r ? kind_name(r->candidate.kind) : "relay"});
}

void PathManager::fall_back(util::TimePoint now) {
  if (Remote* r = find(current_)) r->validated = false;
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
  next_round_ = now + backoff_;
  backoff_ = backoff_ < kMaxQuickRoundBackoff ? backoff_ * 2 : kSlowRoundInterval;
}

util::Duration PathManager::dead_timeout() const {
  util::Duration rtt{};
  for (const Remote& r : remotes_) {
    if (r.candidate.address == current_) rtt = r.rtt;
  }
  return std::max<util::Duration>(kMinDeadTimeout, kDeadRttFactor * rtt + kDeadSlack);
}

void PathManager::end_round_if_done(util::TimePoint now) {
  if (!round_active_) return;
  if (now - round_started_ >= kRoundTimeout) {
    // The peer never sent its ROUND: no full-TTL probes went to its public side.
    for (Remote& r : remotes_) r.awaiting_peer_priming = false;
  }
  const bool probing = std::any_of(remotes_.begin(), remotes_.end(), [](const Remote& r) {
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
  if (peer_priming_deadline_ <= now) release(now);
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
  for (Remote& r : remotes_) {
    if (r.next_probe > now) continue;
    send_challenge(r.candidate.address, now, 0);
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
        send_challenge(current_, now, 0);
      }
      if (now - last_answerable_sent_ >= kDirectKeepalive) send_challenge(current_, now, 0);
      if (now - last_relay_sent_ >= kRelayKeepalive) {
        send_challenge(relay_, now, 0);
        last_relay_sent_ = now;
      }
    }
  }
}

util::TimePoint PathManager::next_deadline() const {
  if (!started_) return util::kNever;
  util::TimePoint t =
      std::min({candidates_next_, next_round_, peer_priming_deadline_, hold_until_});
  if (ack_owed_ || !out_.empty()) return util::TimePoint{};
  bool probing = false;
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
