#include "app/tunnel_policy.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

namespace punch::app {
namespace {

using Kind = TunnelCommand::Kind;
using EKind = session::EndpointEvent::Kind;

crypto::NodeId id(std::uint8_t n) {
  const util::Bytes raw(crypto::NodeId::kSize, n);
  return *crypto::NodeId::from_bytes(raw);
}

session::EndpointEvent event(EKind kind, std::uint64_t cid = 0, crypto::NodeId peer = {},
                             std::string reason = "") {
  session::EndpointEvent e;
  e.kind = kind;
  e.connection_id = cid;
  e.peer = peer;
  e.reason = std::move(reason);
  return e;
}

// The peer's clean close: application code "done", as the transport reports it.
session::EndpointEvent done_event(std::uint64_t cid, crypto::NodeId peer) {
  auto e = event(EKind::kSessionDown, cid, peer);
  e.close = {transport::CloseOrigin::kPeer, transport::CloseKind::kApplication, kCloseDone,
             std::string(kCloseDoneText)};
  e.reason = e.close.message();
  return e;
}

// A policy whose commands are recorded (logs left out), with the forwarder's
// channels modelled as a set of session IDs.
struct Rig {
  explicit Rig(TunnelPolicy::Config config)
      : policy(
            std::move(config),
            [this](const TunnelCommand& c) {
              if (c.kind == Kind::kLog) return;
              commands.push_back(c);
              if (c.kind == Kind::kConnect) policy.connecting(next_cid, c.peer);
              if (c.kind == Kind::kChannelsDown && stdio_ends_with_session) {
                channels.erase(c.cid);
                policy.on_stdio_finished("");
              }
            },
            [this](std::uint64_t cid) { return channels.count(cid) > 0; }) {}

  std::vector<Kind> kinds() const {
    std::vector<Kind> out;
    for (const auto& c : commands) out.push_back(c.kind);
    return out;
  }
  std::vector<std::string> emitted() const {
    std::vector<std::string> out;
    for (const auto& c : commands)
      if (c.kind == Kind::kEmit) out.push_back(c.name);
    return out;
  }
  const TunnelCommand* find(Kind kind) const {
    for (const auto& c : commands)
      if (c.kind == kind) return &c;
    return nullptr;
  }

  std::vector<TunnelCommand> commands;
  std::set<std::uint64_t> channels;
  std::uint64_t next_cid = 7;
  bool stdio_ends_with_session = false;
  TunnelPolicy policy;
};

TunnelPolicy::Config listener(bool allow_any, std::set<crypto::NodeId> allowed = {}) {
  TunnelPolicy::Config c;
  c.listener = true;
  c.peers.allow_any = allow_any;
  c.peers.allowed = std::move(allowed);
  c.self = id(1);
  c.rendezvous = "rv.example";
  return c;
}

TunnelPolicy::Config connector() {
  TunnelPolicy::Config c;
  c.target = id(2);
  c.self = id(3);
  c.rendezvous = "rv.example";
  return c;
}

TEST_CASE("tunnel_policy: a listener accepts allowed peers and refuses the others") {
  Rig r(listener(false, {id(5)}));
  r.policy.on_event(event(EKind::kRegistered));
  CHECK(r.policy.state() == TunnelPolicy::State::kRegistered);
  r.commands.clear();

  r.policy.on_event(event(EKind::kInvite, 11, id(5)));
  REQUIRE(r.kinds() == std::vector<Kind>{Kind::kAccept});
  CHECK(r.commands[0].cid == 11);
  CHECK(r.commands[0].peer == id(5));
  CHECK(r.policy.sessions().at(11).state == TunnelPolicy::SessionState::kOpening);

  r.commands.clear();
  r.policy.on_event(event(EKind::kInvite, 12, id(6)));
  CHECK(r.kinds() == std::vector<Kind>{Kind::kEmit, Kind::kRefuse});
  CHECK(r.emitted() == std::vector<std::string>{"refused"});
  CHECK(r.find(Kind::kRefuse)->reason == "not authorized by the listener");
  CHECK_FALSE(r.policy.sessions().contains(12));

  Rig any(listener(true));
  any.policy.on_event(event(EKind::kInvite, 13, id(9)));
  CHECK(any.kinds() == std::vector<Kind>{Kind::kAccept});
}

TEST_CASE("tunnel_policy: a connector connects once, at its first registration") {
  Rig r(connector());
  r.policy.on_event(event(EKind::kRegistered));
  CHECK(r.kinds() == std::vector<Kind>{Kind::kEmit, Kind::kConnect});
  CHECK(r.find(Kind::kConnect)->peer == id(2));
  CHECK(r.policy.sessions().contains(7));
  r.commands.clear();
  r.policy.on_event(event(EKind::kRegistered));  // the rendezvous restarted
  CHECK(r.kinds() == std::vector<Kind>{Kind::kEmit});

  // Without a target (the simulator's connector) nothing connects on its own.
  TunnelPolicy::Config c = connector();
  c.target.reset();
  Rig bare(c);
  bare.policy.on_event(event(EKind::kRegistered));
  CHECK(bare.find(Kind::kConnect) == nullptr);
}

TEST_CASE("tunnel_policy: an unanswered rendezvous ends a connector only before it registered") {
  Rig r(connector());
  r.policy.on_event(event(EKind::kUnreachable));
  CHECK(r.policy.stopped());
  CHECK(r.policy.exit_code() == kExitFailure);
  CHECK(r.kinds() == std::vector<Kind>{Kind::kExit});

  Rig later(connector());
  later.policy.on_event(event(EKind::kRegistered));
  later.policy.on_event(event(EKind::kUnreachable));
  CHECK_FALSE(later.policy.stopped());

  Rig l(listener(true));
  l.policy.on_event(event(EKind::kUnreachable));
  CHECK_FALSE(l.policy.stopped());
}

TEST_CASE("tunnel_policy: a failed introduction ends the connector with status 1") {
  Rig r(connector());
  r.policy.on_event(event(EKind::kRegistered));
  r.commands.clear();
  r.policy.on_event(event(EKind::kConnectFailed, 7, {}, "peer not registered"));
  CHECK(r.emitted() == std::vector<std::string>{"connect_failed", "session_down"});
  CHECK(r.find(Kind::kClose)->reason == "peer not registered");
  CHECK(r.kinds().back() == Kind::kExit);
  CHECK(r.policy.exit_code() == kExitFailure);
  // Stopped: later news is ignored.
  r.commands.clear();
  r.policy.on_event(event(EKind::kInvite, 8, id(4)));
  CHECK(r.commands.empty());
}

TEST_CASE("tunnel_policy: session up opens the channels; a clean end exits 0, another 1") {
  for (const bool clean : {true, false}) {
    CAPTURE(clean);
    Rig r(connector());
    r.policy.on_event(event(EKind::kRegistered));
    r.policy.on_event(event(EKind::kSessionUp, 7, id(2)));
    CHECK(r.policy.sessions().at(7).state == TunnelPolicy::SessionState::kUp);
    CHECK(r.find(Kind::kChannelsUp)->cid == 7);
    r.commands.clear();
    auto down = clean ? done_event(7, id(2)) : event(EKind::kSessionDown, 7, id(2), "idle timeout");
    if (!clean)
      down.close = {transport::CloseOrigin::kLocal, transport::CloseKind::kIdleTimeout, 0,
                    "idle timeout"};
    const std::string reason = down.reason;
    CHECK(reason == (clean ? "peer: done" : "idle timeout"));
    r.policy.on_event(down);
    CHECK(r.find(Kind::kChannelsDown)->clean == clean);
    CHECK(r.policy.stopped());
    CHECK(r.policy.exit_code() == (clean ? kExitOk : kExitFailure));
    // The session is closed with the reason it ended with, and reported down once.
    CHECK(r.emitted() == std::vector<std::string>{"session_down"});
    CHECK(r.find(Kind::kClose)->reason == reason);
    CHECK(r.kinds().back() == Kind::kExit);
  }
}

TEST_CASE("tunnel_policy: with channels still running, the stdio channel decides the exit") {
  Rig r(connector());
  r.policy.on_event(event(EKind::kRegistered));
  r.policy.on_event(event(EKind::kSessionUp, 7, id(2)));
  r.channels.insert(7);
  r.policy.on_event(done_event(7, id(2)));
  CHECK_FALSE(r.policy.stopped());
  CHECK(r.policy.sessions().at(7).state == TunnelPolicy::SessionState::kDown);
  r.policy.forget_ended();  // its channels still run: kept
  CHECK(r.policy.sessions().contains(7));

  r.commands.clear();
  r.policy.on_stdio_finished("");
  CHECK(r.emitted() == std::vector<std::string>{"stream_close"});  // already reported down
  CHECK(r.policy.exit_code() == kExitOk);
  CHECK(r.kinds() == std::vector<Kind>{Kind::kEmit, Kind::kClose, Kind::kExit});

  Rig failed(connector());
  failed.policy.on_stdio_finished("stdout: broken pipe");
  CHECK(failed.policy.exit_code() == kExitFailure);
}

TEST_CASE("tunnel_policy: the stdio channel ending inside the session's end stops once") {
  Rig r(connector());
  r.stdio_ends_with_session = true;
  r.policy.on_event(event(EKind::kRegistered));
  r.channels.insert(7);
  r.policy.on_event(done_event(7, id(2)));
  CHECK(r.policy.stopped());
  CHECK(r.policy.exit_code() == kExitOk);
  std::size_t exits = 0;
  for (const Kind k : r.kinds()) exits += k == Kind::kExit ? 1 : 0;
  CHECK(exits == 1);
}

TEST_CASE("tunnel_policy: a listener outlives its sessions and closes each once its channels end") {
  Rig r(listener(true));
  r.policy.on_event(event(EKind::kInvite, 21, id(5)));
  r.policy.on_event(event(EKind::kSessionUp, 21, id(5)));
  r.channels.insert(21);
  r.policy.on_event(event(EKind::kSessionDown, 21, id(5), "idle timeout"));
  r.policy.on_event(event(EKind::kSessionDown, 21, id(5), "again"));  // reported once
  CHECK_FALSE(r.policy.stopped());
  r.commands.clear();
  r.policy.forget_ended();
  CHECK(r.commands.empty());
  r.channels.clear();
  r.policy.forget_ended();
  REQUIRE(r.kinds() == std::vector<Kind>{Kind::kClose});
  CHECK(r.commands[0].cid == 21);
  CHECK(r.commands[0].reason == "idle timeout");
  CHECK(r.policy.sessions().empty());
  // A session the policy never took is none of its business.
  r.commands.clear();
  r.policy.on_event(event(EKind::kSessionDown, 99, id(6), "x"));
  CHECK(r.commands.empty());
}

TEST_CASE("tunnel_policy: an interrupt closes every live session as interrupted, exit 130") {
  Rig r(listener(true));
  r.policy.on_event(event(EKind::kInvite, 21, id(5)));
  r.policy.on_event(event(EKind::kInvite, 22, id(6)));
  r.commands.clear();
  r.policy.on_interrupted();
  CHECK(r.policy.exit_code() == kExitInterrupted);
  CHECK(r.kinds() ==
        std::vector<Kind>{Kind::kEmit, Kind::kClose, Kind::kEmit, Kind::kClose, Kind::kExit});
  CHECK(r.find(Kind::kClose)->reason == "interrupted");
  CHECK(r.find(Kind::kClose)->close_code == kCloseInterrupted);
  CHECK(r.policy.sessions().empty());
}

TEST_CASE(
    "tunnel_policy: a live session is closed with code done when stdio ends cleanly, error "
    "otherwise") {
  for (const bool clean : {true, false}) {
    CAPTURE(clean);
    Rig r(connector());
    r.policy.on_event(event(EKind::kRegistered));
    r.policy.on_event(event(EKind::kSessionUp, 7, id(2)));
    r.commands.clear();
    r.policy.on_stdio_finished(clean ? "" : "stdin: read error");
    const TunnelCommand* close = r.find(Kind::kClose);
    REQUIRE(close != nullptr);
    CHECK(close->close_code == (clean ? kCloseDone : kCloseError));
    CHECK(close->reason == (clean ? "done" : "stdin: read error"));
  }
}

}  // namespace
}  // namespace punch::app
