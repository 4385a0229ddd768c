// The scenarios of issue 3 on the simulator, each over several seeds: bulk goodput
// on a 10 Mbit/s, 30 ms path with and without loss, long RTT, burst loss, heavy
// loss at the start, blackholes, reordering, duplication and corruption, path
// change, many streams, a stalled stream, two flows sharing a bottleneck, and the
// ACK policy as seen on the wire. Every run asserts integrity and completion within
// a virtual-time budget, and prints what it measured.
#include <doctest/doctest.h>

#include <chrono>
#include <deque>
#include <string>
#include <vector>

#include "sim/connection_pair.hpp"
#include "sim/sim_app.hpp"
#include "transport/constants.hpp"
#include "transport/frame.hpp"

namespace punch::sim {
namespace {

using transport::CongestionAlgorithm;
using transport::StreamId;
using namespace std::chrono_literals;

constexpr double kLinkBitsPerSecond = 10e6;
constexpr double kLinkBytesPerSecond = kLinkBitsPerSecond / 8;
constexpr std::size_t kTenMegabytes = 10 * 1000 * 1000;

double seconds(util::Duration d) { return std::chrono::duration<double>(d).count(); }

// The reference path of issue 3: 10 Mbit/s, 30 ms RTT, a bottleneck queue of 25 packets,
// `loss` at random in both directions.
LinkConfig reference_link(double loss = 0) {
  LinkConfig l;
  l.delay = 15ms;
  l.rate_bytes_per_second = kLinkBytesPerSecond;
  l.queue_bytes = 25 * kFullDatagramWireBytes;
  l.loss = loss;
  // A little jitter, so that seeds differ even without loss (and timers never align).
  l.jitter = 1ms;
  return l;
}

PairConfig reference_path(std::uint64_t seed, double loss = 0) {
  PairConfig c;
  c.seed = seed;
  c.a_to_b = reference_link(loss);
  c.b_to_a = c.a_to_b;
  return c;
}

struct BulkResult {
  bool done = false;
  bool intact = false;
  double seconds = 0;
  double goodput = 0;  // Fraction of kLinkBitsPerSecond.
  transport::Stats sender;
  LinkStats forward;
};

// Moves `size` bytes from a to b on one stream within `budget`; `setup` may schedule
// actions on the simulator first.
BulkResult bulk(const PairConfig& config, std::size_t size, util::Duration budget,
                const std::function<void(ConnectionPair&)>& setup = {}) {
  ConnectionPair p(config);
  Endpoint a(p.a());
  Endpoint b(p.b());
  a.keep_events = false;
  b.keep_events = false;
  p.set_app([&] {
    a.step();
    b.step();
  });
  if (setup) setup(p);
  const util::Bytes data = pattern(size, config.seed);
  const StreamId id = p.a().open_stream();
  b.in(id).data.reserve(size);
  a.send(id, data);
  BulkResult r;
  r.done = p.run_until([&] { return b.complete(id, size); }, budget);
  CHECK_FALSE(p.cap_hit());
  r.intact = b.in(id).data == data;
  r.seconds = seconds(p.elapsed());
  r.goodput = static_cast<double>(size) * 8 / r.seconds / kLinkBitsPerSecond;
  r.sender = p.a().stats();
  r.forward = p.a_to_b().stats();
  return r;
}

std::string describe(const BulkResult& r) {
  return std::to_string(r.goodput * 100).substr(0, 5) + " % in " +
         std::to_string(r.seconds).substr(0, 6) + " s, sent " +
         std::to_string(r.sender.packets_sent) + ", lost " + std::to_string(r.sender.packets_lost) +
         ", link drops q/rand/burst/bh " + std::to_string(r.forward.dropped_queue) + "/" +
         std::to_string(r.forward.dropped_random) + "/" + std::to_string(r.forward.dropped_burst) +
         "/" + std::to_string(r.forward.dropped_blackhole);
}

// Runs `seed_count` seeds of a bulk scenario, checks each, returns the worst goodput.
double run_seeds(const std::string& name, std::uint64_t seed_count, std::size_t size,
                 util::Duration budget, double min_goodput,
                 const std::function<PairConfig(std::uint64_t)>& config,
                 const std::function<void(ConnectionPair&)>& setup = {}) {
  double worst = 1e9;
  double sum = 0;
  for (std::uint64_t seed = 1; seed <= seed_count; ++seed) {
    CAPTURE(name);
    CAPTURE(seed);
    const BulkResult r = bulk(config(seed), size, budget, setup);
    CHECK(r.done);
    CHECK(r.intact);
    CHECK(r.goodput >= min_goodput);
    MESSAGE(name << " seed " << seed << ": " << describe(r));
    worst = std::min(worst, r.goodput);
    sum += r.goodput;
  }
  MESSAGE(name << ": goodput worst " << worst * 100 << " %, mean "
               << sum / static_cast<double>(seed_count) * 100 << " % of 10 Mbit/s over "
               << seed_count << " seeds");
  return worst;
}

}  // namespace

TEST_CASE("sim scenario: 10 MB at 10 Mbit/s, 30 ms, queue 25: goodput >= 90 %") {
  run_seeds("clean", seeds(6, 1), kTenMegabytes, 12s, 0.90,
            [](std::uint64_t seed) { return reference_path(seed); });
}

TEST_CASE("sim scenario: the same with 1 % random loss: goodput >= 70 %") {
  run_seeds("1% loss", seeds(6, 1), kTenMegabytes, 16s, 0.70,
            [](std::uint64_t seed) { return reference_path(seed, 0.01); });
}

TEST_CASE("sim scenario: BBR against NewReno on the reference path") {
  // Not a goal in itself: the figures for docs/transport.md, and proof that the default
  // controller is the one that keeps a lossy path full.
  double reno[2] = {};
  double bbr[2] = {};
  const double losses[2] = {0.0, 0.01};
  for (int i = 0; i < 2; ++i) {
    PairConfig c = reference_path(1, losses[i]);
    c.algorithm = CongestionAlgorithm::kNewReno;
    // Smaller under sanitizers: the ratio shows as well on 3 MB.
    const std::size_t size = sanitized() ? 3 * 1000 * 1000 : kTenMegabytes;
    const BulkResult r = bulk(c, size, 60s);
    CHECK(r.done);
    CHECK(r.intact);
    reno[i] = r.goodput;
    c.algorithm = CongestionAlgorithm::kBbr;
    bbr[i] = bulk(c, size, 60s).goodput;
    MESSAGE("loss " << losses[i] * 100 << " %: NewReno " << reno[i] * 100 << " %, BBR "
                    << bbr[i] * 100 << " % of 10 Mbit/s");
  }
  CHECK(bbr[0] >= reno[0] * 0.98);
  CHECK(bbr[1] >= reno[1] * 1.3);
}

TEST_CASE("sim scenario: long RTT (1.5 s) at 10 Mbit/s") {
  // One stream is capped by its 1 MiB receive window: 1 MiB per 1.5 s is 5.6 Mbit/s.
  run_seeds("rtt 1.5 s", seeds(2, 1), 5 * 1000 * 1000, 40s, 0.15, [](std::uint64_t seed) {
    PairConfig c = reference_path(seed);
    c.a_to_b.delay = c.b_to_a.delay = 750ms;
    c.a_to_b.queue_bytes = c.b_to_a.queue_bytes = 100 * kFullDatagramWireBytes;
    return c;
  });
}

TEST_CASE("sim scenario: 2 % loss in bursts of 3") {
  run_seeds("bursts of 3", seeds(4, 1), kTenMegabytes, 20s, 0.60, [](std::uint64_t seed) {
    PairConfig c = reference_path(seed);
    c.a_to_b.burst_loss = c.b_to_a.burst_loss = 0.02 / 3;
    c.a_to_b.burst_length = c.b_to_a.burst_length = 3;
    return c;
  });
}

TEST_CASE("sim scenario: 30 % loss during the first 3 s") {
  run_seeds(
      "30% at start", seeds(4, 1), kTenMegabytes, 25s, 0.45,
      [](std::uint64_t seed) { return reference_path(seed, 0.30); },
      [](ConnectionPair& p) {
        p.sim().at(kSimEpoch + 3s, [&p] {
          p.a_to_b().set_loss(0);
          p.b_to_a().set_loss(0);
        });
      });
}

TEST_CASE("sim scenario: blackholes 5 s on / 2 s off during a 10 MB transfer") {
  // From 1 s on, both directions drop everything for 5 s, then pass for 2 s, over and over:
  // only the PTO probes find the open windows. The transfer must survive and stay intact.
  run_seeds(
      "blackhole 5/2", seeds(2, 1), kTenMegabytes, 120s, 0.0,
      [](std::uint64_t seed) { return reference_path(seed); },
      [](ConnectionPair& p) {
        for (int cycle = 0; cycle < 20; ++cycle) {
          const util::TimePoint on = kSimEpoch + 1s + cycle * 7s;
          p.sim().at(on, [&p] {
            p.a_to_b().set_blackhole(true);
            p.b_to_a().set_blackhole(true);
          });
          p.sim().at(on + 5s, [&p] {
            p.a_to_b().set_blackhole(false);
            p.b_to_a().set_blackhole(false);
          });
        }
      });
}

TEST_CASE("sim scenario: reordering causes no spurious retransmission storm") {
  for (std::uint64_t seed = 1; seed <= seeds(3, 1); ++seed) {
    CAPTURE(seed);
    // Mild: held back by 1.5 ms, under three packet times at 10 Mbit/s: nothing may be
    // declared lost beyond what the link really dropped.
    PairConfig mild = reference_path(seed);
    mild.a_to_b.reorder = mild.b_to_a.reorder = 0.2;
    mild.a_to_b.reorder_delay = mild.b_to_a.reorder_delay = 1500us;
    const BulkResult m = bulk(mild, kTenMegabytes / 2, 10s);
    CHECK(m.done);
    CHECK(m.intact);
    const std::uint64_t dropped = m.forward.dropped_queue + m.forward.dropped_random;
    CHECK(m.sender.packets_lost <= dropped + m.forward.reordered / 20);
    MESSAGE("reorder 20 % by 1.5 ms seed " << seed << ": " << describe(m) << ", reordered "
                                           << m.forward.reordered);
    // Severe: 10 % held back by 10 ms (ten packet times) overtake the packet threshold, so
    // the first are declared lost; their late ACKs raise the thresholds (RFC 9002 6.1), so
    // after a few the reordering costs nothing.
    PairConfig severe = reference_path(seed);
    severe.a_to_b.reorder = severe.b_to_a.reorder = 0.1;
    severe.a_to_b.reorder_delay = severe.b_to_a.reorder_delay = 10ms;
    const BulkResult s = bulk(severe, kTenMegabytes / 2, 10s);
    CHECK(s.done);
    CHECK(s.intact);
    const std::uint64_t real = s.forward.dropped_queue + s.forward.dropped_random;
    CHECK(s.sender.packets_lost <= real + s.forward.reordered / 10);
    CHECK(s.goodput >= 0.85);
    MESSAGE("reorder 10 % by 10 ms seed " << seed << ": " << describe(s) << ", reordered "
                                          << s.forward.reordered);
  }
}

TEST_CASE("sim scenario: duplication and corruption") {
  for (std::uint64_t seed = 1; seed <= seeds(3, 1); ++seed) {
    CAPTURE(seed);
    // Corrupted datagrams are dropped as the session's AEAD drops them.
    PairConfig c = reference_path(seed);
    c.a_to_b.duplicate = c.b_to_a.duplicate = 0.05;
    c.a_to_b.corrupt = c.b_to_a.corrupt = 0.01;
    const BulkResult r = bulk(c, 2 * 1000 * 1000, 10s);
    CHECK(r.done);
    CHECK(r.intact);
    CHECK(r.forward.duplicated > 0);
    CHECK(r.forward.corrupted > 0);
    MESSAGE("dup 5 %, corrupt 1 % seed " << seed << ": " << describe(r));

    // Garbage handed to the transport itself: it may close (protocol violation), but it must
    // neither crash nor hang, and whatever it delivered is intact.
    PairConfig g = reference_path(seed);
    g.a_to_b.corrupt = g.b_to_a.corrupt = 0.01;
    g.deliver_corrupted = true;
    ConnectionPair p(g);
    Endpoint a(p.a());
    Endpoint b(p.b());
    p.set_app([&] {
      a.step();
      b.step();
    });
    const util::Bytes data = pattern(1000 * 1000, seed);
    const StreamId id = p.a().open_stream();
    a.send(id, data);
    const bool ended = p.run_until(
        [&] { return b.complete(id, data.size()) || p.a().closed() || p.b().closed(); }, 30s);
    CHECK(ended);
    // Without the AEAD a flipped byte inside STREAM data is delivered as is: integrity is
    // the session's job, so only survival is checked here.
    const util::Bytes& got = b.in(id).data;
    if (p.a().closed() || p.b().closed()) {
      const std::string reason =
          p.a().closed() ? p.a().close_reason().message() : p.b().close_reason().message();
      CHECK(reason.find("protocol violation") != std::string::npos);
      MESSAGE("garbage seed " << seed << ": closed after " << got.size() << " bytes: " << reason);
    } else {
      MESSAGE("garbage seed " << seed << ": survived, " << got.size() << " bytes intact");
    }
  }
}

TEST_CASE("sim scenario: path change mid-transfer (new RTT and rate, reset_path)") {
  struct Change {
    const char* name;
    util::Duration delay;
    double rate;
  };
  const Change changes[] = {{"to 100 ms, 5 Mbit/s", 50ms, 5e6 / 8},
                            {"to 10 ms, 40 Mbit/s", 5ms, 40e6 / 8}};
  for (const Change& ch : changes) {
    for (std::uint64_t seed = 1; seed <= seeds(2, 1); ++seed) {
      const std::string change_name = ch.name;
      CAPTURE(change_name);
      CAPTURE(seed);
      util::TimePoint changed_at{};
      std::uint64_t delivered_at_change = 0;
      ConnectionPair* pair = nullptr;
      const BulkResult r = bulk(reference_path(seed), kTenMegabytes, 30s, [&](ConnectionPair& p) {
        pair = &p;
        p.sim().at(kSimEpoch + 3s, [&, &p = p] {
          LinkConfig l = p.a_to_b().config();
          l.delay = ch.delay;
          l.rate_bytes_per_second = ch.rate;
          p.a_to_b().set_config(l);
          p.b_to_a().set_config(l);
          p.a().reset_path(p.now());
          p.b().reset_path(p.now());
          changed_at = p.now();
          delivered_at_change = p.a().stats().stream_bytes_acked;
        });
      });
      CHECK(r.done);
      CHECK(r.intact);
      // After the change the transfer runs at the new path's rate, not the old estimate.
      const double after = static_cast<double>(kTenMegabytes - delivered_at_change) /
                           (r.seconds - seconds(changed_at - kSimEpoch));
      CHECK(after >= 0.6 * ch.rate * 1166 / 1228);
      MESSAGE("path change " << change_name << " seed " << seed << ": " << describe(r)
                             << ", after the change " << after * 8 / 1e6 << " Mbit/s");
    }
  }
}

TEST_CASE("sim scenario: the bottleneck drops to a tenth without a path change") {
  // Nobody calls reset_path(): the model still believes 10 Mbit/s for up to ten round trips
  // while the link carries 1. The transfer must complete, and the sender must not keep
  // flooding: the max filter forgets the old rate and the heavy-loss guard caps in flight.
  for (std::uint64_t seed = 1; seed <= seeds(2, 1); ++seed) {
    CAPTURE(seed);
    std::uint64_t sent_before = 0;
    std::uint64_t lost_before = 0;
    const BulkResult r = bulk(reference_path(seed), 3 * 1000 * 1000, 40s, [&](ConnectionPair& p) {
      p.sim().at(kSimEpoch + 1s, [&p, &sent_before, &lost_before] {
        LinkConfig l = p.a_to_b().config();
        l.rate_bytes_per_second = kLinkBytesPerSecond / 10;
        p.a_to_b().set_config(l);
        sent_before = p.a().stats().packets_sent;
        lost_before = p.a().stats().packets_lost;
      });
    });
    CHECK(r.done);
    CHECK(r.intact);
    const double sent = static_cast<double>(r.sender.packets_sent - sent_before);
    const double lost = static_cast<double>(r.sender.packets_lost - lost_before);
    CHECK(lost / sent < 0.25);
    MESSAGE("rate drop to 1 Mbit/s at 1 s, seed " << seed << ": " << describe(r) << ", "
                                                  << lost / sent * 100
                                                  << " % of packets lost after the drop");
  }
}

TEST_CASE("sim scenario: 2,000 streams of 32 bytes") {
  for (std::uint64_t seed = 1; seed <= seeds(2, 1); ++seed) {
    CAPTURE(seed);
    ConnectionPair p(reference_path(seed, 0.01));
    Endpoint a(p.a());
    Endpoint b(p.b());
    // The server half-closes each stream at once, so both ends can forget it.
    b.on_open = [&](StreamId id) { b.send(id, {}, true); };
    p.set_app([&] {
      a.step();
      b.step();
    });
    std::vector<StreamId> ids;
    for (int i = 0; i < 2000; ++i) {
      ids.push_back(p.a().open_stream());
      a.send(ids.back(), pattern(32, ids.back()));
    }
    const bool done = p.run_until(
        [&] {
          for (StreamId id : ids) {
            if (!b.complete(id, 32) || !a.complete(id, 0)) return false;
          }
          return true;
        },
        10s);
    CHECK(done);
    for (StreamId id : ids) CHECK(b.in(id).data == pattern(32, id));
    p.run_for(1s);
    CHECK(p.a().stats().open_streams == 0);
    CHECK(p.b().stats().open_streams == 0);
    MESSAGE("2000 x 32 B, 1 % loss, seed " << seed << ": " << seconds(p.elapsed()) << " s virtual");
  }
}

TEST_CASE("sim scenario: 10,000 streams over a lifetime, 1,000 open at once") {
  ConnectionPair p(reference_path(1, 0.01));
  Endpoint a(p.a());
  Endpoint b(p.b());
  a.keep_events = b.keep_events = false;
  p.set_app([&] {
    a.step();
    b.step();
  });
  std::uint64_t peak_memory = 0;
  const int batches = sanitized() ? 3 : 10;
  for (int batch = 0; batch < batches; ++batch) {
    CAPTURE(batch);
    std::vector<StreamId> ids;
    for (int i = 0; i < 1000; ++i) {
      ids.push_back(p.a().open_stream());
      a.send(ids.back(), pattern(64, ids.back()), /*finish=*/false);
    }
    const bool opened = p.run_until(
        [&] {
          for (StreamId id : ids) {
            if (b.in(id).data.size() != 64) return false;
          }
          return true;
        },
        10s);
    if (!opened) {
      std::size_t n = 0;
      for (StreamId id : ids) n += b.in(id).data.size() == 64 ? 1 : 0;
      const auto sa = p.a().stats();
      const auto sb = p.b().stats();
      MESSAGE("arrived " << n << " open " << sa.open_streams << "/" << sb.open_streams << " closed "
                         << p.a().close_reason().message() << "|" << p.b().close_reason().message()
                         << " inflight " << sa.bytes_in_flight << " cwnd " << sa.congestion_window
                         << " sent " << sa.packets_sent << " t " << seconds(p.elapsed()));
    }
    REQUIRE(opened);
    p.run_for(200ms);  // Let the last ACKs arrive.
    CHECK(p.a().stats().open_streams == 1000);
    CHECK(p.b().stats().open_streams == 1000);
    // Open streams whose bytes were read and acknowledged hold no buffer memory at all.
    peak_memory = std::max({peak_memory, p.a().stats().buffer_memory, p.b().stats().buffer_memory});
    for (StreamId id : ids) {
      a.send(id, {}, true);
      b.send(id, {}, true);
    }
    REQUIRE(p.run_until(
        [&] { return p.a().stats().open_streams == 0 && p.b().stats().open_streams == 0; }, 10s));
    for (StreamId id : ids) {
      CHECK(b.in(id).data == pattern(64, id));
      a.forget(id);
      b.forget(id);
    }
  }
  CHECK_FALSE(p.a().closed());
  CHECK(peak_memory == 0);
  MESSAGE((batches * 1000) << " streams, 1000 at once, 1 % loss: " << seconds(p.elapsed())
                           << " s virtual");
}

TEST_CASE("sim scenario: a stalled reader on one stream never stalls the others") {
  for (std::uint64_t seed = 1; seed <= seeds(2, 1); ++seed) {
    CAPTURE(seed);
    ConnectionPair p(reference_path(seed, 0.01));
    Endpoint a(p.a());
    Endpoint b(p.b());
    p.set_app([&] {
      a.step();
      b.step();
    });
    const StreamId stuck = p.a().open_stream();
    b.stalled.insert(stuck);
    const util::Bytes big = pattern(4 * 1000 * 1000, seed);
    a.send(stuck, big);
    std::vector<StreamId> ids;
    for (int i = 0; i < 8; ++i) {
      ids.push_back(p.a().open_stream());
      a.send(ids.back(), pattern(500 * 1000, ids.back()));
    }
    const bool others = p.run_until(
        [&] {
          for (StreamId id : ids) {
            if (!b.complete(id, 500 * 1000)) return false;
          }
          return true;
        },
        10s);
    CHECK(others);
    for (StreamId id : ids) CHECK(b.in(id).data == pattern(500 * 1000, id));
    // The stuck stream holds at most its window, unread.
    CHECK(p.b().stats().recv_buffered <= transport::kStreamReceiveWindow);
    // Memory follows the bytes held: the stuck window plus at most a partial block or two.
    CHECK(p.b().stats().buffer_memory <= transport::kStreamReceiveWindow + 2 * 16 * 1024);
    CHECK(b.in(stuck).data.empty());
    MESSAGE("8 x 500 kB beside a stalled stream, seed " << seed << ": " << seconds(p.elapsed())
                                                        << " s");
    b.resume_reading();
    REQUIRE(p.run_until([&] { return b.complete(stuck, big.size()); }, 20s));
    CHECK(b.in(stuck).data == big);
  }
}

TEST_CASE("sim scenario: two connections sharing one bottleneck each get 40-60 %") {
  for (std::uint64_t seed = 1; seed <= seeds(3, 1); ++seed) {
    CAPTURE(seed);
    Simulator sim(SimConfig{seed});
    const std::size_t forward = sim.add_link(reference_link());
    LinkConfig back = reference_link();
    back.queue_bytes = 1000 * kFullDatagramWireBytes;  // ACKs share the way back.
    const std::size_t backward = sim.add_link(back);
    std::size_t a[2];
    std::size_t b[2];
    for (int i = 0; i < 2; ++i) {
      a[i] = sim.add_node(transport::Role::kClient);
      b[i] = sim.add_node(transport::Role::kServer);
      sim.route(a[i], forward, b[i]);
      sim.route(b[i], backward, a[i]);
    }
    Endpoint ea[2] = {Endpoint(sim.node(a[0])), Endpoint(sim.node(a[1]))};
    Endpoint eb[2] = {Endpoint(sim.node(b[0])), Endpoint(sim.node(b[1]))};
    for (int i = 0; i < 2; ++i) ea[i].keep_events = eb[i].keep_events = false;
    sim.set_app([&] {
      for (int i = 0; i < 2; ++i) {
        ea[i].step();
        eb[i].step();
      }
    });
    constexpr std::size_t kSize = 30 * 1000 * 1000;  // More than either can move in the run.
    const StreamId id0 = sim.node(a[0]).open_stream();
    const StreamId id1 = sim.node(a[1]).open_stream();
    ea[0].send(id0, pattern(kSize, 1));
    // The second flow joins later, at a seed-dependent moment.
    sim.at(kSimEpoch + std::chrono::milliseconds(500 * seed),
           [&] { ea[1].send(id1, pattern(kSize, 2)); });
    // BBR v1 flows converge within seconds, not round trips: judge the shares after that.
    // (A shorter window under sanitizers, where 30 s of two flows take ten seconds.)
    constexpr auto kWarmup = 10s;
    const util::Duration end = sanitized() ? 20s : 30s;
    sim.run_for(kWarmup);
    const std::size_t start0 = eb[0].in(id0).data.size();
    const std::size_t start1 = eb[1].in(id1).data.size();
    sim.run_for(end - kWarmup);
    CHECK_FALSE(sim.cap_hit());
    const double got0 = static_cast<double>(eb[0].in(id0).data.size() - start0);
    const double got1 = static_cast<double>(eb[1].in(id1).data.size() - start1);
    const double share0 = got0 / (got0 + got1);
    const double utilisation = (got0 + got1) / (kLinkBytesPerSecond * seconds(end - kWarmup));
    CHECK(share0 >= 0.40);
    CHECK(share0 <= 0.60);
    CHECK(utilisation >= 0.80);
    const util::Bytes sent0 = pattern(kSize, 1);
    const util::Bytes& got0_bytes = eb[0].in(id0).data;
    CHECK(std::equal(got0_bytes.begin(), got0_bytes.end(), sent0.begin()));
    MESSAGE("shared bottleneck seed " << seed << ": shares " << share0 * 100 << " % / "
                                      << (1 - share0) * 100 << " %, link use " << utilisation * 100
                                      << " %, forward queue drops "
                                      << sim.link(forward).stats().dropped_queue);
  }
}

TEST_CASE("sim scenario: ACK policy seen on the wire") {
  // The receiver must acknowledge at least every 2 ack-eliciting packets, and none later
  // than max_ack_delay after it arrived (plus timer granularity).
  for (double loss : {0.0, 0.01}) {
    CAPTURE(loss);
    struct Pending {
      std::uint64_t pn;
      util::TimePoint arrived;
    };
    std::deque<Pending> pending;  // Ack-eliciting packets b received, not yet acknowledged.
    std::uint64_t too_many = 0;
    std::uint64_t acks = 0;
    util::Duration worst_delay{0};
    const BulkResult r =
        bulk(reference_path(3, loss), 2 * 1000 * 1000, 10s, [&](ConnectionPair& p) {
          p.sim().set_observer([&](const Observed& o) {
            util::ByteReader rd(o.payload);
            if (o.to == 1 && o.delivered) {
              bool eliciting = false;
              while (rd.remaining() > 0) {
                auto f = transport::decode_frame(rd);
                if (!f) return;
                eliciting = eliciting || transport::is_ack_eliciting(*f);
              }
              if (!eliciting) return;
              std::size_t earlier = 0;
              for (const Pending& q : pending) earlier += q.arrived < o.now ? 1 : 0;
              if (earlier >= transport::kPacketsBeforeAck) ++too_many;
              pending.push_back({o.packet_number, o.now});
            } else if (o.from == 1 && !o.delivered) {
              while (rd.remaining() > 0) {
                auto f = transport::decode_frame(rd);
                if (!f) return;
                const auto* ack = std::get_if<transport::AckFrame>(&*f);
                if (ack == nullptr) continue;
                ++acks;
                std::erase_if(pending, [&](const Pending& q) {
                  for (const transport::AckRange& range : ack->ranges) {
                    if (q.pn >= range.smallest && q.pn <= range.largest) {
                      worst_delay = std::max(worst_delay, o.now - q.arrived);
                      return true;
                    }
                  }
                  return false;
                });
              }
            }
          });
        });
    CHECK(r.done);
    CHECK(acks > 100);
    CHECK(too_many == 0);
    CHECK(worst_delay <= transport::kMaxAckDelay + transport::kGranularity);
    MESSAGE("ACK policy, loss " << loss * 100 << " %: " << acks << " ACKs, worst delay "
                                << std::chrono::duration<double, std::milli>(worst_delay).count()
                                << " ms");
  }
}

}  // namespace punch::sim
