#include "rendezvous/server.hpp"

#include <algorithm>
#include <variant>

#include "crypto/identity.hpp"
#include "rendezvous/constants.hpp"
#include "rendezvous/cookie_jar.hpp"
#include "rendezvous/cookie_ledger.hpp"
#include "rendezvous/host_key.hpp"
#include "rendezvous/rate_limiter.hpp"
#include "rendezvous/registry.hpp"
#include "rendezvous/relay_table.hpp"
#include "util/assert.hpp"
#include "wire/packet_type.hpp"
#include "wire/rendezvous_message.hpp"
#include "wire/session_packet.hpp"

namespace punch::rendezvous {

namespace {

/// Outcome of a REGISTER's signature check.
enum class SignatureCheck {
  kOverBudget,  ///< Not checked: the sender's host, or the server, used up its failures.
  kFailed,
  kHolds,
};

}  // namespace

struct Server::State {
  State(crypto::RandomSource& r, util::DatagramSink& s, ServerObserver* o, util::TimePoint now)
      : rng(r),
        sink(s),
        observer(o),
        cookies(r, now),
        limiter(kControlRatePerSecond, kControlBurst, kMaxRateLimitedSources),
        host_limiter(kControlRatePerHost, kControlHostBurst, kMaxRateLimitedSources),
        spent_cookies(kMaxSpentCookies, kCookieLifetime),
        host_failures(kSignatureFailureInterval, kSignatureFailureBurst, kMaxRateLimitedSources),
        server_failures(kSignatureFailuresPerSecond, kSignatureFailureServerBurst, 1),
        relays(kRelayIdleTimeout, kPendingRelayTimeout) {}

  crypto::RandomSource& rng;
  util::DatagramSink& sink;
  ServerObserver* observer;
  CookieJar cookies;
  RateLimiter limiter;          // per source address (IP and port)
  RateLimiter host_limiter;     // per host (host_key), so port rotation gains nothing
  CookieLedger spent_cookies;   // a cookie buys one signature check
  RateLimiter host_failures;    // failed signature checks per host
  RateLimiter server_failures;  // failed signature checks in all (one key: kEveryone)
  Registry registry;
  RelayTable relays;
  ServerStats stats;
  std::uint16_t probe_port = 0;                      // Announced in REGISTERED; 0: none.
  std::vector<util::Address> other_probe_addresses;  // Announced in REGISTERED too.
  util::Bytes out;                                   // Reused encode buffer.

  template <typename Message>
  void send(const util::Address& to, const Message& m) {
    out.clear();
    wire::encode(m, out);
    sink.send(to, out);
  }

  void on_control(const util::Address& from, util::ByteView data, util::TimePoint now);
  bool rate_allows(const util::Address& from, util::TimePoint now);
  void on_address_probe(const util::Address& from, const wire::AddressProbe& m,
                        util::DatagramSink& reply_via);
  void on_probe_address_list_request(const util::Address& from,
                                     const wire::ProbeAddressListRequest& m);
  void on_session(const util::Address& from, util::ByteView data, util::TimePoint now);
  std::vector<util::Address> probe_addresses_for(const util::Address& client) const;

  void on_hello(const util::Address& from, const wire::Hello& m, util::TimePoint now);
  void on_register(const util::Address& from, const wire::Register& m, util::ByteView datagram,
                   util::TimePoint now);
  SignatureCheck check_signature(const util::Address& from, const wire::Register& m,
                                 util::TimePoint now);
  void on_keepalive(const util::Address& from, const wire::Keepalive& m, util::TimePoint now);
  void on_connect(const util::Address& from, const wire::Connect& m, util::TimePoint now);
  void on_accept(const util::Address& from, const wire::Accept& m, util::TimePoint now);
  void on_refuse(const util::Address& from, const wire::Refuse& m, util::TimePoint now);

  Registration* authenticate(const util::Address& from, std::uint64_t instance,
                             const wire::Token& token);
  Relay* relay_of_listener(const Registration& listener, std::uint64_t cid);
  bool drop_oldest_invitation(const Registration& listener);
  void remove_relay(std::uint64_t cid);
  void expire(util::TimePoint now);
  util::TimePoint next_deadline() const {
    return std::min(registry.next_expiry(), relays.next_expiry());
  }
};

Server::Server(crypto::RandomSource& rng, util::DatagramSink& sink, ServerObserver* observer,
               util::TimePoint now)
    : state_(std::make_unique<State>(rng, sink, observer, now)) {}
Server::Server(Server&&) noexcept = default;
Server& Server::operator=(Server&&) noexcept = default;
Server::~Server() = default;

void Server::on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now) {
  State& s = *state_;
  ++s.stats.datagrams_received;
  // Expire first, so that what the timer has not yet removed cannot be used.
  if (s.next_deadline() <= now) s.expire(now);
  std::uint8_t type = 0;
  if (!wire::peek_type(data.data(), data.size(), type)) {
    ++s.stats.dropped_malformed;
    return;
  }
  if (type == static_cast<std::uint8_t>(wire::PacketType::kSession)) {
    s.on_session(from, data, now);
  } else {
    s.on_control(from, data, now);
  }
}

void Server::on_probe_socket_datagram(const util::Address& from, util::ByteView data,
                                      util::DatagramSink& reply_via, util::TimePoint now) {
  State& s = *state_;
  ++s.stats.datagrams_received;
  // Address probes on any port spend the same per-source and per-IP budgets: a second
  // port must not double what one sender can make the server send.
  if (!s.rate_allows(from, now)) return;
  const auto probe = wire::decode_address_probe(data);
  if (!probe) {
    // The probe port serves address probes only; registration and relaying stay on the
    // main port, so nothing else is ever answered here.
    ++s.stats.dropped_malformed;
    return;
  }
  s.on_address_probe(from, *probe, reply_via);
}

void Server::set_probe_port(std::uint16_t port) { state_->probe_port = port; }

void Server::set_probe_addresses(std::vector<util::Address> addresses) {
  PUNCH_ASSERT(addresses.size() < wire::kMaxProbeAddresses);
  for (const util::Address& a : addresses) PUNCH_ASSERT(a.valid() && a.port != 0);
  state_->other_probe_addresses = std::move(addresses);
}

util::TimePoint Server::next_deadline() const { return state_->next_deadline(); }

void Server::on_timeout(util::TimePoint now) { state_->expire(now); }

ServerStats Server::stats() const {
  ServerStats st = state_->stats;
  st.registrations = state_->registry.size();
  st.relays = state_->relays.size();
  return st;
}

void Server::State::on_control(const util::Address& from, util::ByteView data,
                               util::TimePoint now) {
  if (!rate_allows(from, now)) return;
  const auto msg = wire::decode_rendezvous_message(data);
  if (!msg) {
    ++stats.dropped_malformed;
    return;
  }
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, wire::Hello>) {
          on_hello(from, m, now);
        } else if constexpr (std::is_same_v<T, wire::Register>) {
          on_register(from, m, data, now);
        } else if constexpr (std::is_same_v<T, wire::Keepalive>) {
          on_keepalive(from, m, now);
        } else if constexpr (std::is_same_v<T, wire::Connect>) {
          on_connect(from, m, now);
        } else if constexpr (std::is_same_v<T, wire::Accept>) {
          on_accept(from, m, now);
        } else if constexpr (std::is_same_v<T, wire::Refuse>) {
          on_refuse(from, m, now);
        } else if constexpr (std::is_same_v<T, wire::AddressProbe>) {
          on_address_probe(from, m, sink);
        } else if constexpr (std::is_same_v<T, wire::ProbeAddressListRequest>) {
          on_probe_address_list_request(from, m);
        } else {
          // A server-to-client message sent to the server: nobody legitimate does that.
          ++stats.dropped_malformed;
        }
      },
      *msg);
}

bool Server::State::rate_allows(const util::Address& from, util::TimePoint now) {
  // The limit comes before decoding so that garbage also spends the sender's
  // budget, and before the signature check it exists to protect. The host comes
  // first: a host over its budget must not fill the per-port table, whatever
  // ports (or IPv6 interface IDs) it rotates through.
  if (!host_limiter.allow(host_key(from), now) || !limiter.allow(from, now)) {
    ++stats.dropped_rate_limited;
    return false;
  }
  return true;
}

void Server::State::on_address_probe(const util::Address& from, const wire::AddressProbe& m,
                                     util::DatagramSink& reply_via) {
  // decode_address_probe guarantees at least kAddressProbeSize bytes came in, more than any
  // reply: an unauthenticated sender (or a spoofed victim) gets fewer bytes back
  // than were sent (ARCHITECTURE.md decision 8).
  static_assert(wire::kMaxAddressProbeReplySize < wire::kAddressProbeSize);
  out.clear();
  wire::encode(wire::AddressProbeReply{m.nonce, from}, out);
  PUNCH_ASSERT(out.size() <= wire::kMaxAddressProbeReplySize);
  reply_via.send(from, out);
  ++stats.address_probes_answered;
}

void Server::State::on_probe_address_list_request(const util::Address& from,
                                                  const wire::ProbeAddressListRequest& m) {
  // As for PROBE: the request had at least kProbeAddressListRequestSize bytes, more than the
  // largest answer, so a spoofed victim gets less than the attacker sent.
  static_assert(wire::kMaxProbeAddressListSize < wire::kProbeAddressListRequestSize);
  out.clear();
  wire::encode(wire::ProbeAddressList{m.nonce, probe_addresses_for(from)}, out);
  PUNCH_ASSERT(out.size() <= wire::kMaxProbeAddressListSize);
  sink.send(from, out);
  ++stats.probe_address_lists_answered;
}

void Server::State::on_hello(const util::Address& from, const wire::Hello& m, util::TimePoint now) {
  // decode_hello guarantees the HELLO had at least kHelloSize > kChallengeSize bytes.
  static_assert(wire::kChallengeSize < wire::kHelloSize);
  send(from, wire::Challenge{m.nonce, cookies.make(from, m.nonce, now)});
}

SignatureCheck Server::State::check_signature(const util::Address& from, const wire::Register& m,
                                              util::TimePoint now) {
  // Charged as a failure up front, refunded below if it holds: the budgets exist to
  // bound failures, and honest clients' signatures do not fail.
  const util::Address host = host_key(from);
  if (!host_failures.allow(host, now)) return SignatureCheck::kOverBudget;
  if (!server_failures.allow(util::Address{}, now)) {
    host_failures.refund(host);
    return SignatureCheck::kOverBudget;
  }
  util::Bytes signed_data;
  wire::append_register_signed_data(m.nonce, m.cookie, m.instance, m.flags, signed_data);
  ++stats.signature_checks;
  if (!crypto::verify_signature(m.spki, signed_data, m.signature)) return SignatureCheck::kFailed;
  host_failures.refund(host);
  server_failures.refund(util::Address{});
  return SignatureCheck::kHolds;
}

void Server::State::on_register(const util::Address& from, const wire::Register& m,
                                util::ByteView datagram, util::TimePoint now) {
  // The cookie is checked first: it is cheap and proves the sender receives at
  // `from`, so the costly signature check only runs for reachable senders, and the
  // budgets below are spent only by the host that really sent the REGISTER.
  if (!cookies.check(from, m.nonce, m.cookie, now)) {
    ++stats.dropped_unauthenticated;
    return;
  }
  switch (spent_cookies.look_up(m.cookie, datagram, now)) {
    case CookieUse::kRepeat:
      break;  // Verified before, byte for byte: answered again below.
    case CookieUse::kSpent:
      ++stats.dropped_unauthenticated;
      return;
    case CookieUse::kLedgerFull:
      ++stats.dropped_rate_limited;
      return;
    case CookieUse::kFresh: {
      const SignatureCheck check = check_signature(from, m, now);
      if (check == SignatureCheck::kOverBudget) {
        // Nothing was checked, so the cookie is not spent: the client's
        // retransmission may get through once the budget refills.
        ++stats.dropped_rate_limited;
        return;
      }
      const bool holds = check == SignatureCheck::kHolds;
      spent_cookies.record(m.cookie, datagram, holds, now);
      if (!holds) {
        ++stats.dropped_unauthenticated;
        return;
      }
      break;
    }
  }
  const crypto::NodeId id = crypto::NodeId::from_public_key(m.spki);
  const bool listener = (m.flags & wire::kRegisterFlagListener) != 0;
  const util::TimePoint expires = now + kRegistrationLifetime;
  Registration* reg = registry.find(m.instance);
  bool changed = true;  // Worth an observer call: new, moved, or another role.
  if (reg != nullptr) {
    // The instance is visible to anyone on the path, so it must not let another
    // key take the registration over.
    if (reg->id != id) {
      ++stats.dropped_unauthenticated;
      return;
    }
    // Same key, same instance: the client lost our REGISTERED, its keepalives
    // failed, or its address changed (a registration moves only this way, after
    // the cookie round trip proved the new address receives). Keep the token
    // (messages in flight stay valid) and the relays.
    changed = reg->address != from || reg->listener != listener;
    reg->address = from;
    registry.reregister(*reg, listener, expires);
  } else {
    if (registry.size() >= kMaxRegistrations) {
      ++stats.dropped_rate_limited;
      return;
    }
    wire::Token token{};
    rng.fill(token);
    reg = &registry.add(m.instance, token, id, from, listener, expires);
  }
  send(from, wire::Registered{reg->instance, reg->token,
                              static_cast<std::uint16_t>(kKeepaliveInterval.count()),
                              probe_addresses_for(from), from});
  // Refreshes are not news: an operator's log shows registrations and moves only.
  if (changed && observer != nullptr) observer->on_registered(id.to_string(), from);
}

std::vector<util::Address> Server::State::probe_addresses_for(const util::Address& client) const {
  std::vector<util::Address> list;
  if (probe_port != 0) {
    // The IP left all-zero: a server on a wildcard address does not know which of its
    // IPs the client reached, and the client does (wire::Registered).
    util::Address same_ip;
    same_ip.family = client.family;
    same_ip.port = probe_port;
    list.push_back(same_ip);
  }
  // A client can only send to addresses of its own socket's family.
  for (const util::Address& a : other_probe_addresses) {
    if (a.family == client.family) list.push_back(a);
  }
  return list;
}

Registration* Server::State::authenticate(const util::Address& from, std::uint64_t instance,
                                          const wire::Token& token) {
  Registration* reg = registry.authenticate(instance, token);
  if (reg == nullptr) {
    // UNKNOWN is smaller than any message carrying a token, so answering an
    // unauthenticated sender with it amplifies nothing; it is what lets clients
    // recover from a server restart.
    ++stats.dropped_unauthenticated;
    send(from, wire::Unknown{instance});
    return nullptr;
  }
  if (from != reg->address) {
    // The token proves the sender knows the registration's secret, not that it
    // receives at `from`: anyone on the path has seen the token, and the client
    // itself could name a victim. The registration (and every relay to it) moves
    // only with a REGISTER, whose cookie proves the new address. UNKNOWN, smaller
    // than the message, makes a client whose NAT rebound register again from there.
    ++stats.dropped_unproven_address;
    send(from, wire::Unknown{instance});
    return nullptr;
  }
  return reg;
}

void Server::State::on_keepalive(const util::Address& from, const wire::Keepalive& m,
                                 util::TimePoint now) {
  Registration* reg = authenticate(from, m.instance, m.token);
  if (reg == nullptr) return;
  registry.refresh(*reg, now + kRegistrationLifetime);
  send(from, wire::KeepaliveAck{from});
}

void Server::State::on_connect(const util::Address& from, const wire::Connect& m,
                               util::TimePoint now) {
  Registration* conn = authenticate(from, m.instance, m.token);
  if (conn == nullptr) return;
  if (Relay* relay = relays.find(m.connection_id)) {
    // A retransmitted CONNECT. Any other use of a live cid is a collision or an
    // attempt to hijack someone else's relay.
    if (relay->connector != conn->instance || relay->target != m.target) {
      ++stats.dropped_unauthenticated;
      return;
    }
    relays.touch(*relay, now);
    Registration* lst = registry.find(relay->listener);
    if (lst == nullptr) return;  // Unreachable: relays die with their registrations.
    if (relay->active) {
      send(conn->address, wire::ConnectOk{m.connection_id, lst->id, lst->address});
    } else {
      send(lst->address, wire::Invite{m.connection_id, conn->id, conn->address});
    }
    return;
  }
  Registration* lst = registry.newest_listener(m.target, conn->instance);
  if (lst == nullptr) {
    send(conn->address,
         wire::ConnectFail{m.connection_id,
                           static_cast<std::uint8_t>(wire::ConnectFailCode::kUnknownPeer), ""});
    return;
  }
  if (conn->relays.size() >= kMaxRelaysPerRegistration ||
      (lst->relays.size() >= kMaxRelaysPerRegistration && !drop_oldest_invitation(*lst))) {
    send(conn->address,
         wire::ConnectFail{m.connection_id,
                           static_cast<std::uint8_t>(wire::ConnectFailCode::kLimit), ""});
    return;
  }
  relays.add(m.connection_id, conn->instance, lst->instance, m.target, now);
  conn->relays.push_back(m.connection_id);
  lst->relays.push_back(m.connection_id);
  send(lst->address, wire::Invite{m.connection_id, conn->id, conn->address});
}

// A listener's slots full of invitations it has not answered (a flood from keys it
// refuses, faster than its paced REFUSEs clear them) must not lock out the next
// connector, who may be an allowed one: the oldest unanswered invitation gives way,
// silently, since a connector that still wants it re-sends its CONNECT (issue 17).
bool Server::State::drop_oldest_invitation(const Registration& listener) {
  const Relay* oldest = nullptr;
  for (std::uint64_t cid : listener.relays) {
    const Relay* r = relays.find(cid);
    if (r != nullptr && !r->active && r->listener == listener.instance &&
        (oldest == nullptr || r->created < oldest->created))
      oldest = r;
  }
  if (oldest == nullptr) return false;  // all active: the limit holds
  remove_relay(oldest->connection_id);
  return true;
}

Relay* Server::State::relay_of_listener(const Registration& listener, std::uint64_t cid) {
  Relay* relay = relays.find(cid);
  if (relay == nullptr || relay->listener != listener.instance) {
    ++stats.dropped_unauthenticated;
    return nullptr;
  }
  return relay;
}

void Server::State::on_accept(const util::Address& from, const wire::Accept& m,
                              util::TimePoint now) {
  Registration* lst = authenticate(from, m.instance, m.token);
  if (lst == nullptr) return;
  Relay* relay = relay_of_listener(*lst, m.connection_id);
  if (relay == nullptr) return;
  Registration* conn = registry.find(relay->connector);
  if (conn == nullptr) return;  // Unreachable: relays die with their registrations.
  relays.touch(*relay, now);
  const bool was_active = relay->active;
  relay->active = true;
  // Re-sent on duplicate ACCEPTs too, in case the first CONNECT_OK was lost.
  send(conn->address, wire::ConnectOk{m.connection_id, lst->id, lst->address});
  if (!was_active && observer != nullptr)
    observer->on_relay_up(m.connection_id, conn->id.to_string(), lst->id.to_string());
}

void Server::State::on_refuse(const util::Address& from, const wire::Refuse& m,
                              util::TimePoint /*now*/) {
  Registration* lst = authenticate(from, m.instance, m.token);
  if (lst == nullptr) return;
  Relay* relay = relay_of_listener(*lst, m.connection_id);
  if (relay == nullptr) return;
  if (Registration* conn = registry.find(relay->connector)) {
    send(conn->address,
         wire::ConnectFail{m.connection_id,
                           static_cast<std::uint8_t>(wire::ConnectFailCode::kRefused), m.reason});
  }
  remove_relay(m.connection_id);
}

void Server::State::on_session(const util::Address& from, util::ByteView data,
                               util::TimePoint now) {
  const auto cid = wire::peek_connection_id(data);
  if (!cid) {
    ++stats.dropped_malformed;
    return;
  }
  Relay* relay = relays.find(*cid);
  if (relay == nullptr || !relay->active) {
    ++stats.dropped_no_relay;
    return;
  }
  const Registration* conn = registry.find(relay->connector);
  const Registration* lst = registry.find(relay->listener);
  if (conn == nullptr || lst == nullptr) return;  // Unreachable: relays die with them.
  const util::Address* to = nullptr;
  if (from == conn->address) {
    to = &lst->address;
  } else if (from == lst->address) {
    to = &conn->address;
  } else {
    ++stats.dropped_unauthenticated;
    return;
  }
  relays.touch(*relay, now);
  ++stats.relayed_packets;
  stats.relayed_bytes += data.size();
  // Byte for byte: the relay neither reads nor grows the session packet.
  sink.send(*to, data);
}

void Server::State::remove_relay(std::uint64_t cid) {
  Relay* relay = relays.find(cid);
  if (relay == nullptr) return;
  for (std::uint64_t instance : {relay->connector, relay->listener}) {
    if (Registration* reg = registry.find(instance)) std::erase(reg->relays, cid);
  }
  relays.remove(cid);
}

void Server::State::expire(util::TimePoint now) {
  for (const Registration& gone : registry.take_expired(now)) {
    for (std::uint64_t cid : gone.relays) remove_relay(cid);
  }
  for (const Relay& gone : relays.take_expired(now)) {
    for (std::uint64_t instance : {gone.connector, gone.listener}) {
      if (Registration* reg = registry.find(instance)) std::erase(reg->relays, gone.connection_id);
    }
  }
}

}  // namespace punch::rendezvous
