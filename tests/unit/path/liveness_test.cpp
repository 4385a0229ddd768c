#include "path/liveness.hpp"

#include <doctest/doctest.h>

#include "path/constants.hpp"
#include "test_time.hpp"

namespace path = punch::path;
namespace util = punch::util;
using namespace std::chrono_literals;

namespace {
using punch::testing::kT0;
}

TEST_CASE("liveness: nothing runs on the relay") {
  path::Liveness l;
  l.on_answerable_sent(kT0);
  l.on_relay_packet(5, kT0);
  CHECK(l.next_deadline() == util::kNever);
  CHECK_FALSE(l.mirror_to_relay());
}

TEST_CASE("liveness: an unanswered send on the direct path is dead after the dead timeout") {
  path::Liveness l;
  const util::Duration dead = path::Liveness::dead_timeout_for(100ms);
  CHECK(dead == path::kMinDeadTimeout);  // 3 x 100 + 200 ms is below the minimum
  CHECK(path::Liveness::dead_timeout_for(300ms) == 1100ms);
  l.on_switch(true, dead, kT0);
  CHECK(l.next_deadline() == kT0 + path::kStreamPromotionDelay);
  l.on_answerable_sent(kT0 + 1s);
  l.on_answerable_sent(kT0 + 1100ms);  // the first unanswered send counts
  CHECK(l.next_deadline() == kT0 + 1s + dead);
  CHECK_FALSE(l.on_timeout(kT0 + 1s + dead - 1ms).dead);
  CHECK(l.on_timeout(kT0 + 1s + dead).dead);
  l.on_answer();
  CHECK_FALSE(l.on_timeout(kT0 + 1s + dead).dead);
}

TEST_CASE("liveness: the peer's packets through the relay start the dead timer and mirroring") {
  path::Liveness l;
  l.on_switch(true, path::kMinDeadTimeout, kT0);
  l.on_direct_packet(10);
  l.on_relay_packet(9, kT0 + 1s);  // a mirrored copy: says nothing
  CHECK_FALSE(l.mirror_to_relay());
  l.on_relay_packet(11, kT0 + 1s);
  CHECK(l.mirror_to_relay());
  CHECK(l.on_timeout(kT0 + 1s + path::kMinDeadTimeout).dead);
  l.on_direct_heard();
  CHECK_FALSE(l.mirror_to_relay());
  CHECK_FALSE(l.on_timeout(kT0 + 1s + path::kMinDeadTimeout).dead);
}

TEST_CASE("liveness: promotion once, keepalives on the path and the relay") {
  path::Liveness l;
  l.on_switch(true, path::kMinDeadTimeout, kT0);
  const auto due = l.on_timeout(kT0 + path::kStreamPromotionDelay);
  CHECK(due.promotion);
  CHECK_FALSE(due.relay_keepalive);
  CHECK_FALSE(l.on_timeout(kT0 + path::kStreamPromotionDelay).promotion);  // once
  CHECK(l.keepalive_due(kT0 + path::kDirectKeepalive));
  CHECK_FALSE(l.keepalive_due(kT0 + path::kDirectKeepalive - 1ms));
  CHECK(l.on_timeout(kT0 + path::kRelayKeepalive).relay_keepalive);
  CHECK_FALSE(l.on_timeout(kT0 + path::kRelayKeepalive).relay_keepalive);
  l.on_switch(false, {}, kT0 + 40s);
  CHECK(l.next_deadline() == util::kNever);
}
