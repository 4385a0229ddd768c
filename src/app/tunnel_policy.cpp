#include "app/tunnel_policy.hpp"

#include <chrono>
#include <utility>

namespace punch::app {

using Kind = TunnelCommand::Kind;
using util::LogLevel;

// The peer closed with "done": its streams finished, nothing was cut short.
bool ended_cleanly(const session::EndpointEvent& e) { return e.close.peer_application(kCloseDone); }

TunnelPolicy::TunnelPolicy(Config config, Sink sink, HasChannels has_channels)
    : config_(std::move(config)), sink_(std::move(sink)), has_channels_(std::move(has_channels)) {}

void TunnelPolicy::emit(const std::string& name, EventFields fields) {
  TunnelCommand c;
  c.kind = Kind::kEmit;
  c.name = name;
  c.fields = std::move(fields);
  run(std::move(c));
}

void TunnelPolicy::log(LogLevel level, const std::string& line) {
  TunnelCommand c;
  c.kind = Kind::kLog;
  c.level = level;
  c.reason = line;
  run(std::move(c));
}

void TunnelPolicy::on_event(const session::EndpointEvent& e, util::TimePoint now) {
  if (stopped()) return;
  switch (e.kind) {
    case session::EndpointEvent::Kind::kRegistered:
      on_registered(e);
      break;
    case session::EndpointEvent::Kind::kUnreachable:
      if (!config_.listener && state_ == State::kRegistering) {
        finish("rendezvous " + config_.rendezvous + " does not answer", kExitFailure);
        return;
      }
      log(LogLevel::kWarn, "rendezvous " + config_.rendezvous + " does not answer; retrying");
      break;
    case session::EndpointEvent::Kind::kInvite:
      on_invite(e, now);
      break;
    case session::EndpointEvent::Kind::kConnectFailed:
      emit("connect_failed",
           {{"peer", config_.target ? config_.target->to_string() : e.peer.to_string()},
            {"reason", e.reason}});
      finish(e.reason, kExitFailure);
      break;
    case session::EndpointEvent::Kind::kSessionUp:
      on_session_up(e);
      break;
    case session::EndpointEvent::Kind::kSessionDown:
      on_session_down(e);
      break;
    case session::EndpointEvent::Kind::kStream:
    case session::EndpointEvent::Kind::kPath:
      break;
  }
}

void TunnelPolicy::on_registered(const session::EndpointEvent& e) {
  const std::string self = config_.self.to_string();
  emit("registered",
       {{"address", e.address.to_string()}, {"rendezvous", config_.rendezvous}, {"id", self}});
  log(LogLevel::kDebug,
      "registered at " + config_.rendezvous + ", seen as " + e.address.to_string());
  if (state_ != State::kRegistering) return;
  state_ = State::kRegistered;
  if (config_.listener) {
    log(LogLevel::kInfo, "listening as " + self);
    log(LogLevel::kInfo, "connect with: punch connect -r " + config_.rendezvous + " " + self);
  } else if (config_.target) {
    TunnelCommand c;
    c.kind = Kind::kConnect;
    c.peer = *config_.target;
    run(std::move(c));
  }
}

void TunnelPolicy::connecting(std::uint64_t cid, const crypto::NodeId& peer) {
  sessions_[cid].peer = peer.to_string();
}

void TunnelPolicy::on_timeout(util::TimePoint now) {
  if (stopped()) return;
  if (auto s = refusals_.take_summary(now)) {
    log(LogLevel::kWarn, "refused " + describe(*s));
    emit("refused_summary",
         {{"count", static_cast<std::int64_t>(s->refusals)},
          {"keys", static_cast<std::int64_t>(s->keys)},
          {"seconds",
           static_cast<std::int64_t>(
               std::chrono::duration_cast<std::chrono::seconds>(kRefusalReportInterval).count())}});
  }
}

util::TimePoint TunnelPolicy::next_deadline() const {
  return stopped() ? util::kNever : refusals_.next_deadline();
}

// Why an allowed peer's invitation cannot be taken now, if it cannot.
std::optional<std::string> TunnelPolicy::busy(const std::string& peer) const {
  std::size_t total = 0;
  std::size_t of_peer = 0;
  for (const auto& [cid, info] : sessions_) {
    if (info.state != SessionState::kOpening) continue;
    ++total;
    if (info.peer == peer) ++of_peer;
  }
  // Fixed texts: RefusalLog counts refusals per reason.
  if (of_peer >= kMaxHandshakesPerPeer)
    return std::string("listener busy: too many of your sessions in handshake");
  if (total >= kMaxHandshakes) return std::string("listener busy: too many sessions in handshake");
  return std::nullopt;
}

// Refuses an invitation; what is logged and emitted about it is bounded (RefusalLog).
void TunnelPolicy::refuse(const session::EndpointEvent& e, const std::string& reason,
                          util::TimePoint now) {
  on_timeout(now);  // an interval that ended is summed up before the next opens
  const std::string peer = e.peer.to_string();
  if (refusals_.record(e.peer, reason, now)) {
    log(LogLevel::kWarn, "refused " + peer + ": " + reason);
    emit("refused", {{"peer", peer}, {"reason", reason}});
  }
  TunnelCommand c;
  c.kind = Kind::kRefuse;
  c.cid = e.connection_id;
  c.reason = reason;
  run(std::move(c));
}

void TunnelPolicy::on_invite(const session::EndpointEvent& e, util::TimePoint now) {
  const std::string peer = e.peer.to_string();
  const PeerPolicy& p = config_.peers;
  if (!p.allow_any && !p.allowed.count(e.peer)) {
    refuse(e, "not authorized by the listener", now);
    return;
  }
  // A re-sent invitation for a session we already have is the endpoint's business.
  if (!sessions_.contains(e.connection_id)) {
    if (auto why = busy(peer)) {
      refuse(e, *why, now);
      return;
    }
  }
  log(LogLevel::kDebug, "accepting " + peer);
  sessions_[e.connection_id].peer = peer;
  TunnelCommand c;
  c.kind = Kind::kAccept;
  c.cid = e.connection_id;
  c.peer = e.peer;
  run(std::move(c));
}

void TunnelPolicy::on_session_up(const session::EndpointEvent& e) {
  const std::string peer = e.peer.to_string();
  if (const auto it = sessions_.find(e.connection_id); it != sessions_.end())
    it->second.state = SessionState::kUp;
  log(LogLevel::kInfo, "session with " + peer + " up via relay " + e.address.to_string());
  emit("session_up", {{"peer", peer}, {"via", "relay"}});
  TunnelCommand c;
  c.kind = Kind::kChannelsUp;
  c.cid = e.connection_id;
  run(std::move(c));
}

void TunnelPolicy::on_session_down(const session::EndpointEvent& e) {
  const auto it = sessions_.find(e.connection_id);
  if (it == sessions_.end() || it->second.state == SessionState::kDown) return;
  SessionRecord& info = it->second;
  info.state = SessionState::kDown;
  info.down_reason = e.reason;
  const std::string peer = info.peer;  // `info` may go if a command finishes the tunnel
  emit("session_down", {{"peer", peer}, {"reason", e.reason}});
  const bool clean = ended_cleanly(e);
  if (clean) {
    log(LogLevel::kDebug, "session with " + peer + " ended by the peer");
  } else {
    log(LogLevel::kWarn, "session with " + peer + " ended: " + e.reason);
  }
  TunnelCommand c;
  c.kind = Kind::kChannelsDown;
  c.cid = e.connection_id;
  c.reason = e.reason;
  c.clean = clean;
  run(std::move(c));
  // A connector lives for its one session; with stdio, the stdio channel
  // decides (it may still be writing out what arrived before the end).
  if (!config_.listener && !stopped() && !has_channels_(e.connection_id)) {
    if (clean) {
      finish("", kExitOk);
    } else {
      finish(e.reason, kExitFailure);
    }
  }
}

void TunnelPolicy::on_stdio_finished(const std::string& reason) {
  if (reason.empty()) {
    // The stdio stream belongs to the first session (a connector has one; a
    // listener gives stdio to the first that asks).
    const std::string peer = sessions_.empty() ? std::string() : sessions_.begin()->second.peer;
    emit("stream_close", {{"peer", peer}});
    finish("", kExitOk);
  } else {
    finish(reason, kExitFailure);
  }
}

void TunnelPolicy::on_interrupted() { finish("interrupted", kExitInterrupted); }

void TunnelPolicy::forget_ended() {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.state == SessionState::kDown && !has_channels_(it->first)) {
      TunnelCommand c;
      c.kind = Kind::kClose;
      c.cid = it->first;
      c.reason = it->second.down_reason;  // already ended: nothing reaches the peer
      it = sessions_.erase(it);
      run(std::move(c));
    } else {
      ++it;
    }
  }
}

// Ends the process's work: closes every session (telling each peer why) and stops.
void TunnelPolicy::finish(const std::string& reason, int code) {
  if (stopped()) return;
  state_ = State::kStopped;
  exit_code_ = code;
  const std::string why = reason.empty() ? std::string(kCloseDoneText) : reason;
  const std::uint64_t close_code = reason.empty()             ? kCloseDone
                                   : code == kExitInterrupted ? kCloseInterrupted
                                                              : kCloseError;
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (const auto& [cid, info] : sessions) {
    const bool down = info.state == SessionState::kDown;
    if (!down) emit("session_down", {{"peer", info.peer}, {"reason", why}});
    TunnelCommand c;
    c.kind = Kind::kClose;
    c.cid = cid;
    c.reason = down ? info.down_reason : why;
    c.close_code = close_code;
    run(std::move(c));
  }
  if (!reason.empty() && code != kExitInterrupted) log(LogLevel::kError, reason);
  TunnelCommand c;
  c.kind = Kind::kExit;
  run(std::move(c));
}

}  // namespace punch::app
