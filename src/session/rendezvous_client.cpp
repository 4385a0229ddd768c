#include "session/rendezvous_client.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <unordered_map>
#include <variant>

#include "session/constants.hpp"
#include "wire/packet_type.hpp"
#include "wire/rendezvous_message.hpp"

namespace punch::session {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

/// First HELLO retransmission timeout; doubles per retransmission.
constexpr util::Duration kHelloInitialTimeout = milliseconds(250);
/// Cap of the HELLO timeout: the client retries forever, at most this far apart.
constexpr util::Duration kHelloMaxTimeout = seconds(4);
/// First KEEPALIVE retransmission timeout; doubles up to kKeepaliveMaxTimeout.
constexpr util::Duration kKeepaliveInitialTimeout = seconds(1);
/// Cap of the KEEPALIVE timeout.
constexpr util::Duration kKeepaliveMaxTimeout = seconds(4);
/// Retransmissions of one KEEPALIVE (after 1 s, 2 s, 4 s) before the registration
/// is presumed lost; the last one is waited for kKeepaliveMaxTimeout.
constexpr int kKeepaliveRetransmissions = 3;
/// Keepalive periods accepted from the server; the upper bound stays under the
/// ~30 s after which NAT routers drop idle mappings, whatever the server says.
constexpr util::Duration kMinKeepaliveInterval = seconds(1);
constexpr util::Duration kMaxKeepaliveInterval = seconds(25);
/// Without a registration for this long, the user is told (once) that the
/// rendezvous cannot be reached; retrying goes on.
constexpr util::Duration kUnreachableAfter = seconds(5);
/// First CONNECT retransmission timeout; doubles up to kConnectMaxTimeout.
constexpr util::Duration kConnectInitialTimeout = milliseconds(500);
/// Cap of the CONNECT timeout.
constexpr util::Duration kConnectMaxTimeout = seconds(4);
/// A connect() with no CONNECT_OK or CONNECT_FAIL this long after the call fails.
constexpr util::Duration kConnectGiveUp = seconds(10);
/// Invites remembered (for dedupe and to re-send our answer); bounds memory if
/// something spoofing the server sends INVITEs with endless fresh cids.
constexpr std::size_t kMaxRememberedInvites = 4096;

// A peer-supplied reason is shown on a terminal: control characters (C0, DEL and
// the UTF-8-encoded C1 range, which includes CSI) become '?'.
std::string printable(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<std::uint8_t>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      out.push_back('?');
    } else if (c == 0xc2 && i + 1 < text.size() && static_cast<std::uint8_t>(text[i + 1]) >= 0x80 &&
               static_cast<std::uint8_t>(text[i + 1]) <= 0x9f) {
      out.push_back('?');
      ++i;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

RendezvousEvent make_event(RendezvousEvent::Kind kind) {
  RendezvousEvent ev;
  ev.kind = kind;
  return ev;
}

// Our own REFUSE reason must decode at the server (<= 200 bytes of UTF-8).
std::string wire_reason(std::string_view reason) {
  std::string r(reason);
  if (!wire::is_valid_utf8(r)) {
    for (char& c : r)
      if (static_cast<std::uint8_t>(c) >= 0x80) c = '?';
  }
  return wire::truncate_reason(r);
}

}  // namespace

struct RendezvousClient::State {
  enum class Phase { kIdle, kRegistering, kRegistered };
  enum class Decision { kNone, kAccepted, kRefused };

  struct PendingConnect {
    crypto::NodeId target;
    util::TimePoint give_up{};
    util::TimePoint next_send{};  ///< Only meaningful while registered.
    util::Duration timeout = kConnectInitialTimeout;
  };
  struct Invite {
    std::uint64_t order = 0;  ///< Key in invite_order, for eviction of the oldest.
    Decision decision = Decision::kNone;
    std::string reason;
  };

  State(const crypto::Identity& id, util::Address srv, bool lst, crypto::RandomSource& r,
        util::DatagramSink& s)
      : identity(id), server(srv), listener(lst), rng(r), sink(s), instance(r.u64()) {}

  const crypto::Identity& identity;
  util::Address server;
  bool listener;
  crypto::RandomSource& rng;
  util::DatagramSink& sink;
  std::uint64_t instance;  // Chosen once: re-registrations keep their relays.

  Phase phase = Phase::kIdle;
  // Registering.
  wire::Nonce nonce{};
  util::TimePoint hello_next{};
  util::Duration hello_timeout = kHelloInitialTimeout;
  wire::Cookie signed_cookie{};
  util::Bytes register_datagram;  // Signed once per cookie; re-sent on duplicate CHALLENGEs.
  util::TimePoint lost_since{};
  bool unreachable_reported = false;
  // Registered.
  wire::Token token{};
  util::Address reflexive;
  std::vector<util::Address> probe_addresses;  // From REGISTERED, as sent.
  util::Duration keepalive_interval = seconds(15);
  util::TimePoint next_keepalive{};
  bool ack_pending = false;
  util::TimePoint ack_deadline{};
  util::Duration ack_timeout = kKeepaliveInitialTimeout;
  int retransmissions = 0;

  std::map<std::uint64_t, PendingConnect> connects;
  std::unordered_map<std::uint64_t, Invite> invites;
  std::map<std::uint64_t, std::uint64_t> invite_order;  // order -> cid
  std::uint64_t next_invite_order = 0;
  std::deque<RendezvousEvent> events;
  util::Bytes out;
  // The REFUSE budget as a GCRA theoretical arrival time (kRefuseRatePerSecond).
  util::TimePoint refuse_tat{};

  template <typename Message>
  void send(const Message& m) {
    out.clear();
    wire::encode(m, out);
    sink.send(server, out);
  }

  void begin_registration(util::TimePoint now);
  void send_hello(util::TimePoint now);
  void on_challenge(const wire::Challenge& m);
  void on_registered(const wire::Registered& m, util::TimePoint now);
  void on_keepalive_ack(const wire::KeepaliveAck& m);
  void on_invite(const wire::Invite& m, util::TimePoint now);
  void on_connect_ok(const wire::ConnectOk& m);
  void on_connect_fail(const wire::ConnectFail& m);
  void send_keepalive(util::TimePoint now);
  void send_connect(std::uint64_t cid, PendingConnect& c, util::TimePoint now);
  void send_decision(std::uint64_t cid, const Invite& inv, util::TimePoint now);
  bool refuse_budget(util::TimePoint now);
  Invite& remember_invite(std::uint64_t cid);
  void emit_registered();
  util::TimePoint next_deadline() const;
  void on_timeout(util::TimePoint now);
};

void RendezvousClient::State::begin_registration(util::TimePoint now) {
  phase = Phase::kRegistering;
  rng.fill(nonce);
  register_datagram.clear();
  ack_pending = false;
  lost_since = now;
  unreachable_reported = false;
  hello_timeout = kHelloInitialTimeout;
  send_hello(now);
}

void RendezvousClient::State::send_hello(util::TimePoint now) {
  send(wire::Hello{nonce});
  hello_next = now + hello_timeout;
  hello_timeout = std::min(hello_timeout * 2, kHelloMaxTimeout);
}

void RendezvousClient::State::on_challenge(const wire::Challenge& m) {
  if (phase != Phase::kRegistering || m.nonce != nonce) return;
  // Every CHALLENGE for our nonce is answered, so a lost REGISTER is covered by the
  // HELLO retransmissions; the signature is reused while the cookie is the same.
  if (register_datagram.empty() || m.cookie != signed_cookie) {
    wire::Register reg;
    reg.nonce = nonce;
    reg.cookie = m.cookie;
    reg.instance = instance;
    reg.flags = listener ? wire::kRegisterFlagListener : 0;
    reg.spki = identity.public_key_der();
    util::Bytes signed_data;
    wire::append_register_signed_data(reg.nonce, reg.cookie, reg.instance, reg.flags, signed_data);
    reg.signature = identity.sign(signed_data, rng);
    register_datagram.clear();
    wire::encode(reg, register_datagram);
    signed_cookie = m.cookie;
  }
  sink.send(server, register_datagram);
}

void RendezvousClient::State::emit_registered() {
  RendezvousEvent ev = make_event(RendezvousEvent::Kind::kRegistered);
  ev.address = reflexive;
  ev.peer = identity.id();
  events.push_back(std::move(ev));
}

void RendezvousClient::State::on_registered(const wire::Registered& m, util::TimePoint now) {
  if (m.instance != instance || phase == Phase::kIdle) return;
  token = m.token;
  keepalive_interval = std::clamp<util::Duration>(seconds(m.keepalive_s), kMinKeepaliveInterval,
                                                  kMaxKeepaliveInterval);
  if (phase == Phase::kRegistered) {
    // A duplicate (our REGISTER was retransmitted): only news if the address moved.
    if (m.reflexive != reflexive || m.probe_addresses != probe_addresses) {
      reflexive = m.reflexive;
      probe_addresses = m.probe_addresses;
      emit_registered();
    }
    return;
  }
  phase = Phase::kRegistered;
  reflexive = m.reflexive;
  probe_addresses = m.probe_addresses;
  ack_pending = false;
  next_keepalive = now + keepalive_interval;
  emit_registered();
  for (auto& [cid, c] : connects) send_connect(cid, c, now);
}

void RendezvousClient::State::on_keepalive_ack(const wire::KeepaliveAck& m) {
  if (phase != Phase::kRegistered) return;
  ack_pending = false;
  if (m.reflexive != reflexive) {
    // The server answers a KEEPALIVE only at the registered address, so this is not
    // expected; a rebinding shows as UNKNOWN (the new address is unproven), after
    // which REGISTERED from the new address reports it. Kept for older servers,
    // which moved the registration on any authenticated message.
    reflexive = m.reflexive;
    emit_registered();
  }
}

RendezvousClient::State::Invite& RendezvousClient::State::remember_invite(std::uint64_t cid) {
  auto it = invites.find(cid);
  if (it != invites.end()) return it->second;
  if (invites.size() >= kMaxRememberedInvites) {
    const auto oldest = invite_order.begin();
    invites.erase(oldest->second);
    invite_order.erase(oldest);
  }
  Invite& inv = invites[cid];
  inv.order = next_invite_order++;
  invite_order.emplace(inv.order, cid);
  return inv;
}

void RendezvousClient::State::on_invite(const wire::Invite& m, util::TimePoint now) {
  auto it = invites.find(m.connection_id);
  if (it != invites.end()) {
    // A duplicate: the connector retransmitted CONNECT because our answer (or the
    // INVITE) was lost, so answer again; the event was already raised.
    send_decision(m.connection_id, it->second, now);
    return;
  }
  remember_invite(m.connection_id);
  RendezvousEvent ev = make_event(RendezvousEvent::Kind::kInvite);
  ev.connection_id = m.connection_id;
  ev.peer = m.connector;
  ev.address = m.connector_address;
  events.push_back(std::move(ev));
}

void RendezvousClient::State::send_decision(std::uint64_t cid, const Invite& inv,
                                            util::TimePoint now) {
  if (phase != Phase::kRegistered) return;  // The next duplicate INVITE will ask again.
  if (inv.decision == Decision::kAccepted) send(wire::Accept{instance, token, cid});
  // Refusals spend their own budget, so that they never take the rendezvous's
  // per-source budget from ACCEPTs and KEEPALIVEs (session/constants.hpp).
  if (inv.decision == Decision::kRefused && refuse_budget(now))
    send(wire::Refuse{instance, token, cid, inv.reason});
}

bool RendezvousClient::State::refuse_budget(util::TimePoint now) {
  constexpr util::Duration interval =
      util::Duration(std::chrono::seconds(1)) / kRefuseRatePerSecond;
  const util::TimePoint tat = std::max(refuse_tat, now);
  if (tat - now > interval * (kRefuseBurst - 1)) return false;
  refuse_tat = tat + interval;
  return true;
}

void RendezvousClient::State::on_connect_ok(const wire::ConnectOk& m) {
  auto it = connects.find(m.connection_id);
  // The server must introduce us to the ID we asked for; the handshake would catch
  // an impostor anyway, but there is no reason to start one.
  if (it == connects.end() || it->second.target != m.listener) return;
  RendezvousEvent ev = make_event(RendezvousEvent::Kind::kConnectOk);
  ev.connection_id = m.connection_id;
  ev.peer = m.listener;
  ev.address = m.listener_address;
  events.push_back(std::move(ev));
  connects.erase(it);
}

void RendezvousClient::State::on_connect_fail(const wire::ConnectFail& m) {
  auto it = connects.find(m.connection_id);
  if (it == connects.end()) return;
  RendezvousEvent ev = make_event(RendezvousEvent::Kind::kConnectFailed);
  ev.connection_id = m.connection_id;
  ev.peer = it->second.target;
  switch (static_cast<wire::ConnectFailCode>(m.code)) {
    case wire::ConnectFailCode::kUnknownPeer:
      ev.reason = "no listener is registered under ID " + it->second.target.to_string();
      break;
    case wire::ConnectFailCode::kRefused:
      ev.reason = m.reason.empty() ? "refused by peer" : "refused by peer: " + printable(m.reason);
      break;
    case wire::ConnectFailCode::kLimit:
      ev.reason = "rendezvous limit reached";
      break;
    default:
      ev.reason = "rendezvous refused the connection (code " + std::to_string(m.code) + ")";
      break;
  }
  events.push_back(std::move(ev));
  connects.erase(it);
}

void RendezvousClient::check_now(util::TimePoint now) {
  State& s = *state_;
  if (s.phase == State::Phase::kRegistered && !s.ack_pending)
    s.next_keepalive = std::min(s.next_keepalive, now);
}

void RendezvousClient::State::send_keepalive(util::TimePoint now) {
  send(wire::Keepalive{instance, token});
  ack_deadline = now + ack_timeout;
}

void RendezvousClient::State::send_connect(std::uint64_t cid, PendingConnect& c,
                                           util::TimePoint now) {
  send(wire::Connect{instance, token, cid, c.target});
  c.next_send = now + c.timeout;
  c.timeout = std::min(c.timeout * 2, kConnectMaxTimeout);
}

util::TimePoint RendezvousClient::State::next_deadline() const {
  util::TimePoint t = util::kNever;
  switch (phase) {
    case Phase::kIdle:
      return t;
    case Phase::kRegistering:
      t = hello_next;
      if (!unreachable_reported) t = std::min(t, lost_since + kUnreachableAfter);
      break;
    case Phase::kRegistered:
      t = ack_pending ? ack_deadline : next_keepalive;
      break;
  }
  for (const auto& [cid, c] : connects) {
    t = std::min(t, c.give_up);
    if (phase == Phase::kRegistered) t = std::min(t, c.next_send);
  }
  return t;
}

void RendezvousClient::State::on_timeout(util::TimePoint now) {
  if (phase == Phase::kIdle) return;
  if (phase == Phase::kRegistered) {
    if (ack_pending && now >= ack_deadline) {
      if (retransmissions < kKeepaliveRetransmissions) {
        ++retransmissions;
        ack_timeout = std::min(ack_timeout * 2, kKeepaliveMaxTimeout);
        send_keepalive(now);
      } else {
        begin_registration(now);  // The server forgot us or is gone.
      }
    } else if (!ack_pending && now >= next_keepalive) {
      ack_pending = true;
      retransmissions = 0;
      ack_timeout = kKeepaliveInitialTimeout;
      send_keepalive(now);
      next_keepalive = now + keepalive_interval;
    }
  } else if (phase == Phase::kRegistering) {
    if (now >= hello_next) send_hello(now);
    if (!unreachable_reported && now >= lost_since + kUnreachableAfter) {
      unreachable_reported = true;
      RendezvousEvent ev = make_event(RendezvousEvent::Kind::kUnreachable);
      ev.address = server;
      ev.reason = "no answer from the rendezvous at " + server.to_string();
      events.push_back(std::move(ev));
    }
  }
  for (auto it = connects.begin(); it != connects.end();) {
    PendingConnect& c = it->second;
    if (now >= c.give_up) {
      RendezvousEvent ev = make_event(RendezvousEvent::Kind::kConnectFailed);
      ev.connection_id = it->first;
      ev.peer = c.target;
      // While registered the rendezvous is answering us, so the silence is the
      // listener's: registered once, gone now (its entry lapses within 90 s).
      ev.reason = phase == Phase::kRegistered
                      ? "peer " + c.target.to_string() + " is unreachable: it did not answer"
                      : "rendezvous did not answer";
      events.push_back(std::move(ev));
      it = connects.erase(it);
      continue;
    }
    if (phase == Phase::kRegistered && now >= c.next_send) send_connect(it->first, c, now);
    ++it;
  }
}

RendezvousClient::RendezvousClient(const crypto::Identity& identity, util::Address server,
                                   bool listener, crypto::RandomSource& rng,
                                   util::DatagramSink& sink)
    : state_(std::make_unique<State>(identity, server, listener, rng, sink)) {}
RendezvousClient::RendezvousClient(RendezvousClient&&) noexcept = default;
RendezvousClient& RendezvousClient::operator=(RendezvousClient&&) noexcept = default;
RendezvousClient::~RendezvousClient() = default;

void RendezvousClient::start(util::TimePoint now) {
  if (state_->phase == State::Phase::kIdle) state_->begin_registration(now);
}

bool RendezvousClient::is_control(util::ByteView datagram) {
  return !datagram.empty() && datagram[0] >= static_cast<std::uint8_t>(wire::PacketType::kHello) &&
         datagram[0] <= static_cast<std::uint8_t>(wire::PacketType::kConnectFail);
}

void RendezvousClient::on_datagram(const util::Address& from, util::ByteView data,
                                   util::TimePoint now) {
  State& s = *state_;
  if (from != s.server || s.phase == State::Phase::kIdle) return;
  const auto msg = wire::decode_rendezvous_message(data);
  if (!msg) return;
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, wire::Challenge>) {
          s.on_challenge(m);
        } else if constexpr (std::is_same_v<T, wire::Registered>) {
          s.on_registered(m, now);
        } else if constexpr (std::is_same_v<T, wire::KeepaliveAck>) {
          s.on_keepalive_ack(m);
        } else if constexpr (std::is_same_v<T, wire::Unknown>) {
          // After a server restart (or expiry) our token means nothing there any more;
          // and after a NAT rebinding the server will not move the registration to
          // our new address until a REGISTER from it proves that we receive there.
          if (m.instance == s.instance && s.phase == State::Phase::kRegistered)
            s.begin_registration(now);
        } else if constexpr (std::is_same_v<T, wire::Invite>) {
          s.on_invite(m, now);
        } else if constexpr (std::is_same_v<T, wire::ConnectOk>) {
          s.on_connect_ok(m);
        } else if constexpr (std::is_same_v<T, wire::ConnectFail>) {
          s.on_connect_fail(m);
        }
        // Client-to-server types arriving here are ignored.
      },
      *msg);
}

util::TimePoint RendezvousClient::next_deadline() const { return state_->next_deadline(); }

void RendezvousClient::on_timeout(util::TimePoint now) { state_->on_timeout(now); }

std::optional<RendezvousEvent> RendezvousClient::poll_event() {
  if (state_->events.empty()) return std::nullopt;
  RendezvousEvent ev = std::move(state_->events.front());
  state_->events.pop_front();
  return ev;
}

void RendezvousClient::connect(std::uint64_t connection_id, const crypto::NodeId& target,
                               util::TimePoint now) {
  State& s = *state_;
  State::PendingConnect& c = s.connects[connection_id];
  c = State::PendingConnect{};
  c.target = target;
  c.give_up = now + kConnectGiveUp;
  // Before registration there is no token: the CONNECT leaves when REGISTERED arrives.
  if (s.phase == State::Phase::kRegistered) s.send_connect(connection_id, c, now);
}

void RendezvousClient::accept(std::uint64_t connection_id, util::TimePoint now) {
  State& s = *state_;
  State::Invite& inv = s.remember_invite(connection_id);
  inv.decision = State::Decision::kAccepted;
  inv.reason.clear();
  s.send_decision(connection_id, inv, now);
}

void RendezvousClient::refuse(std::uint64_t connection_id, const std::string& reason,
                              util::TimePoint now) {
  State& s = *state_;
  State::Invite& inv = s.remember_invite(connection_id);
  inv.decision = State::Decision::kRefused;
  inv.reason = wire_reason(reason);
  s.send_decision(connection_id, inv, now);
}

void RendezvousClient::forget(std::uint64_t connection_id) {
  State& s = *state_;
  s.connects.erase(connection_id);
  auto it = s.invites.find(connection_id);
  if (it != s.invites.end()) {
    s.invite_order.erase(it->second.order);
    s.invites.erase(it);
  }
}

bool RendezvousClient::registered() const { return state_->phase == State::Phase::kRegistered; }

const util::Address& RendezvousClient::reflexive_address() const { return state_->reflexive; }

const util::Address& RendezvousClient::server() const { return state_->server; }

const std::vector<util::Address>& RendezvousClient::probe_addresses() const {
  return state_->probe_addresses;
}

std::uint64_t RendezvousClient::instance() const { return state_->instance; }

}  // namespace punch::session
