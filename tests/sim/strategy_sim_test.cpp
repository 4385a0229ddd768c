// The pair's strategy (path/strategy.hpp) with the real cores, a rendezvous with a
// probe port, and the NAT models: each endpoint learns its mapping from the two ports,
// the pair agrees on a strategy, hopeless pairs send nothing to each other's addresses
// once they exchanged mappings, and the pairs that went direct before still do.
#include <doctest/doctest.h>

#include <string>

#include "sim/sim_app.hpp"
#include "sim/sim_cores.hpp"

namespace punch::sim {
namespace {

using namespace std::chrono_literals;
using Kind = session::EndpointEvent::Kind;
using PathKind = path::PathEvent::Kind;
using path::Mapping;
using path::Strategy;

constexpr std::uint16_t kAddressProbePort = 3479;

// The last strategy event of `n`, or null.
const path::PathEvent* last_strategy(const EndpointNode& n) {
  const path::PathEvent* out = nullptr;
  for (const TimedEvent& e : n.events()) {
    if (e.event.kind == Kind::kPath && e.event.path_event.kind == PathKind::kStrategy)
      out = &e.event.path_event;
  }
  return out;
}

// When `n` wrote its first strategy event (the mapping exchange), or kNever.
util::TimePoint strategy_at(const EndpointNode& n) {
  for (const TimedEvent& e : n.events()) {
    if (e.event.kind == Kind::kPath && e.event.path_event.kind == PathKind::kStrategy) return e.at;
  }
  return util::kNever;
}

bool both_direct(const Cores& c) {
  return c.listener->first_path(PathKind::kSwitched, true) != nullptr &&
         c.connector->first_path(PathKind::kSwitched, true) != nullptr;
}

struct StrategyPair {
  NatType listener;
  NatType connector;
  bool pool_by_port;
  Mapping listener_mapping;
  Mapping connector_mapping;
  Strategy strategy;
  /// A pool by port hashes the two rendezvous ports onto one address once in four:
  /// seeds where it does not (the other case is a hard NAT, tested above).
  std::uint64_t seed = 11;
};

std::string name(const StrategyPair& p) {
  return std::string(to_string(p.listener)) + " listener x " + to_string(p.connector) +
         " connector" + (p.pool_by_port ? " (pool by port)" : "");
}

}  // namespace

TEST_CASE("strategy_sim: hopeless pairs stay on the relay and send nothing to each other") {
  const StrategyPair pairs[] = {
      {NatType::kHard, NatType::kHard, false, Mapping::kEndpointDependent,
       Mapping::kEndpointDependent, Strategy::kRelay},
      {NatType::kPool, NatType::kEasy, true, Mapping::kAddressVaries, Mapping::kEndpointIndependent,
       Strategy::kRelay},
      {NatType::kEasy, NatType::kPool, true, Mapping::kEndpointIndependent, Mapping::kAddressVaries,
       Strategy::kRelay, 12},
      {NatType::kHard, NatType::kPool, true, Mapping::kEndpointDependent, Mapping::kAddressVaries,
       Strategy::kRelay, 12},
  };
  for (const StrategyPair& p : pairs) {
    CAPTURE(name(p));
    CoresConfig cc;
    cc.listener_type = p.listener;
    cc.connector_type = p.connector;
    cc.pool_by_port = p.pool_by_port;
    cc.probe_port = kAddressProbePort;
    cc.seed = p.seed;
    Cores c(cc);
    const util::Address rv = c.server->address();
    // Datagrams from either endpoint to anything but the rendezvous's IP (its two
    // ports), before and after the endpoint had the peer's mapping.
    std::uint64_t before = 0, after = 0, crossed = 0;
    c.net->set_observer([&](const Trace& t) {
      if (t.kind == TraceKind::kDelivered && (t.src.ip != rv.ip && t.dst.ip != rv.ip)) ++crossed;
      if (t.kind != TraceKind::kSent || t.dst.ip == rv.ip) return;
      EndpointNode* n = t.src == c.listener->address()    ? c.listener.get()
                        : t.src == c.connector->address() ? c.connector.get()
                                                          : nullptr;
      if (n == nullptr) return;  // the rendezvous relaying
      (strategy_at(*n) <= t.now ? after : before)++;
    });
    c.bring_up();
    CHECK(c.listener->endpoint().mapping() == p.listener_mapping);
    CHECK(c.connector->endpoint().mapping() == p.connector_mapping);
    // A transfer through the relay, then long enough for the 35 s rounds to show.
    util::Bytes up_got, down_got;
    REQUIRE(c.transfer(pattern(50'000, 1), pattern(50'000, 2), up_got, down_got, 60s));
    c.net->run_for(80s);
    for (EndpointNode* n : {c.listener.get(), c.connector.get()}) {
      const path::PathEvent* s = last_strategy(*n);
      REQUIRE(s != nullptr);
      CHECK(s->strategy == p.strategy);
      session::Session* session = n->endpoint().session(c.cid);
      REQUIRE(session != nullptr);
      CHECK_FALSE(session->direct());
      CHECK(session->paths().stats().rounds <= 1);
    }
    const path::PathEvent* ls = last_strategy(*c.listener);
    CHECK(ls->local_mapping == p.listener_mapping);
    CHECK(ls->peer_mapping == p.connector_mapping);
    CHECK_FALSE(c.listener->first_path(PathKind::kSwitched));
    CHECK_FALSE(c.connector->first_path(PathKind::kSwitched));
    MESSAGE(name(p), ": ", before, " datagrams to the peer's side before the mapping exchange, ",
            after, " after");
    CHECK(after == 0);
    CHECK(crossed == 0);  // nothing from one site ever reached the other
  }
}

TEST_CASE("strategy_sim: pairs that can go direct still do, with the strategy they got") {
  const StrategyPair pairs[] = {
      {NatType::kEasy, NatType::kEasy, false, Mapping::kEndpointIndependent,
       Mapping::kEndpointIndependent, Strategy::kDirect},
      {NatType::kHard, NatType::kOpen, false, Mapping::kEndpointDependent, Mapping::kNone,
       Strategy::kBirthday},
      {NatType::kOpen, NatType::kHard, false, Mapping::kNone, Mapping::kEndpointDependent,
       Strategy::kBirthday},
      {NatType::kPool, NatType::kOpen, true, Mapping::kAddressVaries, Mapping::kNone,
       Strategy::kBirthday},
      {NatType::kFirewall, NatType::kEasy, false, Mapping::kNone, Mapping::kEndpointIndependent,
       Strategy::kDirect},
  };
  for (const StrategyPair& p : pairs) {
    CAPTURE(name(p));
    CoresConfig cc;
    cc.listener_type = p.listener;
    cc.connector_type = p.connector;
    cc.pool_by_port = p.pool_by_port;
    cc.probe_port = kAddressProbePort;
    cc.seed = 12;
    Cores c(cc);
    c.bring_up();
    const util::TimePoint up = c.net->now();
    REQUIRE(c.net->run_until([&] { return both_direct(c); }, 20s));
    CHECK(c.listener->endpoint().mapping() == p.listener_mapping);
    CHECK(c.connector->endpoint().mapping() == p.connector_mapping);
    for (EndpointNode* n : {c.listener.get(), c.connector.get()}) {
      const path::PathEvent* s = last_strategy(*n);
      REQUIRE(s != nullptr);
      CHECK(s->strategy == p.strategy);
    }
    const util::Duration to_direct = std::max(c.listener->first_path(PathKind::kSwitched)->at,
                                              c.connector->first_path(PathKind::kSwitched)->at) -
                                     up;
    MESSAGE(name(p), ": ", path::strategy_token(p.strategy), ", direct both ways ",
            std::chrono::duration<double, std::milli>(to_direct).count(), " ms after session up");
    CHECK(to_direct < 2s);
  }
}

TEST_CASE("strategy_sim: a Linux pool (address hashed from the IPs) looks hard from one IP") {
  // Two ports of one rendezvous IP get the same pool address from a paired pool, so
  // the pool side measures endpoint-dependent and the pair with an easy NAT gets the
  // birthday strategy, not the relay (docs/netcheck.md); it ends on the relay anyway.
  CoresConfig cc;
  cc.listener_type = NatType::kPool;
  cc.connector_type = NatType::kEasy;
  cc.probe_port = kAddressProbePort;
  cc.seed = 13;
  Cores c(cc);
  c.bring_up();
  c.net->run_for(10s);
  CHECK(c.listener->endpoint().mapping() == Mapping::kEndpointDependent);
  CHECK(c.connector->endpoint().mapping() == Mapping::kEndpointIndependent);
  const path::PathEvent* s = last_strategy(*c.connector);
  REQUIRE(s != nullptr);
  CHECK(s->strategy == Strategy::kBirthday);
  CHECK_FALSE(both_direct(c));
}

TEST_CASE("strategy_sim: without a probe port mappings stay unknown and pairs probe as before") {
  CoresConfig cc;
  cc.listener_type = NatType::kHard;
  cc.connector_type = NatType::kOpen;
  Cores c(cc);
  c.bring_up();
  REQUIRE(c.net->run_until([&] { return both_direct(c); }, 20s));
  CHECK(c.listener->endpoint().mapping() == Mapping::kUnknown);
  const path::PathEvent* s = last_strategy(*c.listener);
  REQUIRE(s != nullptr);
  CHECK(s->strategy == Strategy::kDirect);
  CHECK(s->local_mapping == Mapping::kUnknown);
}

}  // namespace punch::sim
