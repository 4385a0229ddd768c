#include "path/birthday_prober.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "crypto/random.hpp"
#include "path/birthday_budget.hpp"
#include "path/constants.hpp"
#include "path/path_manager.hpp"
#include "sim/virtual_loop.hpp"

namespace path = punch::path;
namespace util = punch::util;
namespace wire = punch::wire;
namespace sim = punch::sim;
using namespace std::chrono_literals;

namespace {

const util::TimePoint kProberEpoch = util::TimePoint{} + 24h;

// Hands out socket ids and remembers which are open; the path manager only names
// sockets in what it queues, so the sinks are never used here.
class FakePool final : public util::SocketPool {
 public:
  std::optional<util::SocketId> open() override {
    if (open_.size() >= limit) return std::nullopt;
    open_.insert(next_);
    most_open = std::max(most_open, open_.size());
    return next_++;
  }
  void close(util::SocketId id) override {
    REQUIRE(open_.erase(id) == 1);  // closing what is not open is a bug
  }
  util::DatagramSink& sink(util::SocketId id) override {
    REQUIRE(open_.contains(id));
    return sink_;
  }
  std::size_t open_count() const override { return open_.size(); }
  bool is_open(util::SocketId id) const { return open_.contains(id); }

  std::size_t limit = SIZE_MAX;  // the system refuses more
  std::size_t most_open = 0;

 private:
  struct NullSink final : util::DatagramSink {
    void send(const util::Address&, util::ByteView) override { FAIL("unexpected send"); }
  };
  std::set<util::SocketId> open_;
  util::SocketId next_ = 1;
  NullSink sink_;
};

path::BirthdayConfig config(std::size_t sockets, std::uint32_t rate, std::uint32_t probes) {
  path::BirthdayConfig c;
  c.sockets = sockets;
  c.rate = rate;
  c.guesses = probes;
  return c;
}

}  // namespace

TEST_CASE("the probe budget paces guesses between 1/rate and 2/rate, shared by all takers") {
  punch::crypto::SeededRandom rng(3);
  path::BirthdayBudget budget(config(256, 200, 2048), rng);
  util::TimePoint now = kProberEpoch;
  std::vector<util::TimePoint> granted;
  // Two sessions asking at every millisecond: together they get no more than one.
  while (granted.size() < 1000) {
    for (int session = 0; session < 2; ++session) {
      if (budget.take_guess(now)) granted.push_back(now);
    }
    now += 1ms;
  }
  util::Duration shortest = 1h;
  util::Duration longest{};
  for (std::size_t i = 1; i < granted.size(); ++i) {
    shortest = std::min(shortest, granted[i] - granted[i - 1]);
    longest = std::max(longest, granted[i] - granted[i - 1]);
  }
  CHECK(shortest >= 5ms);
  CHECK(longest <= 11ms);  // 10 ms, rounded up to the 1 ms polling
  const double per_second =
      999.0 / std::chrono::duration<double>(granted.back() - granted[0]).count();
  MESSAGE("guesses per second: " << per_second);
  CHECK(per_second > 100.0);
  CHECK(per_second < 200.0);
  CHECK(budget.guesses_granted() == 1000);
}

TEST_CASE("the probe budget caps the extra sockets open across sessions") {
  punch::crypto::SeededRandom rng(3);
  path::BirthdayBudget budget(config(256, 200, 2048), rng);
  CHECK(budget.take_sockets(200) == 200);
  CHECK(budget.take_sockets(200) == 56);
  CHECK(budget.take_sockets(1) == 0);
  budget.give_back_sockets(100);
  CHECK(budget.sockets_in_use() == 156);
  CHECK(budget.take_sockets(256) == 100);
}

TEST_CASE("the hard side opens its sockets within the budget and closes the losers") {
  punch::crypto::SeededRandom rng(5);
  FakePool pool;
  const auto c = config(256, 200, 2048);
  path::BirthdayBudget budget(c, rng);
  {
    path::BirthdayProber a(c, &pool, budget, rng);
    path::BirthdayProber b(c, &pool, budget, rng);
    CHECK(a.open_sockets().size() == 256);
    CHECK(b.open_sockets().empty());  // the process-wide budget is spent
    const util::SocketId winner = a.sockets()[17];
    a.close_sockets(winner);
    CHECK(pool.open_count() == 1);
    CHECK(a.owns(winner));
    CHECK(budget.sockets_in_use() == 1);
    CHECK(b.open_sockets().size() == 255);
    // A new round replaces every socket but the one in use.
    a.open_sockets(winner);
    CHECK(a.owns(winner));
    CHECK(a.sockets().size() == 1);  // b holds the rest of the budget
  }
  CHECK(pool.open_count() == 0);  // the destructors closed everything
  CHECK(budget.sockets_in_use() == 0);
}

TEST_CASE("a system that refuses sockets leaves the prober with fewer, and the budget whole") {
  punch::crypto::SeededRandom rng(5);
  FakePool pool;
  pool.limit = 40;
  const auto c = config(256, 200, 2048);
  path::BirthdayBudget budget(c, rng);
  path::BirthdayProber a(c, &pool, budget, rng);
  CHECK(a.open_sockets().size() == 40);
  CHECK(budget.sockets_in_use() == 40);
  path::BirthdayProber none(c, nullptr, budget, rng);
  CHECK(none.open_sockets().empty());
  CHECK(budget.sockets_in_use() == 40);
}

TEST_CASE("guesses go to distinct ports of the target's IP, paced, and stop at the round budget") {
  punch::crypto::SeededRandom rng(9);
  const auto c = config(256, 200, 3000);
  path::BirthdayBudget budget(c, rng);
  path::BirthdayProber p(c, nullptr, budget, rng);
  const util::Address target = util::Address::v4(203, 0, 113, 66, 40000);
  util::TimePoint now = kProberEpoch;
  p.start_guessing(target, now);
  std::set<std::uint16_t> ports;
  while (p.guessing()) {
    REQUIRE(p.next_deadline() != util::kNever);
    now = std::max(now, p.next_deadline());
    const auto to = p.next_guess(now);
    REQUIRE(to.has_value());
    CHECK_FALSE(p.next_guess(now).has_value());  // one per gap
    CHECK(to->ip == target.ip);
    CHECK(to->port >= path::kBirthdayFirstPort);
    CHECK(ports.insert(to->port).second);
    CHECK(p.guessed_at(*to) == now);
  }
  CHECK(p.guesses() == 3000);
  CHECK(ports.size() == 3000);
  CHECK(p.next_deadline() == util::kNever);
  const double seconds = std::chrono::duration<double>(now - kProberEpoch).count();
  CHECK(seconds > 3000 / 200.0);
  CHECK(seconds < 3000 / 100.0);
  CHECK_FALSE(p.guessed_at(util::Address::v4(203, 0, 113, 67, *ports.begin())).has_value());
}

namespace {

// A session pair on a tiny model of the internet: end 0 sits behind a hard NAT
// (a new random outside port per socket and destination, inbound only as a reply to
// a mapping's own destination), end 1 has a public address behind a stateful firewall
// (inbound only from addresses it sent to). Datagrams with a TTL of 2 or less create
// the mapping and die. The relay carries path frames both ways.
struct HardPair {
  static constexpr int kHard = 0;
  static constexpr int kFw = 1;
  util::Address relay = util::Address::v4(192, 0, 2, 2, 7777);
  util::Address hard_public = util::Address::v4(203, 0, 113, 1, 1000);  // as the relay sees it
  util::Address fw_address = util::Address::v4(203, 0, 113, 2, 2000);
  punch::crypto::SeededRandom rng{11};
  punch::crypto::SeededRandom nat_rng{12};
  FakePool pool;
  std::vector<path::PathManager> ends;
  util::Duration relay_delay = 25ms;
  util::Duration direct_delay = 10ms;
  bool blocked = false;  // the direct way drops everything

  std::map<std::pair<util::SocketId, util::Address>, std::uint16_t> mappings;
  std::set<std::uint16_t> used;  // outside ports in use: a NAT never maps two flows to one
  std::set<util::Address> fw_contacted;
  struct InFlight {
    int to;
    util::Address from;
    util::SocketId socket;
    util::Bytes frames;
  };
  std::multimap<util::TimePoint, InFlight> wire_;
  std::array<std::vector<path::PathTransmit>, 2> sent;
  std::array<std::vector<path::PathEvent>, 2> events;
  util::TimePoint hard_round_delivered = util::kNever;  // its first ROUND with sockets
  util::TimePoint first_guess = util::kNever;
  std::size_t hits = 0;

  explicit HardPair(path::PathConfig hard = {}, path::PathConfig fw = {}) {
    ends.emplace_back(relay, hard, true, rng, &pool);
    ends.emplace_back(relay, fw, false, rng, nullptr);
  }

  void start() {
    ends[kHard].set_local_candidates({{wire::CandidateKind::kReflexive, hard_public}}, now());
    ends[kFw].set_local_candidates({{wire::CandidateKind::kReflexive, fw_address}}, now());
    ends[kHard].add_remote_candidate({wire::CandidateKind::kReflexive, fw_address}, now());
    ends[kFw].add_remote_candidate({wire::CandidateKind::kReflexive, hard_public}, now());
    ends[kHard].set_local_mapping(path::Mapping::kEndpointDependent, now());
    ends[kFw].set_local_mapping(path::Mapping::kNone, now());
    for (auto& e : ends) e.start(now());
  }

  std::uint16_t map(util::SocketId socket, const util::Address& to) {
    auto [it, fresh] = mappings.try_emplace({socket, to}, 0);
    while (fresh && (it->second == 0 || used.contains(it->second))) {
      it->second = static_cast<std::uint16_t>(1024 + path::uniform_below(nat_rng, 64512));
    }
    used.insert(it->second);
    return it->second;
  }

  void send(int from, util::SocketId socket, const util::Address& to, util::Bytes frames, int ttl) {
    if (to == relay) {
      wire_.emplace(now() + relay_delay,
                    InFlight{1 - from, relay, util::kMainSocket, std::move(frames)});
      return;
    }
    if (from == kHard) {
      util::Address outside = hard_public;
      outside.port = map(socket, to);
      if ((ttl != 0 && ttl <= 2) || blocked || to != fw_address) return;
      if (!fw_contacted.contains(outside)) return;  // the firewall drops it
      wire_.emplace(now() + direct_delay,
                    InFlight{kFw, outside, util::kMainSocket, std::move(frames)});
      return;
    }
    fw_contacted.insert(to);
    if (first_guess == util::kNever && to.ip == hard_public.ip && to != hard_public)
      first_guess = now();
    if (blocked || to.ip != hard_public.ip) return;
    for (const auto& [key, port] : mappings) {
      if (port == to.port && key.second == fw_address && pool_or_main_open(key.first)) {
        ++hits;
        wire_.emplace(now() + direct_delay,
                      InFlight{kHard, fw_address, key.first, std::move(frames)});
        return;
      }
    }
  }

  bool pool_or_main_open(util::SocketId socket) const {
    return socket == util::kMainSocket || pool.is_open(socket);
  }

  void pump() {
    for (int i = 0; i < 2; ++i) {
      while (auto t = ends[i].poll_transmit()) {
        if (i == kHard && t->socket != util::kMainSocket) REQUIRE(pool.is_open(t->socket));
        sent[i].push_back(*t);
        send(i, t->socket, t->to, t->frames, t->ttl);
      }
      while (auto e = ends[i].poll_event()) events[i].push_back(*e);
    }
  }

  // The earliest arrival or deadline.
  util::TimePoint next_event() const {
    util::TimePoint next = util::kNever;
    if (!wire_.empty()) next = std::min(next, wire_.begin()->first);
    for (auto& e : ends) next = std::min(next, e.next_deadline());
    return next;
  }

  // Delivers what arrived by now(), then runs the timers due.
  void step() {
    while (!wire_.empty() && wire_.begin()->first <= now()) {
      InFlight f = std::move(wire_.begin()->second);
      wire_.erase(wire_.begin());
      if (f.to == kHard && !pool_or_main_open(f.socket)) continue;  // closed meanwhile
      auto frames = wire::decode_path_frames(f.frames);
      REQUIRE(frames.ok());
      for (const auto& frame : *frames) {
        const auto* round = std::get_if<wire::PathRound>(&frame);
        if (f.to == kFw && round && round->sockets > 0 && hard_round_delivered == util::kNever)
          hard_round_delivered = now();
      }
      ends[f.to].on_frames(f.from, f.socket, *frames, now());
    }
    for (auto& e : ends) {
      if (e.next_deadline() <= now()) e.on_timeout(now());
    }
  }

  bool run_until(const std::function<bool()>& done, util::Duration limit) {
    return loop.run_until(done, limit);
  }

  const path::PathEvent* switched(int i) const {
    for (const auto& e : events[i]) {
      if (e.kind == path::PathEvent::Kind::kSwitched && e.direct) return &e;
    }
    return nullptr;
  }

  sim::VirtualLoop loop{{kProberEpoch, 2000000},
                        {[this] { return next_event(); }, [this] { step(); }, [this] { pump(); }}};
  util::TimePoint now() const { return loop.now(); }
};

}  // namespace

TEST_CASE("hard NAT x firewall: a guess hits a primed socket and both ends go direct") {
  HardPair p;
  p.start();
  REQUIRE(p.run_until([&] { return p.ends[0].direct() && p.ends[1].direct(); }, 30s));
  MESSAGE("direct after " << std::chrono::duration<double>(p.now() - kProberEpoch).count() << " s, "
                          << p.ends[1].stats().guesses_sent << " guesses");
  CHECK(p.ends[0].strategy() == path::Strategy::kBirthday);
  // The hard side's path goes through one of its extra sockets, the only one still open.
  const util::SocketId winner = p.ends[0].current_socket();
  CHECK(winner != util::kMainSocket);
  CHECK(p.pool.most_open == path::kBirthdaySockets);
  CHECK(p.pool.open_count() == 1);
  CHECK(p.pool.is_open(winner));
  CHECK(p.ends[0].current() == p.fw_address);
  CHECK(p.ends[1].current().ip == p.hard_public.ip);
  CHECK(p.ends[1].current().port == p.mappings.at({winner, p.fw_address}));
  // Every socket was primed with a low TTL before the ROUND that released the guesses,
  // and no guess left before that ROUND arrived.
  std::set<util::SocketId> primed;
  for (const auto& t : p.sent[0]) {
    auto frames = wire::decode_path_frames(t.frames);
    REQUIRE(frames.ok());
    if (std::holds_alternative<wire::PathRound>(frames->front())) break;
    if (t.socket != util::kMainSocket) {
      CHECK(t.ttl == path::kPrimeTtl);
      primed.insert(t.socket);
    }
  }
  CHECK(primed.size() == path::kBirthdaySockets);
  REQUIRE(p.hard_round_delivered != util::kNever);
  CHECK(p.first_guess >= p.hard_round_delivered);
  // The events report the effort.
  const path::PathEvent* fw_switch = p.switched(1);
  const path::PathEvent* hard_switch = p.switched(0);
  REQUIRE(fw_switch);
  REQUIRE(hard_switch);
  CHECK(fw_switch->guesses == p.ends[1].stats().guesses_sent);
  CHECK(fw_switch->guesses > 0);
  CHECK(hard_switch->sockets == path::kBirthdaySockets);
  // Guessing stops at the first validation: nothing but keepalives afterwards.
  const std::uint64_t guesses = p.ends[1].stats().guesses_sent;
  p.run_until([] { return false; }, 20s);
  CHECK(p.ends[1].stats().guesses_sent == guesses);
  CHECK(p.ends[0].direct());
  CHECK(p.ends[1].direct());
  CHECK(p.ends[0].current_socket() == winner);
}

TEST_CASE("across seeds, guesses to a hit match the birthday paradox's odds") {
  // 256 primed sockets among 64,512 ports: a guess hits with p = 1/252, so half the
  // runs need at most ln 2 / p = 175 guesses and 98.3 % at most 1,024 (the essay's
  // figure). The simulator (tests/sim/birthday_sim_test.cpp) measures this at the
  // address level; here the model is the path manager's own.
  const int kSeeds = 200;
  int direct = 0;
  int within_1024 = 0;
  std::vector<std::uint64_t> counts;
  for (std::uint64_t seed = 0; seed < kSeeds; ++seed) {
    HardPair p;
    p.rng = punch::crypto::SeededRandom(100 + seed);
    p.nat_rng = punch::crypto::SeededRandom(200 + seed);
    p.start();
    if (p.run_until([&] { return p.ends[0].direct() && p.ends[1].direct(); }, 25s)) ++direct;
    counts.push_back(p.ends[1].stats().guesses_sent);
    within_1024 += p.ends[1].stats().guesses_sent <= 1024 ? 1 : 0;
    CHECK(p.ends[1].stats().guesses_sent <= path::kBirthdayGuesses);
  }
  std::sort(counts.begin(), counts.end());
  const std::uint64_t median = counts[counts.size() / 2];
  MESSAGE("guesses to direct over " << kSeeds << " seeds: min " << counts.front() << ", median "
                                    << median << ", max " << counts.back()
                                    << "; within 1,024: " << within_1024);
  CHECK(direct == kSeeds);  // each misses with (1 - 1/252)^2048 < 0.03 %
  // Binomial bounds, 4 standard deviations wide for 200 runs.
  CHECK(within_1024 >= 190);
  CHECK(median > 120);
  CHECK(median < 240);
}

TEST_CASE("without extra sockets the guesser never guesses") {
  HardPair p;
  p.pool.limit = 0;
  p.start();
  p.run_until([] { return false; }, 40s);
  CHECK(p.ends[1].stats().guesses_sent == 0);
  CHECK_FALSE(p.ends[0].direct());
  CHECK_FALSE(p.ends[1].direct());
}

TEST_CASE("a round that spent its guesses waits the slow interval before the next") {
  path::PathConfig fw;
  fw.birthday.guesses = 100;
  path::PathConfig hard;
  hard.birthday.guesses = 100;  // the hard side keeps its sockets for the peer's budget
  HardPair p(hard, fw);
  p.blocked = true;
  p.start();
  // 100 guesses take under a second; the hard side keeps its sockets for 100 guesses at
  // the slowest pace plus the answer time (4 s), then the round ends.
  p.run_until([] { return false; }, 10s);
  CHECK(p.ends[1].stats().guesses_sent == 100);
  CHECK(p.pool.open_count() == 0);  // the round is over: the sockets are closed
  const std::uint64_t rounds = p.ends[0].stats().rounds;
  p.run_until([] { return false; }, 25s);
  CHECK(p.ends[0].stats().rounds == rounds);  // nothing before the slow interval
  p.run_until([] { return false; }, 15s);
  CHECK(p.ends[0].stats().rounds == rounds + 1);
  CHECK(p.ends[1].stats().guesses_sent == 200);
  CHECK(p.pool.most_open == path::kBirthdaySockets);
}
