#include "path/path_manager.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "crypto/random.hpp"
#include "path/constants.hpp"
#include "sim/virtual_loop.hpp"

namespace path = punch::path;
namespace util = punch::util;
namespace wire = punch::wire;
namespace sim = punch::sim;
using namespace std::chrono_literals;

namespace {

const util::TimePoint kEpoch = util::TimePoint{} + 24h;

// Two PathManagers joined by a relay and, unless blocked, a direct path; each end
// is seen by the other at a fixed public address. Datagrams with a TTL of 2 or
// less die in "the internet" (as priming does between two NATs), and every
// frame passes through the wire codec. A "busy" end sends a transport packet
// expecting an answer every 10 ms, and the other end answers it.
struct PathPair {
  util::Address relay = util::Address::v4(192, 0, 2, 2, 7777);
  std::array<util::Address, 2> seen = {util::Address::v4(203, 0, 113, 1, 1000),
                                       util::Address::v4(203, 0, 113, 2, 2000)};
  std::array<path::PathConfig, 2> configs{};
  std::array<path::Mapping, 2> mappings{};  // each end's own, told to the other
  // A second address each end is reached at (a LAN address, say); its packets still
  // come from `seen`.
  std::array<util::Address, 2> alias{};
  punch::crypto::SeededRandom rng{7};
  std::vector<path::PathManager> ends;
  util::Duration relay_delay = 25ms;  // one way, through the relay
  util::Duration direct_delay = 10ms;
  bool blocked = false;
  std::array<bool, 2> busy{false, false};
  std::array<util::TimePoint, 2> next_busy{kEpoch, kEpoch};
  struct InFlight {
    int to;
    util::Address from;
    bool transport;        // a transport packet (on_authenticated), not path frames
    std::uint64_t pn = 0;  // its number, per sender
    util::Bytes frames;
  };
  std::multimap<util::TimePoint, InFlight> wire_;
  std::array<std::uint64_t, 2> next_pn{};
  std::array<std::vector<path::PathTransmit>, 2> sent;  // every path packet, for assertions
  std::array<std::vector<path::PathEvent>, 2> events;

  explicit PathPair(path::PathConfig a = {}, path::PathConfig b = {}) : configs{a, b} {
    ends.emplace_back(relay, configs[0], true, rng);
    ends.emplace_back(relay, configs[1], false, rng);
  }

  // Both ends know each other's public address from the introduction.
  void start() {
    for (int i = 0; i < 2; ++i) {
      ends[i].set_local_candidates({{wire::CandidateKind::kReflexive, seen[i]}}, now());
      ends[i].add_remote_candidate({wire::CandidateKind::kReflexive, seen[1 - i]}, now());
      ends[i].set_local_mapping(mappings[i], now());
      ends[i].start(now());
    }
  }

  void route(int from, const util::Address& to, bool transport, util::Bytes frames, int ttl) {
    const int peer = 1 - from;
    const std::uint64_t pn = transport ? next_pn[from]++ : 0;
    if (to == relay) {
      wire_.emplace(now() + relay_delay, InFlight{peer, relay, transport, pn, std::move(frames)});
    } else if ((to == seen[peer] || (alias[peer].valid() && to == alias[peer])) && !blocked &&
               (ttl == 0 || ttl > 2)) {
      wire_.emplace(now() + direct_delay,
                    InFlight{peer, seen[from], transport, pn, std::move(frames)});
    }
  }

  void pump() {
    for (int i = 0; i < 2; ++i) {
      while (auto t = ends[i].poll_transmit()) {
        sent[i].push_back(*t);
        route(i, t->to, false, t->frames, t->ttl);
      }
      if (busy[i] && next_busy[i] <= now()) {
        next_busy[i] = now() + 10ms;
        route(i, ends[i].current(), true, {}, 0);
        ends[i].on_sent(true, now());
      }
      while (auto e = ends[i].poll_event()) events[i].push_back(*e);
    }
  }

  // The earliest arrival or deadline.
  util::TimePoint next_event() const {
    util::TimePoint next = util::kNever;
    if (!wire_.empty()) next = std::min(next, wire_.begin()->first);
    for (int i = 0; i < 2; ++i) {
      next = std::min(next, ends[i].next_deadline());
      if (busy[i]) next = std::min(next, next_busy[i]);
    }
    return next;
  }

  // Delivers what arrived by now(), then runs the timers due.
  void step() {
    while (!wire_.empty() && wire_.begin()->first <= now()) {
      InFlight f = std::move(wire_.begin()->second);
      wire_.erase(wire_.begin());
      if (f.transport) {
        ends[f.to].on_authenticated(f.from, util::kMainSocket, f.pn, now());
        // The transport acknowledges what expects an answer, on its current path.
        if (busy[1 - f.to] && !busy[f.to]) route(f.to, ends[f.to].current(), true, {}, 0);
        continue;
      }
      auto frames = wire::decode_path_frames(f.frames);
      REQUIRE(frames.ok());
      ends[f.to].on_frames(f.from, util::kMainSocket, *frames, now());
    }
    for (int i = 0; i < 2; ++i) {
      if (ends[i].next_deadline() <= now()) ends[i].on_timeout(now());
    }
  }

  bool run_until(const std::function<bool()>& done, util::Duration limit) {
    return loop.run_until(done, limit);
  }

  bool both_direct() const { return ends[0].direct() && ends[1].direct(); }

  sim::VirtualLoop loop{{kEpoch, 1000000},
                        {[this] { return next_event(); }, [this] { step(); }, [this] { pump(); }}};
  util::TimePoint now() const { return loop.now(); }
};

std::size_t count_kind(const std::vector<path::PathEvent>& es, path::PathEvent::Kind k) {
  std::size_t n = 0;
  for (const auto& e : es) n += e.kind == k ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("two ends validate the direct path and move onto it") {
  PathPair p;
  p.start();
  REQUIRE(p.run_until([&] { return p.both_direct(); }, 5s));
  CHECK(p.ends[0].current() == p.seen[1]);
  CHECK(p.ends[1].current() == p.seen[0]);
  // Relay one way 25 ms: CANDIDATES arrive after 25 ms, then one direct round trip.
  MESSAGE("time to direct: " << std::chrono::duration<double, std::milli>(p.now() - kEpoch).count()
                             << " ms");
  CHECK(p.now() - kEpoch < 100ms);
  for (int i = 0; i < 2; ++i) {
    CHECK(p.ends[i].take_switched());
    CHECK_FALSE(p.ends[i].take_switched());
    CHECK(count_kind(p.events[i], path::PathEvent::Kind::kSwitched) == 1);
    CHECK(count_kind(p.events[i], path::PathEvent::Kind::kValidated) == 1);
  }
}

TEST_CASE("priming goes out with a low TTL before any full-TTL probe of the peer's public side") {
  PathPair p;
  p.start();
  REQUIRE(p.run_until([&] { return p.both_direct(); }, 5s));
  for (int i = 0; i < 2; ++i) {
    bool full_ttl_seen = false;
    int primes = 0;
    for (const auto& t : p.sent[i]) {
      if (t.to != p.seen[1 - i]) continue;
      if (t.ttl == path::kPrimeTtl) {
        CHECK_FALSE(full_ttl_seen);
        ++primes;
      } else {
        full_ttl_seen = true;
      }
    }
    CHECK(primes == path::kPrimeCount);
    CHECK(full_ttl_seen);
  }
}

TEST_CASE("full-TTL probes wait for the peer's ROUND frame, then go at once") {
  PathPair p;
  p.relay_delay = 200ms;
  p.start();
  // Until the peer's ROUND arrives (200 ms), only priming may reach its NAT.
  p.run_until([] { return false; }, 150ms);
  REQUIRE(p.now() - kEpoch == 150ms);
  for (int i = 0; i < 2; ++i) {
    for (const auto& t : p.sent[i]) {
      if (t.to == p.seen[1 - i]) CHECK(t.ttl == path::kPrimeTtl);
    }
  }
  REQUIRE(p.run_until([&] { return p.both_direct(); }, 5s));
  CHECK(p.now() - kEpoch < 250ms);
}

TEST_CASE("a relay-only end keeps both ends on the relay and sends no probes") {
  path::PathConfig relay_only;
  relay_only.relay_only = true;
  SUBCASE("connector relay-only") {
    PathPair p(relay_only, {});
    p.start();
    p.run_until([] { return false; }, 10s);
    CHECK_FALSE(p.ends[0].direct());
    CHECK_FALSE(p.ends[1].direct());
    for (const auto& t : p.sent[0]) CHECK(t.to == p.relay);
  }
  SUBCASE("listener relay-only") {
    PathPair p({}, relay_only);
    p.start();
    p.run_until([] { return false; }, 10s);
    CHECK_FALSE(p.ends[0].direct());
    CHECK_FALSE(p.ends[1].direct());
    for (const auto& t : p.sent[1]) CHECK(t.to == p.relay);
    // The other end learns from the empty candidate list and stops probing.
    std::size_t late_probes = 0;
    for (const auto& t : p.sent[0]) late_probes += t.to != p.relay ? 1 : 0;
    CHECK(late_probes <= 2 * path::kPrimeCount + 1);
  }
}

TEST_CASE("a dead direct path falls back to the relay in time, and the session goes direct again") {
  PathPair p;
  p.busy = {true, true};
  p.start();
  REQUIRE(p.run_until([&] { return p.both_direct(); }, 5s));
  p.run_until([] { return false; }, 2s);
  REQUIRE(p.both_direct());
  p.blocked = true;
  const util::TimePoint cut = p.now();
  REQUIRE(p.run_until([&] { return !p.ends[0].direct() && !p.ends[1].direct(); }, 5s));
  MESSAGE("back on the relay after "
          << std::chrono::duration<double, std::milli>(p.now() - cut).count() << " ms");
  CHECK(p.now() - cut <= path::kMinDeadTimeout + 100ms);
  CHECK(count_kind(p.events[0], path::PathEvent::Kind::kLost) == 1);
  // While blocked, rounds back off: few probes in a minute.
  const std::size_t before = p.sent[0].size();
  p.run_until([] { return false; }, 60s);
  REQUIRE_FALSE(p.ends[0].direct());
  const std::size_t probes_in_a_minute = p.sent[0].size() - before;
  MESSAGE("path packets in a blocked minute: " << probes_in_a_minute);
  CHECK(probes_in_a_minute < 200);
  p.blocked = false;
  const util::TimePoint healed = p.now();
  REQUIRE(p.run_until([&] { return p.both_direct(); }, 60s));
  MESSAGE("direct again after " << std::chrono::duration<double>(p.now() - healed).count() << " s");
  CHECK(p.now() - healed <= path::kSlowRoundInterval + 5s);
}

TEST_CASE(
    "a receiver that only acknowledges follows its peer back to the relay, mirroring meanwhile") {
  PathPair p;
  p.busy = {true, false};  // A sends; B only answers (ACKs, which expect nothing)
  p.start();
  REQUIRE(p.run_until([&] { return p.both_direct(); }, 5s));
  p.run_until([] { return false; }, 1s);
  p.blocked = true;
  const util::TimePoint cut = p.now();
  bool mirrored = false;
  REQUIRE(p.run_until(
      [&] {
        mirrored = mirrored || p.ends[1].mirror_to_relay();
        return !p.ends[1].direct();
      },
      5s));
  MESSAGE("receiver back on the relay "
          << std::chrono::duration<double, std::milli>(p.now() - cut).count()
          << " ms after the cut");
  CHECK_FALSE(p.ends[0].direct());
  CHECK(mirrored);
  CHECK(p.now() - cut <= 2 * path::kMinDeadTimeout + 100ms);
}

TEST_CASE("relay copies of packets also sent directly do not make a direct end suspicious") {
  PathPair p;
  p.start();
  REQUIRE(p.run_until([&] { return p.both_direct(); }, 5s));
  path::PathManager& b = p.ends[1];
  b.on_authenticated(p.seen[0], util::kMainSocket, 40, p.now());  // packet 40 came directly
  b.on_authenticated(p.relay, util::kMainSocket, 40,
                     p.now());  // and its mirrored copy through the relay
  b.on_authenticated(p.relay, util::kMainSocket, 39,
                     p.now());  // an older one, late through the relay
  CHECK_FALSE(b.mirror_to_relay());
  p.run_until([] { return false; }, 3s);
  CHECK(b.direct());
  // A packet sent after the last direct one, through the relay: the peer left.
  b.on_authenticated(p.relay, util::kMainSocket, 41, p.now());
  CHECK(b.mirror_to_relay());
}

TEST_CASE("an idle direct path gets keepalives below the NAT mapping lifetime, and the relay too") {
  PathPair p;
  p.start();
  REQUIRE(p.run_until([&] { return p.both_direct(); }, 5s));
  const util::TimePoint from = p.now();
  const std::size_t first = p.sent[0].size();
  p.run_until([] { return false; }, 95s);
  CHECK(p.both_direct());
  std::vector<util::TimePoint> direct_challenges;
  std::size_t relay_challenges = 0;
  // Keepalives are challenges: sizes of a CHALLENGE frame, to the path in use.
  for (std::size_t i = first; i < p.sent[0].size(); ++i) {
    const auto& t = p.sent[0][i];
    if (t.frames.size() != 9 || t.frames[0] != 0x01) continue;
    if (t.to == p.seen[1]) direct_challenges.push_back(from);
    if (t.to == p.relay) ++relay_challenges;
  }
  // 95 s idle: a keepalive every 15 s on the direct path, every 30 s to the relay.
  CHECK(direct_challenges.size() >= 6);
  CHECK(relay_challenges >= 3);
  CHECK(count_kind(p.events[0], path::PathEvent::Kind::kLost) == 0);
}

TEST_CASE("a NAT rebinding on one side moves the other side to the new address") {
  PathPair p;
  p.busy = {true, true};
  p.start();
  REQUIRE(p.run_until([&] { return p.both_direct(); }, 5s));
  // B's NAT gives it a new public port: A keeps sending to the old one (lost).
  p.seen[1] = util::Address::v4(203, 0, 113, 2, 2999);
  const util::TimePoint rebound = p.now();
  REQUIRE(p.run_until([&] { return p.ends[0].current() == p.seen[1] && p.ends[0].direct(); }, 5s));
  MESSAGE("A follows B's new address after "
          << std::chrono::duration<double, std::milli>(p.now() - rebound).count() << " ms");
  CHECK(p.now() - rebound < path::kMinDeadTimeout);
}

TEST_CASE("a LAN (host) candidate wins over the public one, and equal paths do not flap") {
  PathPair p;
  const util::Address lan_b = util::Address::v4(198, 51, 100, 3, 2000);
  p.start();
  // B also offers its LAN address; A reaches it (both on one LAN).
  p.ends[1].set_local_candidates(
      {{wire::CandidateKind::kHost, lan_b}, {wire::CandidateKind::kReflexive, p.seen[1]}}, p.now());
  // Route A's packets to B's LAN address like those to its public one.
  const util::Address public_b = p.seen[1];
  REQUIRE(p.run_until([&] { return p.ends[0].direct(); }, 5s));
  p.seen[1] = lan_b;  // from now on B is reached (and seen) at its LAN address
  p.ends[1].set_local_candidates(
      {{wire::CandidateKind::kHost, lan_b}, {wire::CandidateKind::kReflexive, public_b}}, p.now());
  REQUIRE(p.run_until([&] { return p.ends[0].current() == lan_b; }, 10s));
  const std::uint64_t switches = p.ends[0].stats().switches;
  p.run_until([] { return false; }, 60s);
  CHECK(p.ends[0].current() == lan_b);
  CHECK(p.ends[0].stats().switches == switches);
}

TEST_CASE("ends that picked different address pairs stay direct") {
  PathPair p;
  p.busy = {true, true};
  p.alias[1] = util::Address::v4(198, 51, 100, 3, 2000);  // B's LAN address, reachable from A
  p.start();
  p.ends[1].set_local_candidates(
      {{wire::CandidateKind::kHost, p.alias[1]}, {wire::CandidateKind::kReflexive, p.seen[1]}},
      p.now());
  // A prefers B's LAN address; B's packets keep arriving from its public one.
  REQUIRE(p.run_until([&] { return p.ends[0].current() == p.alias[1] && p.ends[1].direct(); }, 5s));
  const std::uint64_t switches = p.ends[0].stats().switches;
  p.run_until([] { return false; }, 20s);
  CHECK(p.ends[0].current() == p.alias[1]);
  CHECK(p.ends[0].stats().switches == switches);
  CHECK(count_kind(p.events[0], path::PathEvent::Kind::kLost) == 0);
}

TEST_CASE("responses with unknown tokens and challenges from a relay-only end change nothing") {
  PathPair p;
  p.start();
  wire::PathResponse forged;
  forged.token = {1, 2, 3, 4, 5, 6, 7, 8};
  p.ends[0].on_frames(p.seen[1], util::kMainSocket, {forged}, p.now());
  CHECK_FALSE(p.ends[0].direct());
  CHECK(p.ends[0].stats().responses_received == 0);
}

namespace {

// The strategy events `es` holds, in order.
std::vector<path::Strategy> strategies(const std::vector<path::PathEvent>& es) {
  std::vector<path::Strategy> out;
  for (const auto& e : es) {
    if (e.kind == path::PathEvent::Kind::kStrategy) out.push_back(e.strategy);
  }
  return out;
}

// The mapping byte of every CANDIDATES frame in `sent`.
std::vector<wire::MappingCode> candidate_mappings(const std::vector<path::PathTransmit>& sent) {
  std::vector<wire::MappingCode> out;
  for (const auto& t : sent) {
    const auto frames = wire::decode_path_frames(t.frames);
    REQUIRE(frames.ok());
    for (const auto& f : *frames) {
      if (const auto* c = std::get_if<wire::PathCandidates>(&f)) out.push_back(c->mapping);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("strategy relay: no path packet to the peer, only CANDIDATES through the relay") {
  const path::Mapping hard = path::Mapping::kEndpointDependent;
  const path::Mapping pool = path::Mapping::kAddressVaries;
  const path::Mapping easy = path::Mapping::kEndpointIndependent;
  for (const auto& [a, b] : {std::pair{hard, hard}, std::pair{pool, easy}, std::pair{easy, pool}}) {
    CAPTURE(path::mapping_token(a));
    CAPTURE(path::mapping_token(b));
    PathPair p;
    p.mappings = {a, b};
    p.busy = {true, false};  // transport traffic on the relay all along
    p.start();
    p.run_until([] { return false; }, 120s);
    for (int i = 0; i < 2; ++i) {
      CAPTURE(i);
      CHECK_FALSE(p.ends[i].direct());
      CHECK(p.ends[i].strategy() == path::Strategy::kRelay);
      CHECK(strategies(p.events[i]) == std::vector{path::Strategy::kRelay});
      const bool easy_side = p.mappings[i] == easy;
      CHECK(p.ends[i].stats().rounds == (easy_side ? 1 : 0));
      // The easy side primed (TTL 2, dies on the way) before it had the peer's mapping;
      // the unpredictable side waited for it. Nothing at full TTL, from either.
      CHECK(p.ends[i].stats().primes_sent == (easy_side ? path::kPrimeCount : 0));
      for (const auto& t : p.sent[i]) {
        if (t.to != p.relay) CHECK(t.ttl == path::kPrimeTtl);
      }
      // Its own mapping went to the peer, which acknowledged it (no resends after).
      const auto codes = candidate_mappings(p.sent[i]);
      REQUIRE_FALSE(codes.empty());
      CHECK(codes.back() == static_cast<wire::MappingCode>(p.mappings[i]));
      CHECK(codes.size() <= 3);
      const auto& e = p.events[i];
      const auto it = std::find_if(e.begin(), e.end(), [](const path::PathEvent& x) {
        return x.kind == path::PathEvent::Kind::kStrategy;
      });
      REQUIRE(it != e.end());
      CHECK(it->local_mapping == p.mappings[i]);
      CHECK(it->peer_mapping == p.mappings[1 - i]);
    }
    CHECK(count_kind(p.events[0], path::PathEvent::Kind::kChallengeRound) ==
          (p.mappings[0] == easy ? 1 : 0));
  }
}

TEST_CASE("strategy: a mapping that changes goes to the peer and re-decides at once") {
  PathPair p;
  p.mappings = {path::Mapping::kEndpointDependent, path::Mapping::kEndpointDependent};
  p.start();
  p.run_until([] { return false; }, 10s);
  REQUIRE(p.ends[0].strategy() == path::Strategy::kRelay);
  REQUIRE_FALSE(p.ends[0].direct());
  // End 1 finds itself behind no NAT after all (say, a new network).
  const util::TimePoint changed = p.now();
  p.ends[1].set_local_mapping(path::Mapping::kNone, p.now());
  REQUIRE(p.run_until([&] { return p.both_direct(); }, 5s));
  CHECK(p.now() - changed < 200ms);
  for (int i = 0; i < 2; ++i) {
    CHECK(strategies(p.events[i]) ==
          std::vector{path::Strategy::kRelay, path::Strategy::kBirthday});
  }
  CHECK(candidate_mappings(p.sent[1]).back() == wire::MappingCode::kNone);
}

TEST_CASE("strategy: an unpredictable end waits for the peer's mapping before priming") {
  PathPair p;
  p.relay_delay = 200ms;
  p.mappings = {path::Mapping::kEndpointDependent, path::Mapping::kEndpointIndependent};
  p.start();
  p.run_until([] { return false; }, 150ms);
  CHECK(p.ends[0].stats().primes_sent == 0);
  CHECK(p.ends[1].stats().primes_sent == path::kPrimeCount);
  for (const auto& t : p.sent[0]) CHECK(t.to == p.relay);
  // The peer's CANDIDATES (easy) arrive at 200 ms: birthday, which probes (the ideal
  // network here lets it through).
  REQUIRE(p.run_until([&] { return p.both_direct(); }, 5s));
  CHECK(p.ends[0].strategy() == path::Strategy::kBirthday);
  CHECK(p.ends[1].strategy() == path::Strategy::kBirthday);
}

TEST_CASE("strategy: unknown mappings probe as before, and the event says so") {
  PathPair p;
  p.mappings = {path::Mapping::kEndpointDependent, path::Mapping::kUnknown};
  p.start();
  REQUIRE(p.run_until([&] { return p.both_direct(); }, 5s));
  for (int i = 0; i < 2; ++i)
    CHECK(strategies(p.events[i]) == std::vector{path::Strategy::kDirect});
}
