#include "forward/auth_backoff.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <vector>

#include "forward/constants.hpp"

namespace punch::forward {
namespace {

using namespace std::chrono_literals;

const util::TimePoint kT0 = util::TimePoint{} + std::chrono::hours(1);

util::Address v6(std::uint8_t last, std::uint8_t fourth_group = 0, std::uint16_t port = 1) {
  util::Address a;
  a.family = 6;
  a.ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, fourth_group, 0, 0, 0, 0, 0, 0, 0, last};
  a.port = port;
  return a;
}

}  // namespace

TEST_CASE("auth backoff: the wait doubles from 100 ms per failure and stops at 10 s") {
  AuthBackoff b;
  const util::Address client = util::Address::v4(192, 0, 2, 1, 5000);
  CHECK(b.ready_at(client, kT0) == kT0);
  std::vector<util::Duration> waits;
  util::TimePoint now = kT0;
  for (int i = 0; i < 10; ++i) {
    b.on_failure(client, now);
    waits.push_back(b.ready_at(client, now) - now);
    now = b.ready_at(client, now);
  }
  CHECK(waits == std::vector<util::Duration>{100ms, 200ms, 400ms, 800ms, 1600ms, 3200ms, 6400ms,
                                             10s, 10s, 10s});
  CHECK(b.failures(client, now) == 10);
  b.on_success(client);
  CHECK(b.ready_at(client, now) == now);
  CHECK(b.size() == 0);
}

TEST_CASE("auth backoff: one client is an IPv4 address or an IPv6 /64, whatever the port") {
  AuthBackoff b;
  b.on_failure(util::Address::v4(192, 0, 2, 1, 5000), kT0);
  CHECK(b.ready_at(util::Address::v4(192, 0, 2, 1, 6000), kT0) == kT0 + kAuthBackoffBase);
  CHECK(b.ready_at(util::Address::v4(192, 0, 2, 2, 5000), kT0) == kT0);
  b.on_failure(v6(1), kT0);
  CHECK(b.ready_at(v6(0xff, 0, 9), kT0) == kT0 + kAuthBackoffBase);  // same /64
  CHECK(b.ready_at(v6(1, 1), kT0) == kT0);                           // another /64
  // An IPv4-mapped address is its IPv4 client, not the /64 every mapped address shares.
  util::Address mapped;
  mapped.family = 6;
  mapped.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
  CHECK(b.ready_at(mapped, kT0) == kT0 + kAuthBackoffBase);
  mapped.ip[15] = 7;
  CHECK(b.ready_at(mapped, kT0) == kT0);
}

TEST_CASE("auth backoff: failures are forgotten 10 minutes after the last one") {
  AuthBackoff b;
  const util::Address client = util::Address::v4(192, 0, 2, 1, 5000);
  for (int i = 0; i < 5; ++i) b.on_failure(client, kT0);
  CHECK(b.failures(client, kT0 + kAuthBackoffForget - 1s) == 5);
  CHECK(b.failures(client, kT0 + kAuthBackoffForget) == 0);
  b.on_failure(client, kT0 + kAuthBackoffForget);
  CHECK(b.failures(client, kT0 + kAuthBackoffForget) == 1);  // starts over at 100 ms
}

TEST_CASE("auth backoff: the table holds at most kAuthBackoffClients clients") {
  AuthBackoff b;
  // One long-delayed client, then a flood of one-failure clients from other addresses.
  const util::Address patient = util::Address::v4(10, 0, 0, 1, 1);
  for (int i = 0; i < 10; ++i) b.on_failure(patient, kT0);
  for (std::uint32_t i = 0; i < 2 * kAuthBackoffClients; ++i) {
    b.on_failure(util::Address::v4(198, 18, static_cast<std::uint8_t>(i >> 8),
                                   static_cast<std::uint8_t>(i), 1),
                 kT0 + std::chrono::milliseconds(i));
    REQUIRE(b.size() <= kAuthBackoffClients);
  }
  CHECK(b.size() == kAuthBackoffClients);
  // Those whose delay ended soonest went first: the patient guesser is still held back.
  CHECK(b.failures(patient, kT0 + 10s) == 10);
}

}  // namespace punch::forward
