#include "rendezvous/registry.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include "test_time.hpp"

namespace rv = punch::rendezvous;
namespace wire = punch::wire;
namespace util = punch::util;
using punch::crypto::NodeId;
using namespace std::chrono_literals;

namespace {

using punch::testing::kT0;
constexpr wire::Token kToken1{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
constexpr wire::Token kToken2{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};

NodeId node(std::uint8_t tag) {
  std::uint8_t raw[NodeId::kSize] = {};
  raw[0] = tag;
  return *NodeId::from_bytes(raw);
}

util::Address addr(std::uint16_t port) { return util::Address::v4(192, 0, 2, 1, port); }

}  // namespace

TEST_CASE("add stores a registration that find returns") {
  rv::Registry reg;
  CHECK(reg.size() == 0);
  CHECK(reg.find(1) == nullptr);
  rv::Registration& r = reg.add(1, kToken1, node(1), addr(1000), true, kT0 + 90s);
  CHECK(reg.size() == 1);
  CHECK(reg.find(1) == &r);
  CHECK(r.instance == 1);
  CHECK(r.token == kToken1);
  CHECK(r.id == node(1));
  CHECK(r.address == addr(1000));
  CHECK(r.listener);
  CHECK(r.expires == kT0 + 90s);
  CHECK(r.relays.empty());
  CHECK(reg.find(2) == nullptr);
}

TEST_CASE("authenticate needs the instance's own token") {
  rv::Registry reg;
  rv::Registration& a = reg.add(1, kToken1, node(1), addr(1000), false, kT0 + 90s);
  reg.add(2, kToken2, node(2), addr(1001), false, kT0 + 90s);
  CHECK(reg.authenticate(1, kToken1) == &a);
  CHECK(reg.authenticate(1, kToken2) == nullptr);  // Another registration's token.
  CHECK(reg.authenticate(3, kToken1) == nullptr);  // Unknown instance.
  for (std::size_t i = 0; i < kToken1.size(); ++i) {
    CAPTURE(i);
    wire::Token bad = kToken1;
    bad[i] ^= 0x80;
    CHECK(reg.authenticate(1, bad) == nullptr);
  }
}

TEST_CASE("each registration gets a higher sequence than the last") {
  rv::Registry reg;
  const auto s1 = reg.add(1, kToken1, node(1), addr(1000), false, kT0 + 90s).sequence;
  const auto s2 = reg.add(2, kToken2, node(2), addr(1001), false, kT0 + 90s).sequence;
  CHECK(s2 > s1);
  rv::Registration& r1 = *reg.find(1);
  reg.reregister(r1, false, kT0 + 100s);
  CHECK(r1.sequence > s2);
}

TEST_CASE("newest_listener finds listeners by ID, newest first") {
  rv::Registry reg;
  reg.add(1, kToken1, node(7), addr(1000), true, kT0 + 90s);
  reg.add(2, kToken2, node(7), addr(1001), true, kT0 + 90s);
  reg.add(3, kToken1, node(7), addr(1002), false, kT0 + 90s);  // Newest, but no listener.
  reg.add(4, kToken1, node(8), addr(1003), true, kT0 + 90s);   // Another ID.

  rv::Registration* best = reg.newest_listener(node(7), 0);
  REQUIRE(best != nullptr);
  CHECK(best->instance == 2);
  CHECK(reg.newest_listener(node(9), 0) == nullptr);
  REQUIRE(reg.newest_listener(node(8), 0) != nullptr);
  CHECK(reg.newest_listener(node(8), 0)->instance == 4);

  SUBCASE("except_instance skips the asker's own registration") {
    REQUIRE(reg.newest_listener(node(7), 2) != nullptr);
    CHECK(reg.newest_listener(node(7), 2)->instance == 1);
    CHECK(reg.newest_listener(node(8), 4) == nullptr);
  }
  SUBCASE("a new REGISTER makes an older registration the newest") {
    reg.reregister(*reg.find(1), true, kT0 + 100s);
    CHECK(reg.newest_listener(node(7), 0)->instance == 1);
  }
  SUBCASE("a REGISTER as listener indexes a registration") {
    reg.reregister(*reg.find(3), true, kT0 + 100s);
    CHECK(reg.find(3)->listener);
    CHECK(reg.newest_listener(node(7), 0)->instance == 3);
  }
  SUBCASE("a REGISTER without the listener flag unindexes it") {
    reg.reregister(*reg.find(2), false, kT0 + 100s);
    CHECK_FALSE(reg.find(2)->listener);
    CHECK(reg.newest_listener(node(7), 0)->instance == 1);
    reg.reregister(*reg.find(1), false, kT0 + 100s);
    CHECK(reg.newest_listener(node(7), 0) == nullptr);
  }
  SUBCASE("repeated listener REGISTERs do not duplicate the index entry") {
    reg.reregister(*reg.find(4), true, kT0 + 100s);
    reg.reregister(*reg.find(4), true, kT0 + 110s);
    reg.reregister(*reg.find(4), false, kT0 + 120s);
    CHECK(reg.newest_listener(node(8), 0) == nullptr);
  }
}

TEST_CASE("next_expiry is the earliest expiry, or never") {
  rv::Registry reg;
  CHECK(reg.next_expiry() == util::kNever);
  reg.add(1, kToken1, node(1), addr(1000), false, kT0 + 90s);
  reg.add(2, kToken2, node(2), addr(1001), false, kT0 + 60s);
  CHECK(reg.next_expiry() == kT0 + 60s);
  reg.refresh(*reg.find(2), kT0 + 120s);
  CHECK(reg.next_expiry() == kT0 + 90s);
  CHECK(reg.find(2)->expires == kT0 + 120s);
}

TEST_CASE("take_expired removes registrations at their expiry, not before") {
  rv::Registry reg;
  reg.add(1, kToken1, node(1), addr(1000), true, kT0 + 60s);
  reg.add(2, kToken2, node(2), addr(1001), false, kT0 + 90s);
  CHECK(reg.take_expired(kT0 + 60s - 1ns).empty());
  CHECK(reg.size() == 2);

  const auto gone = reg.take_expired(kT0 + 60s);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].instance == 1);
  CHECK(gone[0].token == kToken1);  // Returned whole, for the caller's cleanup.
  CHECK(reg.size() == 1);
  CHECK(reg.find(1) == nullptr);
  CHECK(reg.authenticate(1, kToken1) == nullptr);
  CHECK(reg.newest_listener(node(1), 0) == nullptr);
  CHECK(reg.next_expiry() == kT0 + 90s);

  CHECK(reg.take_expired(kT0 + 1h).size() == 1);
  CHECK(reg.size() == 0);
  CHECK(reg.next_expiry() == util::kNever);
}

TEST_CASE("refresh and reregister postpone expiry") {
  rv::Registry reg;
  reg.add(1, kToken1, node(1), addr(1000), true, kT0 + 60s);
  reg.add(2, kToken2, node(2), addr(1001), false, kT0 + 60s);
  reg.refresh(*reg.find(1), kT0 + 150s);
  reg.reregister(*reg.find(2), false, kT0 + 100s);
  CHECK(reg.take_expired(kT0 + 60s).empty());
  CHECK(reg.next_expiry() == kT0 + 100s);
  const auto gone = reg.take_expired(kT0 + 100s);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].instance == 2);
  CHECK(reg.newest_listener(node(1), 0) != nullptr);
  CHECK(reg.take_expired(kT0 + 150s).size() == 1);
  CHECK(reg.newest_listener(node(1), 0) == nullptr);
}

TEST_CASE("an expired listener leaves the newer one of the same ID findable") {
  rv::Registry reg;
  reg.add(1, kToken1, node(7), addr(1000), true, kT0 + 60s);
  reg.add(2, kToken2, node(7), addr(1001), true, kT0 + 30s);
  CHECK(reg.newest_listener(node(7), 0)->instance == 2);
  REQUIRE(reg.take_expired(kT0 + 30s).size() == 1);
  REQUIRE(reg.newest_listener(node(7), 0) != nullptr);
  CHECK(reg.newest_listener(node(7), 0)->instance == 1);
}

TEST_CASE("registrations expiring at the same instant all go") {
  rv::Registry reg;
  for (std::uint64_t i = 1; i <= 5; ++i)
    reg.add(i, kToken1, node(static_cast<std::uint8_t>(i)), addr(static_cast<std::uint16_t>(i)),
            i % 2 == 0, kT0 + 10s);
  auto gone = reg.take_expired(kT0 + 10s);
  CHECK(gone.size() == 5);
  std::sort(gone.begin(), gone.end(),
            [](const auto& a, const auto& b) { return a.instance < b.instance; });
  for (std::uint64_t i = 1; i <= 5; ++i) CHECK(gone[i - 1].instance == i);
  CHECK(reg.size() == 0);
}
