#include "session/endpoint.hpp"

#include <algorithm>
#include <utility>

#include "wire/session_packet.hpp"

namespace punch::session {

namespace {
// How long a live session waits before asking the rendezvous again to restore
// its relay: long enough for the peer's own re-registration to land.
constexpr util::Duration kReintroduceRetry = std::chrono::seconds(2);
// Invites remembered for accept() at most: each costs a few bytes, and a listener
// that never answers them must not grow without bound.
constexpr std::size_t kMaxRememberedInvites = 1024;
}  // namespace

Endpoint::Endpoint(const crypto::Identity& identity, util::Address rendezvous, bool listener,
                   crypto::RandomSource& rng, util::DatagramSink& sink,
                   const path::PathConfig& path_config, util::SocketPool* pool)
    : identity_(&identity),
      rng_(&rng),
      sink_(&sink),
      pool_(pool),
      budget_(std::make_unique<path::BirthdayBudget>(path_config.birthday, rng)),
      rendezvous_(identity, rendezvous, listener, rng, sink),
      mapping_check_(rng, sink),
      path_config_(path_config) {}

void Endpoint::start(util::TimePoint now) {
  rendezvous_.start(now);
  pump_rendezvous_events(now);
}

void Endpoint::on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now,
                           util::SocketId socket) {
  // Extra sockets exist for sessions only: the rendezvous knows just the main one.
  if (socket == util::kMainSocket && mapping_check_.on_datagram(from, data, now)) {
    apply_mapping(now);
    return;
  }
  if (socket == util::kMainSocket && RendezvousClient::is_control(data)) {
    rendezvous_.on_datagram(from, data, now);
    pump_rendezvous_events(now);
    return;
  }
  const auto packet = wire::decode_session_packet(data);
  if (!packet) {
    ++stats_.dropped_unknown;
    return;
  }
  const auto it = sessions_.find(packet->connection_id);
  if (it == sessions_.end()) {
    ++stats_.dropped_unknown;
    return;
  }
  it->second.session->on_packet(*packet, from, now, socket);
  collect(it->first, it->second, now);
}

void Endpoint::on_timeout(util::TimePoint now) {
  for (auto it = reintroduce_.begin(); it != reintroduce_.end();) {
    const auto s = sessions_.find(it->first);
    if (s == sessions_.end() || s->second.session->ended()) {
      it = reintroduce_.erase(it);
    } else if (it->second <= now) {
      rendezvous_.connect(it->first, s->second.session->peer(), now);
      it = reintroduce_.erase(it);
    } else {
      ++it;
    }
  }
  if (rendezvous_.next_deadline() <= now) {
    rendezvous_.on_timeout(now);
    pump_rendezvous_events(now);
  }
  if (mapping_check_.next_deadline() <= now) {
    mapping_check_.on_timeout(now);
    apply_mapping(now);
  }
  for (auto& [cid, entry] : sessions_) {
    if (entry.session->next_deadline() <= now) {
      entry.session->on_timeout(now);
      collect(cid, entry, now);
    }
  }
}

util::TimePoint Endpoint::next_deadline() const {
  util::TimePoint t = std::min(rendezvous_.next_deadline(), mapping_check_.next_deadline());
  for (const auto& [cid, when] : reintroduce_) t = std::min(t, when);
  for (const auto& [cid, entry] : sessions_) t = std::min(t, entry.session->next_deadline());
  return t;
}

void Endpoint::flush(util::TimePoint now) {
  for (auto& [cid, entry] : sessions_) {
    entry.session->flush(now);
    collect(cid, entry, now);
  }
}

std::optional<EndpointEvent> Endpoint::poll_event() {
  if (events_.empty()) return std::nullopt;
  EndpointEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::uint64_t Endpoint::connect(const crypto::NodeId& target, util::TimePoint now) {
  std::uint64_t cid = 0;
  do {
    cid = rng_->u64();
  } while (cid == 0 || sessions_.count(cid) || pending_connects_.count(cid));
  pending_connects_.emplace(cid, target);
  rendezvous_.connect(cid, target, now);
  pump_rendezvous_events(now);
  return cid;
}

void Endpoint::accept(std::uint64_t connection_id, const crypto::NodeId& peer,
                      util::TimePoint now) {
  if (!sessions_.count(connection_id)) {
    Session& s =
        add_session(std::make_unique<Session>(SessionRole::kListener, connection_id, *identity_,
                                              peer, rendezvous_.server(), *rng_, *sink_,
                                              path_config_, pool_, budget_.get()),
                    now);
    if (const auto it = invited_from_.find(connection_id); it != invited_from_.end())
      s.paths().add_remote_candidate({wire::CandidateKind::kReflexive, it->second}, now);
  }
  invited_from_.erase(connection_id);
  rendezvous_.accept(connection_id, now);
}

Session& Endpoint::add_session(std::unique_ptr<Session> s, util::TimePoint now) {
  s->paths().set_local_candidates(local_candidates(), now);
  s->paths().set_local_mapping(mapping_check_.mapping(), now);
  s->start(now);
  const std::uint64_t cid = s->connection_id();
  return *sessions_.emplace(cid, Entry{std::move(s)}).first->second.session;
}

void Endpoint::set_host_addresses(std::vector<util::Address> addresses, util::TimePoint now) {
  if (addresses == host_addresses_) return;
  host_addresses_ = std::move(addresses);
  refresh_candidates(now);
}

std::vector<wire::Candidate> Endpoint::local_candidates() const {
  std::vector<wire::Candidate> out;
  for (const util::Address& a : host_addresses_) out.push_back({wire::CandidateKind::kHost, a});
  if (rendezvous_.registered()) {
    const util::Address& r = rendezvous_.reflexive_address();
    // Without a NAT the reflexive address is a host address already.
    if (std::find(host_addresses_.begin(), host_addresses_.end(), r) == host_addresses_.end())
      out.push_back({wire::CandidateKind::kReflexive, r});
  }
  return out;
}

void Endpoint::refresh_candidates(util::TimePoint now) {
  const std::vector<wire::Candidate> candidates = local_candidates();
  for (auto& [cid, entry] : sessions_) {
    if (!entry.session->ended()) entry.session->paths().set_local_candidates(candidates, now);
  }
}

void Endpoint::apply_mapping(util::TimePoint now) {
  if (!mapping_check_.take_changed()) return;
  for (auto& [cid, entry] : sessions_) {
    if (!entry.session->ended())
      entry.session->paths().set_local_mapping(mapping_check_.mapping(), now);
  }
}

void Endpoint::refuse(std::uint64_t connection_id, const std::string& reason, util::TimePoint now) {
  invited_from_.erase(connection_id);
  rendezvous_.refuse(connection_id, reason, now);
}

Session* Endpoint::session(std::uint64_t connection_id) {
  const auto it = sessions_.find(connection_id);
  return it == sessions_.end() ? nullptr : it->second.session.get();
}

void Endpoint::close(std::uint64_t connection_id, std::uint64_t app_code, const std::string& reason,
                     util::TimePoint now) {
  const auto it = sessions_.find(connection_id);
  if (it == sessions_.end()) return;
  it->second.session->close(app_code, reason, now);
  sessions_.erase(it);
  rendezvous_.forget(connection_id);
}

void Endpoint::pump_rendezvous_events(util::TimePoint now) {
  while (auto e = rendezvous_.poll_event()) {
    EndpointEvent out;
    out.connection_id = e->connection_id;
    out.peer = e->peer;
    out.address = e->address;
    out.reason = e->reason;
    switch (e->kind) {
      case RendezvousEvent::Kind::kRegistered:
        out.kind = EndpointEvent::Kind::kRegistered;
        refresh_candidates(now);
        // A new reflexive address may be a new mapping, maybe of another kind of NAT.
        mapping_check_.on_registered(rendezvous_.server(), e->address,
                                     rendezvous_.probe_addresses(), host_addresses_, now);
        apply_mapping(now);
        // After a rendezvous restart the relays are gone with its state; asking
        // again with the same connection IDs rebuilds them (listeners re-accept
        // on their own). Otherwise the answer is just CONNECT_OK again.
        for (auto& [cid, entry] : sessions_) {
          if (entry.session->role() == SessionRole::kConnector && !entry.session->ended())
            rendezvous_.connect(cid, entry.session->peer(), now);
        }
        break;
      case RendezvousEvent::Kind::kUnreachable:
        out.kind = EndpointEvent::Kind::kUnreachable;
        break;
      case RendezvousEvent::Kind::kInvite:
        out.kind = EndpointEvent::Kind::kInvite;
        if (invited_from_.size() >= kMaxRememberedInvites)
          invited_from_.erase(invited_from_.begin());
        invited_from_[e->connection_id] = e->address;
        break;
      case RendezvousEvent::Kind::kConnectFailed:
        // A failed re-introduction of a live session (see kRegistered) is retried
        // until the session itself gives up; only new connects report failure.
        if (pending_connects_.erase(e->connection_id) == 0) {
          if (sessions_.count(e->connection_id))
            reintroduce_[e->connection_id] = now + kReintroduceRetry;
          continue;
        }
        out.kind = EndpointEvent::Kind::kConnectFailed;
        break;
      case RendezvousEvent::Kind::kConnectOk: {
        const auto it = pending_connects_.find(e->connection_id);
        if (it == pending_connects_.end()) continue;  // duplicate CONNECT_OK
        Session& s = add_session(
            std::make_unique<Session>(SessionRole::kConnector, e->connection_id, *identity_,
                                      it->second, rendezvous_.server(), *rng_, *sink_, path_config_,
                                      pool_, budget_.get()),
            now);
        pending_connects_.erase(it);
        s.paths().add_remote_candidate({wire::CandidateKind::kReflexive, e->address}, now);
        continue;
      }
    }
    events_.push_back(std::move(out));
  }
}

void Endpoint::collect(std::uint64_t cid, Entry& entry, util::TimePoint now) {
  Session& s = *entry.session;
  auto session_event = [&](EndpointEvent::Kind kind) -> EndpointEvent& {
    EndpointEvent& e = events_.emplace_back();
    e.kind = kind;
    e.connection_id = cid;
    e.peer = s.peer();
    return e;
  };
  if (s.established() && !entry.announced_up) {
    entry.announced_up = true;
    session_event(EndpointEvent::Kind::kSessionUp).address = s.path();
  }
  while (auto pe = s.paths().poll_event()) {
    // The direct path died, maybe because our NAT rebound: the relay the session
    // falls back to needs our current mapping at the rendezvous now, not at the
    // next keepalive.
    if (pe->kind == path::PathEvent::Kind::kLost) rendezvous_.check_now(now);
    session_event(EndpointEvent::Kind::kPath).path_event = *pe;
  }
  if (s.established()) {
    while (auto te = s.connection().poll_event()) {
      if (te->kind == transport::Event::Kind::kClosed) continue;  // reported as kSessionDown
      session_event(EndpointEvent::Kind::kStream).stream_event = *te;
    }
  }
  if (s.ended() && !entry.announced_down) {
    entry.announced_down = true;
    EndpointEvent& down = session_event(EndpointEvent::Kind::kSessionDown);
    down.reason = s.end_reason().message();
    down.close = s.end_reason();
  }
}

}  // namespace punch::session
