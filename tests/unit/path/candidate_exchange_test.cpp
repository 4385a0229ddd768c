#include "path/candidate_exchange.hpp"

#include <doctest/doctest.h>

#include "path/constants.hpp"
#include "test_time.hpp"

namespace path = punch::path;
namespace util = punch::util;
namespace wire = punch::wire;
using namespace std::chrono_literals;

namespace {
using punch::testing::kT0;
wire::Candidate host(std::uint16_t port) {
  return {wire::CandidateKind::kHost, *util::Address::parse("192.0.2.1:" + std::to_string(port))};
}
}  // namespace

TEST_CASE("candidate_exchange: resent with a doubling gap until acknowledged") {
  path::CandidateExchange x;
  REQUIRE(x.set_local({host(1000)}));
  CHECK_FALSE(x.set_local({host(1000)}));    // unchanged: no new version
  CHECK(x.next_deadline() == util::kNever);  // nothing goes out before send_from()
  x.send_from(kT0);
  auto f = x.on_timeout(kT0, path::Mapping::kEndpointIndependent);
  REQUIRE(f);
  CHECK(f->sequence == 2);
  CHECK(f->mapping == wire::MappingCode::kEndpointIndependent);
  CHECK(x.next_deadline() == kT0 + path::kCandidatesResend);
  CHECK_FALSE(x.on_timeout(kT0 + 100ms, path::Mapping::kUnknown));  // not due yet
  REQUIRE(x.on_timeout(kT0 + path::kCandidatesResend, path::Mapping::kUnknown));
  CHECK(x.next_deadline() == kT0 + 3 * path::kCandidatesResend);  // the gap doubled
  // The peer acknowledges version 2: no more resends.
  wire::PathCandidates peer;
  peer.sequence = 1;
  peer.acknowledged = 2;
  CHECK(x.on_frame(peer, kT0 + 1s));
  CHECK(x.peer_acked() == 2);
  auto ack = x.on_timeout(kT0 + 1s, path::Mapping::kUnknown);
  REQUIRE(ack);  // the peer's new list is acknowledged at once
  CHECK(ack->acknowledged == 1);
  CHECK(x.next_deadline() == util::kNever);  // the due resend found version 2 acknowledged
}

TEST_CASE("candidate_exchange: an old or duplicate list is neither acted upon nor acknowledged") {
  path::CandidateExchange x;
  wire::PathCandidates peer;
  peer.sequence = 3;
  CHECK(x.on_frame(peer, kT0));
  CHECK(x.next_deadline() == kT0);
  CHECK(x.on_timeout(kT0, path::Mapping::kUnknown));
  CHECK_FALSE(x.on_frame(peer, kT0 + 1s));
  peer.sequence = 2;
  CHECK_FALSE(x.on_frame(peer, kT0 + 1s));
  CHECK(x.next_deadline() == util::kNever);
  // An acknowledgement of a version we never sent is ignored.
  peer.sequence = 4;
  peer.acknowledged = 99;
  CHECK(x.on_frame(peer, kT0 + 2s));
  CHECK(x.peer_acked() == 0);
}
