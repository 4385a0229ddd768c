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
const util::Address kProbePort = util::Address::v4(192, 0, 2, 2, 7778);
// What REGISTERED says for kProbePort: the probe port, on the IP the client sends to.
const std::vector<util::Address> kAnnounced = {util::Address::v4(0, 0, 0, 0, 7778)};
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
  void answer(const util::Address& observed, const util::Address& from = kProbePort) {
    REQUIRE_FALSE(sink.sent.empty());
    answer_probe(sink.sent.size() - 1, observed, from);
  }

  // Answers the probe sent `index`-th, from `from`, having seen us at `observed`.
  void answer_probe(std::size_t index, const util::Address& observed, const util::Address& from) {
    REQUIRE(index < sink.sent.size());
    const auto probe = wire::decode_address_probe(sink.sent[index].second);
    REQUIRE(probe.has_value());
    util::Bytes b;
    wire::encode(wire::AddressProbeReply{probe->nonce, observed}, b);
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
    f.check.on_registered(kServer, c.reflexive, kAnnounced, {kLocal}, f.now);
    REQUIRE(f.sink.sent.size() == 1);
    CHECK(f.sink.sent[0].first == kProbePort);
    CHECK(f.check.mapping() == path::Mapping::kUnknown);
    f.answer(c.observed);
    CHECK(f.check.mapping() == c.expected);
    CHECK(f.check.take_changed());
    CHECK_FALSE(f.check.take_changed());
    CHECK(f.check.next_deadline() == util::kNever);
  }
}

TEST_CASE("mapping_check: no probe address, no probe; a reply from elsewhere is no answer") {
  Fixture f;
  f.check.on_registered(kServer, kSeen, {}, {kLocal}, f.now);
  CHECK(f.sink.sent.empty());
  CHECK(f.check.mapping() == path::Mapping::kUnknown);
  CHECK(f.check.next_deadline() == util::kNever);
  f.check.on_registered(kServer, kSeen, kAnnounced, {kLocal}, f.now);
  REQUIRE(f.sink.sent.size() == 1);
  f.answer(kSeen, kServer);  // the main port did not get the probe: ignored, but consumed
  CHECK(f.check.mapping() == path::Mapping::kUnknown);
  // Other datagrams are not the check's.
  const util::Bytes session = {0x20, 1, 2, 3};
  CHECK_FALSE(f.check.on_datagram(kServer, session, f.now));
}

TEST_CASE("mapping_check: retries, gives up unknown, and checks again for a new address") {
  Fixture f;
  f.check.on_registered(kServer, kSeen, kAnnounced, {kLocal}, f.now);
  while (f.check.next_deadline() != util::kNever) {
    f.now = f.check.next_deadline();
    f.check.on_timeout(f.now);
  }
  CHECK(f.sink.sent.size() == 5);  // as netcheck: 0, 0.25, 0.75, 1.75, 2.75 s
  CHECK(f.check.mapping() == path::Mapping::kUnknown);
  CHECK_FALSE(f.check.take_changed());
  // The same registration again: nothing new to learn.
  f.check.on_registered(kServer, kSeen, kAnnounced, {kLocal}, f.now);
  CHECK(f.sink.sent.size() == 5);
  // The NAT rebound: a new check, a new verdict.
  const util::Address rebound = util::Address::v4(203, 0, 113, 50, 40001);
  f.check.on_registered(kServer, rebound, kAnnounced, {kLocal}, f.now);
  CHECK(f.sink.sent.size() == 6);
  f.answer(util::Address::v4(203, 0, 113, 50, 40002));
  CHECK(f.check.mapping() == path::Mapping::kEndpointDependent);
  CHECK(f.check.take_changed());
}

TEST_CASE("mapping_check: every probe address is probed; any other IP means a pool") {
  // The main IP's probe port plus two probe sockets on other IPs of the rendezvous host.
  const util::Address other1 = util::Address::v4(192, 0, 2, 3, 7778);
  const util::Address other2 = util::Address::v4(192, 0, 2, 4, 7000);
  const std::vector<util::Address> announced = {kAnnounced[0], other1, other2};
  const util::Address pool2 = util::Address::v4(203, 0, 113, 51, 40000);
  struct Case {
    const char* name;
    // What the probe port, other1 and other2 saw (the main port saw kSeen).
    util::Address probe_port, at_other1, at_other2;
    path::Mapping expected;
  };
  const Case cases[] = {
      {"one address for all", kSeen, kSeen, kSeen, path::Mapping::kEndpointIndependent},
      {"a port per destination", util::Address::v4(203, 0, 113, 50, 40001),
       util::Address::v4(203, 0, 113, 50, 40002), util::Address::v4(203, 0, 113, 50, 40003),
       path::Mapping::kEndpointDependent},
      // A Linux pool (`snat to A-D fully-random`): the pool address is a hash of the
      // source and destination IPs, so the main IP's two ports see one address (and
      // another port), and only another IP of the rendezvous shows a second address.
      {"Linux pool: the same IP for the main IP, another for a second IP",
       util::Address::v4(203, 0, 113, 50, 40001), util::Address::v4(203, 0, 113, 50, 40002),
       util::Address::v4(203, 0, 113, 51, 40003), path::Mapping::kAddressVaries},
      {"pool, keeping the port", kSeen, pool2, kSeen, path::Mapping::kAddressVaries},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Fixture f;
    f.check.on_registered(kServer, kSeen, announced, {kLocal}, f.now);
    REQUIRE(f.sink.sent.size() == 3);
    CHECK(f.sink.sent[0].first == kProbePort);
    CHECK(f.sink.sent[1].first == other1);
    CHECK(f.sink.sent[2].first == other2);
    f.answer_probe(0, c.probe_port, kProbePort);
    f.answer_probe(2, c.at_other2, other2);
    CHECK(f.check.mapping() == path::Mapping::kUnknown);  // other1 has not answered yet
    f.answer_probe(1, c.at_other1, other1);
    CHECK(f.check.mapping() == c.expected);
    CHECK(f.check.next_deadline() == util::kNever);
  }
}

TEST_CASE("mapping_check: an unanswered probe address is left out of the verdict") {
  const util::Address other = util::Address::v4(192, 0, 2, 3, 7778);
  Fixture f;
  f.check.on_registered(kServer, kSeen, {kAnnounced[0], other}, {kLocal}, f.now);
  REQUIRE(f.sink.sent.size() == 2);
  f.answer_probe(0, util::Address::v4(203, 0, 113, 50, 40001), kProbePort);
  while (f.check.next_deadline() != util::kNever) {
    f.now = f.check.next_deadline();
    f.check.on_timeout(f.now);
  }
  // Only the filtered other IP was probed again (4 more times), then the check ended
  // with what the two answers of the main IP show.
  CHECK(f.sink.sent.size() == 6);
  CHECK(f.check.mapping() == path::Mapping::kEndpointDependent);
}

TEST_CASE(
    "mapping_check: probe addresses of the wrong family, the main port or repeated are "
    "skipped") {
  Fixture f;
  const util::Address v6 = *util::Address::parse("[2001:db8::3]:7778");
  const util::Address main_port = util::Address::v4(0, 0, 0, 0, kServer.port);
  f.check.on_registered(kServer, kSeen, {v6, main_port, kAnnounced[0], kProbePort}, {kLocal},
                        f.now);
  REQUIRE(f.sink.sent.size() == 1);
  CHECK(f.sink.sent[0].first == kProbePort);
  // Only addresses that cannot be probed: no check at all.
  Fixture g;
  g.check.on_registered(kServer, kSeen, {v6, main_port}, {kLocal}, g.now);
  CHECK(g.sink.sent.empty());
  CHECK(g.check.next_deadline() == util::kNever);
  // A changed list is a new check, even with the same reflexive address.
  f.answer(kSeen);
  CHECK(f.check.mapping() == path::Mapping::kEndpointIndependent);
  const util::Address other = util::Address::v4(192, 0, 2, 3, 7778);
  f.check.on_registered(kServer, kSeen, {kAnnounced[0], other}, {kLocal}, f.now);
  CHECK(f.sink.sent.size() == 3);
}
