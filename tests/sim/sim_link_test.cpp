// The simulated link does what its configuration says: the scenarios' conclusions rest on
// it, so each impairment is checked on its own, on counts large enough to be stable.
#include "sim/sim_link.hpp"

#include <doctest/doctest.h>

#include <vector>

namespace punch::sim {
namespace {

using namespace std::chrono_literals;

// Offers `n` numbered datagrams spaced `gap` apart and collects what arrives, in order.
std::vector<util::Bytes> run(Link& link, int n, util::Duration gap,
                             std::vector<util::TimePoint>* arrivals = nullptr) {
  std::vector<util::Bytes> out;
  util::TimePoint now = kSimEpoch;
  auto collect = [&](util::TimePoint until) {
    while (link.next_arrival() <= until) {
      const util::TimePoint at = link.next_arrival();
      auto d = link.receive(at);
      REQUIRE(d);
      out.push_back(d->data);
      if (arrivals != nullptr) arrivals->push_back(at);
    }
  };
  for (int i = 0; i < n; ++i) {
    collect(now);
    util::Bytes b(100, 0);
    b[0] = static_cast<std::uint8_t>(i);
    b[1] = static_cast<std::uint8_t>(i >> 8);
    link.send(std::move(b), now);
    now += gap;
  }
  collect(util::kNever - 1s);
  return out;
}

int number(const util::Bytes& b) { return b[0] | (b[1] << 8); }

}  // namespace

TEST_CASE("sim_link: delay and rate set the arrival time; the queue drops the excess") {
  LinkConfig c;
  c.delay = 10ms;
  c.rate_bytes_per_second = 1e6;
  c.overhead_bytes = 0;
  c.queue_bytes = 1000;
  Link link(c, 1);
  util::TimePoint now = kSimEpoch;
  CHECK(link.send(util::Bytes(500, 0), now));
  CHECK(link.send(util::Bytes(500, 0), now));
  CHECK_FALSE(link.send(util::Bytes(500, 0), now));  // 1000 bytes already wait.
  CHECK(link.stats().dropped_queue == 1);
  CHECK(link.next_arrival() == now + 500us + 10ms);
  CHECK_FALSE(link.receive(now + 10ms));
  CHECK(link.receive(now + 10500us));
  CHECK(link.next_arrival() == now + 1000us + 10ms);
}

TEST_CASE("sim_link: burst loss drops runs of burst_length") {
  LinkConfig c;
  c.rate_bytes_per_second = 0;
  c.burst_loss = 0.02 / 3;
  c.burst_length = 3;
  Link link(c, 7);
  const auto got = run(link, 30000, 1ms);
  const auto dropped = link.stats().dropped_burst;
  CHECK(dropped == 30000 - got.size());
  CHECK(dropped % 3 == 0);
  CHECK(dropped > 450);  // About 2 %.
  CHECK(dropped < 750);
  // Gaps in the numbering come in threes (or runs of threes).
  for (std::size_t i = 1; i < got.size(); ++i) {
    const int gap = (number(got[i]) - number(got[i - 1]) + 65536) % 65536 - 1;
    CHECK(gap % 3 == 0);
  }
}

TEST_CASE("sim_link: reordering holds some back; jitter never reorders") {
  LinkConfig c;
  c.rate_bytes_per_second = 0;
  c.reorder = 0.1;
  c.reorder_delay = 10ms;
  Link link(c, 3);
  const auto got = run(link, 2000, 1ms);
  CHECK(got.size() == 2000);
  int out_of_order = 0;
  for (std::size_t i = 1; i < got.size(); ++i) {
    out_of_order += number(got[i]) < number(got[i - 1]) ? 1 : 0;
  }
  CHECK(link.stats().reordered > 150);
  CHECK(out_of_order > 100);

  LinkConfig j;
  j.rate_bytes_per_second = 0;
  j.jitter = 5ms;
  Link jittery(j, 4);
  std::vector<util::TimePoint> at;
  const auto in_order = run(jittery, 2000, 1ms, &at);
  bool spread = false;
  for (std::size_t i = 1; i < in_order.size(); ++i) {
    CHECK(number(in_order[i]) == number(in_order[i - 1]) + 1);
    spread = spread || at[i] - at[i - 1] != 1ms;
  }
  CHECK(spread);
}

TEST_CASE("sim_link: duplication, corruption and blackholing") {
  LinkConfig c;
  c.rate_bytes_per_second = 0;
  c.duplicate = 0.05;
  c.corrupt = 0.05;
  Link link(c, 5);
  util::TimePoint now = kSimEpoch;
  std::uint64_t corrupted = 0;
  std::uint64_t delivered = 0;
  for (int i = 0; i <= 2000; ++i) {
    if (i < 2000) link.send(util::Bytes(100, 0x55), now);
    now += i < 2000 ? 1ms : 1s;  // The last step lets everything in transit arrive.
    while (auto d = link.receive(now)) {
      ++delivered;
      const bool intact = d->data == util::Bytes(100, 0x55);
      CHECK(intact == !d->corrupted);
      corrupted += d->corrupted ? 1 : 0;
    }
  }
  CHECK(link.stats().duplicated > 50);
  CHECK(delivered == 2000 + link.stats().duplicated);
  CHECK(corrupted > 50);

  Link hole(LinkConfig{}, 6);
  hole.set_blackhole(true);
  CHECK_FALSE(hole.send(util::Bytes(10, 0), kSimEpoch));
  hole.set_blackhole(false);
  CHECK(hole.send(util::Bytes(10, 0), kSimEpoch));
  CHECK(hole.stats().dropped_blackhole == 1);
}

TEST_CASE("sim_link: the same seed gives the same pattern, another seed another") {
  LinkConfig c;
  c.rate_bytes_per_second = 0;
  c.loss = 0.1;
  Link a(c, 11);
  Link b(c, 11);
  Link other(c, 12);
  const auto ga = run(a, 1000, 1ms);
  const auto gb = run(b, 1000, 1ms);
  const auto go = run(other, 1000, 1ms);
  CHECK(ga == gb);
  CHECK(ga != go);
}

}  // namespace punch::sim
