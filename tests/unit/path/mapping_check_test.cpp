#include "path/mapping_check.hpp"

#include <doctest/doctest.h>

#include <utility>
#include <vector>

#include "path/constants.hpp"
#include "wire/rendezvous_message.hpp"

namespace path = punch::path;
namespace util = punch::util;
namespace wire = punch::wire;
namespace crypto = punch::crypto;
using namespace std::chrono_literals;

namespace {

const util::Address kServer = util::Address::v4(192, 0, 2, 2, 7777);
const util::Address kProbe = util::Address::v4(192, 0, 2, 2, 7778);
const util::Address kSeen = util::Address::v4(203, 0, 113, 50, 40000);
const util::Address kLocal = util::Address::v4(10, 0, 0, 5, 40000);

struct Recorder final : util::DatagramSink {
  void send(const util::Address& to, util::ByteView data) override {
    sent.push_back({to, util::Bytes(data.begin(), data.end())});
  }
  std::vector<std::pair<util::Address, util::Bytes>> sent;
};

struct Fixture {
  crypto::SeededRandom rng{5};
  Recorder sink;
  util::TimePoint now = util::TimePoint{} + 1h;
  path::MappingCheck check{rng, sink};

  // Answers the last probe as the probe port would, having seen us at `observed`.
  void answer(const util::Address& observed, const util::Address& from = kProbe) {
    REQUIRE_FALSE(sink.sent.empty());
    const auto probe = wire::decode_probe(sink.sent.back().second);
    REQUIRE(probe.has_value());
    util::Bytes b;
    wire::encode(wire::ProbeReply{probe->nonce, observed}, b);
    now += 20ms;
    CHECK(check.on_datagram(from, b, now));
  }
};

}  // namespace

TEST_CASE("mapping_check: one probe to the probe port, compared with the registered address") {
  struct Case {
    const char* name;
    util::Address reflexive;
    util::Address observed;
    path::Mapping expected;
  };
  const Case cases[] = {
      {"same address", kSeen, kSeen, path::Mapping::kEndpointIndependent},
      {"another port", kSeen, util::Address::v4(203, 0, 113, 50, 51234),
       path::Mapping::kEndpointDependent},
      {"another IP", kSeen, util::Address::v4(203, 0, 113, 51, 40000),
       path::Mapping::kAddressVaries},
      {"our own address", kLocal, kLocal, path::Mapping::kNone},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Fixture f;
    f.check.on_registered(kServer, c.reflexive, kProbe.port, {kLocal}, f.now);
    REQUIRE(f.sink.sent.size() == 1);
    CHECK(f.sink.sent[0].first == kProbe);
    CHECK(f.check.mapping() == path::Mapping::kUnknown);
    f.answer(c.observed);
    CHECK(f.check.mapping() == c.expected);
    CHECK(f.check.take_changed());
    CHECK_FALSE(f.check.take_changed());
    CHECK(f.check.next_deadline() == util::kNever);
  }
}

TEST_CASE("mapping_check: no probe port, no probe; a reply from elsewhere is no answer") {
  Fixture f;
  f.check.on_registered(kServer, kSeen, 0, {kLocal}, f.now);
  CHECK(f.sink.sent.empty());
  CHECK(f.check.mapping() == path::Mapping::kUnknown);
  CHECK(f.check.next_deadline() == util::kNever);
  f.check.on_registered(kServer, kSeen, kProbe.port, {kLocal}, f.now);
  REQUIRE(f.sink.sent.size() == 1);
  f.answer(kSeen, kServer);  // the main port did not get the probe: ignored, but consumed
  CHECK(f.check.mapping() == path::Mapping::kUnknown);
  // Other datagrams are not the check's.
  const util::Bytes session = {0x20, 1, 2, 3};
  CHECK_FALSE(f.check.on_datagram(kServer, session, f.now));
}

TEST_CASE("mapping_check: retries, gives up unknown, and checks again for a new address") {
  Fixture f;
  f.check.on_registered(kServer, kSeen, kProbe.port, {kLocal}, f.now);
  while (f.check.next_deadline() != util::kNever) {
    f.now = f.check.next_deadline();
    f.check.on_timeout(f.now);
  }
  CHECK(f.sink.sent.size() == 5);  // as netcheck: 0, 0.25, 0.75, 1.75, 2.75 s
  CHECK(f.check.mapping() == path::Mapping::kUnknown);
  CHECK_FALSE(f.check.take_changed());
  // The same registration again: nothing new to learn.
  f.check.on_registered(kServer, kSeen, kProbe.port, {kLocal}, f.now);
  CHECK(f.sink.sent.size() == 5);
  // The NAT rebound: a new check, a new verdict.
  const util::Address rebound = util::Address::v4(203, 0, 113, 50, 40001);
  f.check.on_registered(kServer, rebound, kProbe.port, {kLocal}, f.now);
  CHECK(f.sink.sent.size() == 6);
  f.answer(util::Address::v4(203, 0, 113, 50, 40002));
  CHECK(f.check.mapping() == path::Mapping::kEndpointDependent);
  CHECK(f.check.take_changed());
}
