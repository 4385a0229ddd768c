#include "transport/ack_manager.hpp"

#include <doctest/doctest.h>

#include "test_time.hpp"
#include "transport/constants.hpp"

namespace punch::transport {
namespace {

using namespace std::chrono_literals;

using testing::kT0;

AckFrame decode_ack(const util::Bytes& b) {
  util::ByteReader r(b);
  auto f = decode_frame(r);
  REQUIRE(f.ok());
  REQUIRE(std::holds_alternative<AckFrame>(*f));
  return std::get<AckFrame>(*f);
}

void receive(AckManager& a, std::uint64_t pn, util::TimePoint now, bool eliciting = true) {
  const auto before = a.largest();
  a.on_received(pn, now, eliciting, before);
}

}  // namespace

TEST_CASE("ack manager: one packet waits for the ACK delay, two are acknowledged at once") {
  AckManager a;
  CHECK(a.owed() == AckManager::Owed::kNothing);
  CHECK(a.deadline(kT0) == util::kNever);
  receive(a, 0, kT0);
  CHECK(a.owed() == AckManager::Owed::kDelayed);
  CHECK(a.deadline(kT0) == kT0 + kMaxAckDelay);
  CHECK_FALSE(a.due(kT0 + kMaxAckDelay - 1ms));
  CHECK(a.due(kT0 + kMaxAckDelay));
  receive(a, 1, kT0 + 1ms);
  CHECK(a.owed() == AckManager::Owed::kImmediate);
  CHECK(a.deadline(kT0 + 1ms) == kT0 + 1ms);
  CHECK(a.due(kT0 + 1ms));
}

TEST_CASE("ack manager: a gap is acknowledged at once; ACK-only packets owe nothing") {
  AckManager a;
  receive(a, 0, kT0, /*eliciting=*/false);
  CHECK_FALSE(a.pending());
  receive(a, 2, kT0);  // 1 is missing.
  CHECK(a.owed() == AckManager::Owed::kImmediate);
  CHECK(a.is_duplicate(2));
  CHECK_FALSE(a.is_duplicate(1));
}

TEST_CASE("ack manager: the delay timer makes a delayed ACK immediate") {
  AckManager a;
  receive(a, 0, kT0);
  a.on_timeout(kT0 + 1ms);
  CHECK(a.owed() == AckManager::Owed::kDelayed);
  a.on_timeout(kT0 + kMaxAckDelay);
  CHECK(a.owed() == AckManager::Owed::kImmediate);
}

TEST_CASE("ack manager: write() encodes the owed ACK; sending it clears the debt") {
  AckManager a;
  receive(a, 0, kT0);
  receive(a, 1, kT0);
  receive(a, 3, kT0);
  util::Bytes out;
  util::ByteWriter w(out);
  const auto largest = a.write(w, kT0 + 1ms, 1000);
  REQUIRE(largest);
  CHECK(*largest == 3);
  const AckFrame f = decode_ack(out);
  REQUIRE(f.ranges.size() == 2);
  CHECK(f.ranges[0].largest == 3);
  a.on_packet_sent(/*eliciting=*/false, /*carried_ack=*/true);
  CHECK_FALSE(a.pending());
  util::Bytes none;
  util::ByteWriter w2(none);
  CHECK_FALSE(a.write(w2, kT0, 1000));
  CHECK(none.empty());
}

TEST_CASE("ack manager: ranges that do not fit are dropped oldest first") {
  AckManager a;
  for (std::uint64_t pn = 0; pn < 40; pn += 2) receive(a, pn, kT0);
  util::Bytes full;
  util::ByteWriter wf(full);
  REQUIRE(a.write(wf, kT0, 1000));
  util::Bytes small;
  util::ByteWriter ws(small);
  REQUIRE(a.write(ws, kT0, full.size() / 2));
  CHECK(small.size() <= full.size() / 2);
  const AckFrame f = decode_ack(small);
  CHECK(f.ranges.front().largest == 38);
  CHECK(f.ranges.size() < decode_ack(full).ranges.size());
  util::Bytes tiny;
  util::ByteWriter wt(tiny);
  CHECK_FALSE(a.write(wt, kT0, 2));  // Not even one range fits: nothing written, still owed.
  CHECK(a.pending());
}

TEST_CASE("ack manager: once the peer saw our ACK of everything, nothing is owed") {
  AckManager a;
  receive(a, 0, kT0);
  a.on_ack_acked(0);
  CHECK(a.pending());
  util::Bytes out;
  util::ByteWriter w(out);
  CHECK_FALSE(a.write(w, kT0, 1000));
  CHECK_FALSE(a.pending());  // An ACK that cannot be built is owed no more.
  CHECK(a.deadline(kT0) == util::kNever);
}

TEST_CASE("ack manager: every kAckOnlyBeforePing-th ACK-only packet needs a PING") {
  AckManager a;
  for (std::uint64_t i = 0; i + 1 < kAckOnlyBeforePing; ++i) {
    CHECK_FALSE(a.ack_only_needs_ping());
    a.on_packet_sent(false, true);
  }
  CHECK(a.ack_only_needs_ping());
  a.on_packet_sent(/*eliciting=*/true, false);
  CHECK_FALSE(a.ack_only_needs_ping());
}

}  // namespace punch::transport
