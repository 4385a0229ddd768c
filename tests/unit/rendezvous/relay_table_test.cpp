#include "rendezvous/relay_table.hpp"

#include <doctest/doctest.h>

#include "rendezvous/constants.hpp"
#include "test_time.hpp"

namespace rv = punch::rendezvous;
namespace util = punch::util;
using punch::crypto::NodeId;
using namespace std::chrono_literals;

namespace {

using punch::testing::kT0;
constexpr util::Duration kIdle = 120s;
constexpr util::Duration kPending = 15s;

NodeId target() {
  std::uint8_t raw[NodeId::kSize] = {9};
  return *NodeId::from_bytes(raw);
}

rv::RelayTable table() { return rv::RelayTable(kIdle, kPending); }

}  // namespace

TEST_CASE("add creates a pending relay that find returns") {
  auto t = table();
  CHECK(t.size() == 0);
  CHECK(t.next_expiry() == util::kNever);
  rv::Relay& r = t.add(0xc1d, 11, 22, target(), kT0);
  CHECK(t.size() == 1);
  CHECK(t.find(0xc1d) == &r);
  CHECK(t.find(0xc1e) == nullptr);
  CHECK(r.connection_id == 0xc1d);
  CHECK(r.connector == 11);
  CHECK(r.listener == 22);
  CHECK(r.target == target());
  CHECK_FALSE(r.active);
  CHECK(r.last_activity == kT0);
  CHECK(t.next_expiry() == kT0 + kPending);
}

TEST_CASE("a pending relay expires after the pending timeout") {
  auto t = table();
  t.add(1, 11, 22, target(), kT0);
  CHECK(t.take_expired(kT0 + kPending - 1ns).empty());
  CHECK(t.size() == 1);
  const auto gone = t.take_expired(kT0 + kPending);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].connection_id == 1);
  CHECK(gone[0].connector == 11);
  CHECK(gone[0].listener == 22);
  CHECK(t.size() == 0);
  CHECK(t.find(1) == nullptr);
  CHECK(t.next_expiry() == util::kNever);
}

TEST_CASE("an active relay lives for the idle timeout after its last touch") {
  auto t = table();
  rv::Relay& r = t.add(1, 11, 22, target(), kT0);
  t.touch(r, kT0 + 5s);
  r.active = true;  // The listener accepted.

  // The pending deadline passes without effect; the entry is re-armed.
  CHECK(t.take_expired(kT0 + kPending).empty());
  CHECK(t.size() == 1);
  CHECK(t.next_expiry() == kT0 + 5s + kIdle);

  CHECK(t.take_expired(kT0 + 5s + kIdle - 1ns).empty());
  CHECK(t.take_expired(kT0 + 5s + kIdle).size() == 1);
  CHECK(t.size() == 0);
}

TEST_CASE("touch keeps an active relay alive as long as traffic flows") {
  auto t = table();
  rv::Relay& r = t.add(1, 11, 22, target(), kT0);
  r.active = true;
  util::TimePoint now = kT0;
  for (int i = 0; i < 20; ++i) {
    now += 100s;  // Less than the idle timeout between touches.
    CHECK(t.take_expired(now).empty());
    REQUIRE(t.find(1) != nullptr);
    t.touch(*t.find(1), now);
  }
  CHECK(t.take_expired(now + kIdle - 1ns).empty());
  CHECK(t.take_expired(now + kIdle).size() == 1);
}

TEST_CASE("next_expiry may be early but never late") {
  auto t = table();
  rv::Relay& r = t.add(1, 11, 22, target(), kT0);
  r.active = true;
  t.touch(r, kT0 + 10s);
  // Touch is lazy: the queue still shows the old deadline, which is early.
  CHECK(t.next_expiry() <= kT0 + 10s + kIdle);
  CHECK(t.take_expired(t.next_expiry()).empty());
  CHECK(t.next_expiry() == kT0 + 10s + kIdle);
}

TEST_CASE("relays expire independently") {
  auto t = table();
  t.add(1, 11, 22, target(), kT0);
  rv::Relay& active = t.add(2, 11, 22, target(), kT0 + 1s);
  active.active = true;
  t.add(3, 11, 22, target(), kT0 + 2s);
  const auto gone = t.take_expired(kT0 + 2s + kPending);
  REQUIRE(gone.size() == 2);
  CHECK(gone[0].connection_id == 1);  // Earliest deadline first.
  CHECK(gone[1].connection_id == 3);
  REQUIRE(t.find(2) != nullptr);
  CHECK(t.take_expired(kT0 + 1s + kIdle).size() == 1);
}

TEST_CASE("a removed relay is gone and its queue entry is ignored") {
  auto t = table();
  t.add(1, 11, 22, target(), kT0);
  t.remove(1);
  t.remove(1);  // Removing twice is harmless.
  CHECK(t.size() == 0);
  CHECK(t.find(1) == nullptr);
  CHECK(t.take_expired(kT0 + 1h).empty());
}

TEST_CASE("a connection ID reused after remove gets its own deadline") {
  auto t = table();
  t.add(1, 11, 22, target(), kT0);
  t.remove(1);
  rv::Relay& again = t.add(1, 33, 44, target(), kT0 + 10s);
  again.active = true;
  // The first relay's deadline must not end the second one.
  CHECK(t.take_expired(kT0 + kPending).empty());
  REQUIRE(t.find(1) != nullptr);
  CHECK(t.find(1)->connector == 33);
  const auto gone = t.take_expired(kT0 + 10s + kIdle);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].connector == 33);
}

TEST_CASE("the server's relay timeouts: pending is short, idle is long") {
  CHECK(rv::kPendingRelayTimeout < rv::kRelayIdleTimeout);
  rv::RelayTable t(rv::kRelayIdleTimeout, rv::kPendingRelayTimeout);
  t.add(1, 11, 22, target(), kT0);
  CHECK(t.take_expired(kT0 + rv::kPendingRelayTimeout).size() == 1);
}

TEST_CASE("relay table: touching a pending relay does not extend its life") {
  rv::RelayTable table(std::chrono::seconds(120), std::chrono::seconds(15));
  const util::TimePoint t0 = util::TimePoint{} + std::chrono::hours(1);
  table.add(7, 1, 2, NodeId{}, t0);
  // A connector retransmitting CONNECT every 10 s touches it each time.
  for (int i = 1; i <= 10; ++i) {
    if (rv::Relay* found = table.find(7)) table.touch(*found, t0 + std::chrono::seconds(10 * i));
    table.take_expired(t0 + std::chrono::seconds(10 * i));
  }
  CHECK(table.find(7) == nullptr);
}
