#include "app/tunnel_policy.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "crypto/random.hpp"
#include "session/constants.hpp"
#include "wire/rendezvous_message.hpp"

namespace punch::app {
namespace {

using Kind = TunnelCommand::Kind;
using namespace std::chrono_literals;
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
              if (c.kind == Kind::kLog) {
                logs.push_back(c.reason);
                return;
              }
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

  // Hands the policy an event at the rig's virtual time `now`.
  void on(const session::EndpointEvent& e) { policy.on_event(e, now); }

  util::TimePoint now{};
  std::vector<std::string> logs;
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
  r.on(event(EKind::kRegistered));
  CHECK(r.policy.state() == TunnelPolicy::State::kRegistered);
  r.commands.clear();

  r.on(event(EKind::kInvite, 11, id(5)));
  REQUIRE(r.kinds() == std::vector<Kind>{Kind::kAccept});
  CHECK(r.commands[0].cid == 11);
  CHECK(r.commands[0].peer == id(5));
  CHECK(r.policy.sessions().at(11).state == TunnelPolicy::SessionState::kOpening);

  r.commands.clear();
  r.on(event(EKind::kInvite, 12, id(6)));
  CHECK(r.kinds() == std::vector<Kind>{Kind::kEmit, Kind::kRefuse});
  CHECK(r.emitted() == std::vector<std::string>{"refused"});
  CHECK(r.find(Kind::kRefuse)->reason == "not authorized by the listener");
  CHECK_FALSE(r.policy.sessions().contains(12));

  Rig any(listener(true));
  any.on(event(EKind::kInvite, 13, id(9)));
  CHECK(any.kinds() == std::vector<Kind>{Kind::kAccept});
}

TEST_CASE("tunnel_policy: a connector connects once, at its first registration") {
  Rig r(connector());
  r.on(event(EKind::kRegistered));
  CHECK(r.kinds() == std::vector<Kind>{Kind::kEmit, Kind::kConnect});
  CHECK(r.find(Kind::kConnect)->peer == id(2));
  CHECK(r.policy.sessions().contains(7));
  r.commands.clear();
  r.on(event(EKind::kRegistered));  // the rendezvous restarted
  CHECK(r.kinds() == std::vector<Kind>{Kind::kEmit});

  // Without a target (the simulator's connector) nothing connects on its own.
  TunnelPolicy::Config c = connector();
  c.target.reset();
  Rig bare(c);
  bare.on(event(EKind::kRegistered));
  CHECK(bare.find(Kind::kConnect) == nullptr);
}

TEST_CASE("tunnel_policy: an unanswered rendezvous ends a connector only before it registered") {
  Rig r(connector());
  r.on(event(EKind::kUnreachable));
  CHECK(r.policy.stopped());
  CHECK(r.policy.exit_code() == kExitFailure);
  CHECK(r.kinds() == std::vector<Kind>{Kind::kExit});

  Rig later(connector());
  later.on(event(EKind::kRegistered));
  later.on(event(EKind::kUnreachable));
  CHECK_FALSE(later.policy.stopped());

  Rig l(listener(true));
  l.on(event(EKind::kUnreachable));
  CHECK_FALSE(l.policy.stopped());
}

TEST_CASE("tunnel_policy: a failed introduction ends the connector with status 1") {
  Rig r(connector());
  r.on(event(EKind::kRegistered));
  r.commands.clear();
  r.on(event(EKind::kConnectFailed, 7, {}, "peer not registered"));
  CHECK(r.emitted() == std::vector<std::string>{"connect_failed", "session_down"});
  CHECK(r.find(Kind::kClose)->reason == "peer not registered");
  CHECK(r.kinds().back() == Kind::kExit);
  CHECK(r.policy.exit_code() == kExitFailure);
  // Stopped: later news is ignored.
  r.commands.clear();
  r.on(event(EKind::kInvite, 8, id(4)));
  CHECK(r.commands.empty());
}

TEST_CASE("tunnel_policy: session up opens the channels; a clean end exits 0, another 1") {
  for (const bool clean : {true, false}) {
    CAPTURE(clean);
    Rig r(connector());
    r.on(event(EKind::kRegistered));
    r.on(event(EKind::kSessionUp, 7, id(2)));
    CHECK(r.policy.sessions().at(7).state == TunnelPolicy::SessionState::kUp);
    CHECK(r.find(Kind::kChannelsUp)->cid == 7);
    r.commands.clear();
    auto down = clean ? done_event(7, id(2)) : event(EKind::kSessionDown, 7, id(2), "idle timeout");
    if (!clean)
      down.close = {transport::CloseOrigin::kLocal, transport::CloseKind::kIdle, 0, "idle timeout"};
    const std::string reason = down.reason;
    CHECK(reason == (clean ? "peer: done" : "idle timeout"));
    r.on(down);
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
  r.on(event(EKind::kRegistered));
  r.on(event(EKind::kSessionUp, 7, id(2)));
  r.channels.insert(7);
  r.on(done_event(7, id(2)));
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
  r.on(event(EKind::kRegistered));
  r.channels.insert(7);
  r.on(done_event(7, id(2)));
  CHECK(r.policy.stopped());
  CHECK(r.policy.exit_code() == kExitOk);
  std::size_t exits = 0;
  for (const Kind k : r.kinds()) exits += k == Kind::kExit ? 1 : 0;
  CHECK(exits == 1);
}

TEST_CASE("tunnel_policy: a listener outlives its sessions and closes each once its channels end") {
  Rig r(listener(true));
  r.on(event(EKind::kInvite, 21, id(5)));
  r.on(event(EKind::kSessionUp, 21, id(5)));
  r.channels.insert(21);
  r.on(event(EKind::kSessionDown, 21, id(5), "idle timeout"));
  r.on(event(EKind::kSessionDown, 21, id(5), "again"));  // reported once
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
  r.on(event(EKind::kSessionDown, 99, id(6), "x"));
  CHECK(r.commands.empty());
}

TEST_CASE("tunnel_policy: an interrupt closes every live session as interrupted, exit 130") {
  Rig r(listener(true));
  r.on(event(EKind::kInvite, 21, id(5)));
  r.on(event(EKind::kInvite, 22, id(6)));
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
    r.on(event(EKind::kRegistered));
    r.on(event(EKind::kSessionUp, 7, id(2)));
    r.commands.clear();
    r.policy.on_stdio_finished(clean ? "" : "stdin: read error");
    const TunnelCommand* close = r.find(Kind::kClose);
    REQUIRE(close != nullptr);
    CHECK(close->close_code == (clean ? kCloseDone : kCloseError));
    CHECK(close->reason == (clean ? "done" : "stdin: read error"));
  }
}

// How many commands of `kind` named `name` (kEmit) are in `commands`.
std::size_t count_emits(const std::vector<TunnelCommand>& commands, const std::string& name) {
  std::size_t n = 0;
  for (const auto& c : commands) n += c.kind == Kind::kEmit && c.name == name ? 1 : 0;
  return n;
}

TEST_CASE("tunnel_policy: a flood of refusals is reported in full once, then summed up, per 10 s") {
  Rig r(listener(false, {id(5)}));
  // 3,000 invitations from 100 keys it does not allow, one every 10 ms for 30 s.
  const util::TimePoint start = r.now;
  std::uint64_t cid = 1000;
  for (int i = 0; i < 3000; ++i) {
    r.now = start + i * 10ms;
    if (r.policy.next_deadline() <= r.now) r.policy.on_timeout(r.now);
    r.on(event(EKind::kInvite, cid++, id(static_cast<std::uint8_t>(100 + i % 100))));
  }
  r.now += 10s;
  REQUIRE(r.policy.next_deadline() <= r.now);
  r.policy.on_timeout(r.now);
  CHECK(r.policy.next_deadline() == util::kNever);

  std::size_t refused = 0;
  for (const auto& c : r.commands) refused += c.kind == Kind::kRefuse ? 1 : 0;
  CHECK(refused == 3000);  // every one refused...
  // ...and reported in at most two records per 10 s interval: 30 s of flood, 3 intervals.
  const std::size_t full = count_emits(r.commands, "refused");
  const std::size_t summaries = count_emits(r.commands, "refused_summary");
  CHECK(full == 3);
  CHECK(summaries == 3);
  CHECK(r.logs.size() == full + summaries);
  // The summaries add up: nothing refused goes unreported.
  std::int64_t summed = 0;
  for (const auto& c : r.commands) {
    if (c.kind != Kind::kEmit || c.name != "refused_summary") continue;
    CHECK(std::get<std::int64_t>(c.fields.at(1).second) == 100);  // keys
    summed += std::get<std::int64_t>(c.fields.at(0).second);
  }
  CHECK(summed + static_cast<std::int64_t>(full) == 3000);
  CHECK(r.logs.back().find("more invitations from 100 keys in the last 10 s (") !=
        std::string::npos);
  CHECK(r.logs.back().find("not authorized by the listener)") != std::string::npos);

  // Quiet again: the next refusal is reported in full at once.
  r.commands.clear();
  r.on(event(EKind::kInvite, cid++, id(7)));
  CHECK(count_emits(r.commands, "refused") == 1);
}

TEST_CASE(
    "tunnel_policy: at most 16 handshakes per peer and 64 in all; the rest are refused busy") {
  std::set<crypto::NodeId> allowed;
  for (std::uint8_t n = 10; n < 20; ++n) allowed.insert(id(n));
  Rig r(listener(false, allowed));
  auto count = [&](Kind kind) {
    std::size_t n = 0;
    for (const auto& c : r.commands) n += c.kind == kind ? 1 : 0;
    return n;
  };
  std::uint64_t cid = 1;
  for (std::size_t i = 0; i < kMaxHandshakesPerPeer + 4; ++i)
    r.on(event(EKind::kInvite, cid++, id(10)));
  CHECK(count(Kind::kAccept) == kMaxHandshakesPerPeer);
  CHECK(count(Kind::kRefuse) == 4);
  REQUIRE(r.find(Kind::kRefuse) != nullptr);
  CHECK(r.find(Kind::kRefuse)->reason == "listener busy: too many of your sessions in handshake");

  // A session that comes up leaves the handshake count: its peer gets one more.
  r.on(event(EKind::kSessionUp, 1, id(10)));
  r.commands.clear();
  r.on(event(EKind::kInvite, cid++, id(10)));
  CHECK(r.kinds() == std::vector<Kind>{Kind::kAccept});

  // Other peers fill the rest, up to 64 in handshake in all.
  r.commands.clear();
  for (std::uint8_t n = 11; n < 16; ++n)
    for (std::size_t i = 0; i < kMaxHandshakesPerPeer; ++i)
      r.on(event(EKind::kInvite, cid++, id(n)));
  CHECK(count(Kind::kAccept) == kMaxHandshakes - kMaxHandshakesPerPeer);
  REQUIRE(r.find(Kind::kRefuse) != nullptr);
  CHECK(r.find(Kind::kRefuse)->reason == "listener busy: too many sessions in handshake");

  // A handshake that ends (timed out) frees its place once forgotten.
  r.on(event(EKind::kSessionDown, 2, id(10), "handshake timed out"));
  r.policy.forget_ended();
  r.commands.clear();
  r.on(event(EKind::kInvite, cid++, id(19)));
  CHECK(r.kinds() == std::vector<Kind>{Kind::kAccept});
  // Unauthorized keys are refused as such, busy or not.
  r.commands.clear();
  r.on(event(EKind::kInvite, cid++, id(99)));
  REQUIRE(r.find(Kind::kRefuse) != nullptr);
  CHECK(r.find(Kind::kRefuse)->reason == "not authorized by the listener");
  CHECK(r.policy.sessions().size() == kMaxHandshakes + 1);  // one of them up
}

// Discards what the endpoint sends, counting it.
class CountingSink final : public util::DatagramSink {
 public:
  void send(const util::Address&, util::ByteView) override { ++sent; }
  std::uint64_t sent = 0;
};

TEST_CASE("tunnel_policy: 10,000 forged invitations cost a listener a bounded amount") {
  // A malicious rendezvous forges invitations at 1,000/s for 10 s: half from the
  // listener's allowed keys (which it can learn), half from any keys. None is followed
  // by a handshake. The listener must hold at most kMaxHandshakes sessions at any time,
  // free each kHandshakeTimeout after it began, and report refusals in a few lines.
  crypto::SeededRandom rng(17);
  auto identity = crypto::Identity::generate(rng);
  REQUIRE(identity.ok());
  const util::Address rv = util::Address::v4(198, 51, 100, 1, 7777);
  CountingSink sink;
  session::Endpoint endpoint(*identity, rv, true, rng, sink);
  std::set<crypto::NodeId> allowed;
  for (std::uint8_t n = 10; n < 18; ++n) allowed.insert(id(n));
  std::vector<TunnelCommand> reports;
  util::TimePoint now{};
  TunnelPolicy policy(
      listener(false, allowed),
      [&](const TunnelCommand& c) {
        switch (c.kind) {
          case Kind::kAccept:
            endpoint.accept(c.cid, c.peer, now);
            break;
          case Kind::kRefuse:
            endpoint.refuse(c.cid, c.reason, now);
            break;
          case Kind::kClose:
            endpoint.close(c.cid, c.close_code, c.reason, now);
            break;
          case Kind::kEmit:
          case Kind::kLog:
            reports.push_back(c);
            break;
          default:
            break;
        }
      },
      [](std::uint64_t) { return false; });
  endpoint.start(now);
  auto pump = [&] {
    if (endpoint.next_deadline() <= now) endpoint.on_timeout(now);
    if (policy.next_deadline() <= now) policy.on_timeout(now);
    while (auto e = endpoint.poll_event()) policy.on_event(*e, now);
    policy.forget_ended();
    endpoint.flush(now);
  };

  std::size_t most_sessions = 0;
  std::size_t accepted = 0;
  util::Bytes datagram;
  for (std::uint64_t i = 0; i < 10'000; ++i) {
    now = util::TimePoint{} + i * 1ms;
    wire::Invite invite;
    invite.connection_id = 0x1000 + i;
    invite.connector = i % 2 == 0 ? id(static_cast<std::uint8_t>(10 + (i / 2) % 8))
                                  : id(static_cast<std::uint8_t>(100 + i % 100));
    invite.connector_address = util::Address::v4(203, 0, 113, 9, static_cast<std::uint16_t>(i));
    datagram.clear();
    wire::encode(invite, datagram);
    endpoint.on_datagram(rv, datagram, now);
    pump();
    if (endpoint.session(invite.connection_id) != nullptr) ++accepted;
    most_sessions = std::max(most_sessions, endpoint.session_count());
  }
  CHECK(most_sessions == kMaxHandshakes);
  CHECK(accepted == kMaxHandshakes);  // none of the first ended within the 10 s
  // Every session in handshake ends kHandshakeTimeout after it began.
  const util::TimePoint flood_end = now;
  while (endpoint.session_count() > 0 && now < flood_end + 60s) {
    now = std::min(endpoint.next_deadline(), policy.next_deadline());
    pump();
  }
  CHECK(endpoint.session_count() == 0);
  CHECK(now <= util::TimePoint{} + session::kHandshakeTimeout + 1s);
  CHECK(policy.sessions().empty());
  // What was said about it: refusals in a few lines, one line per ended handshake.
  std::size_t refusal_reports = 0;
  for (const auto& c : reports)
    refusal_reports +=
        c.reason.starts_with("refused") || (c.kind == Kind::kEmit && c.name.starts_with("refused"));
  CHECK(refusal_reports <= 8);
}

}  // namespace
}  // namespace punch::app
