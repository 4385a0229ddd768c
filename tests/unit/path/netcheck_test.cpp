#include "path/netcheck.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "path/constants.hpp"
#include "wire/rendezvous_message.hpp"

namespace path = punch::path;
namespace util = punch::util;
namespace wire = punch::wire;
namespace crypto = punch::crypto;
using namespace std::chrono_literals;

namespace {

const util::Address kMain = util::Address::v4(192, 0, 2, 2, 7777);
const util::Address kNetcheckProbePort = util::Address::v4(192, 0, 2, 2, 7778);
const util::Address kNetcheckSeen = util::Address::v4(203, 0, 113, 50, 40000);

struct NetcheckRecorder final : util::DatagramSink {
  void send(const util::Address& to, util::ByteView data) override {
    sent.push_back({to, util::Bytes(data.begin(), data.end())});
  }
  std::vector<std::pair<util::Address, util::Bytes>> sent;
};

// The reply a rendezvous would send to the `i`th probe recorded.
util::Bytes reply_to(const NetcheckRecorder& r, std::size_t i, const util::Address& observed) {
  const auto probe = wire::decode_address_probe(r.sent.at(i).second);
  REQUIRE(probe.has_value());
  util::Bytes b;
  wire::encode(wire::AddressProbeReply{probe->nonce, observed}, b);
  return b;
}

struct NetcheckFixture {
  crypto::SeededRandom rng{3};
  NetcheckRecorder sink;
  util::TimePoint t0 = util::TimePoint{} + std::chrono::hours(1);
  path::Netcheck check{rng, sink, {kMain, kNetcheckProbePort}, t0};
};

}  // namespace

TEST_CASE("netcheck: probes both destinations at once, padded so the reply is smaller") {
  NetcheckFixture f;
  REQUIRE(f.sink.sent.size() == 2);
  CHECK(f.sink.sent[0].first == kMain);
  CHECK(f.sink.sent[1].first == kNetcheckProbePort);
  for (const auto& [to, bytes] : f.sink.sent) {
    CHECK(bytes.size() == wire::kAddressProbeSize);
    CHECK(wire::decode_address_probe(bytes).has_value());
  }
  // Two different nonces: an answer names its probe.
  CHECK(wire::decode_address_probe(f.sink.sent[0].second)->nonce !=
        wire::decode_address_probe(f.sink.sent[1].second)->nonce);
  CHECK_FALSE(f.check.done());
}

TEST_CASE("netcheck: done when both answered; RTT per probe; answers in destination order") {
  NetcheckFixture f;
  f.check.on_datagram(kNetcheckProbePort, reply_to(f.sink, 1, kNetcheckSeen), f.t0 + 4ms);
  CHECK_FALSE(f.check.done());
  f.check.on_datagram(kMain, reply_to(f.sink, 0, kNetcheckSeen), f.t0 + 9ms);
  CHECK(f.check.done());
  CHECK(f.check.next_deadline() == util::kNever);
  REQUIRE(f.check.answers()[0].has_value());
  REQUIRE(f.check.answers()[1].has_value());
  CHECK(f.check.answers()[0]->rtt == 9ms);
  CHECK(f.check.answers()[1]->rtt == 4ms);
  CHECK(f.check.answers()[0]->reflexive == kNetcheckSeen);
}

TEST_CASE("netcheck: a reply from the wrong port, an unknown nonce or garbage is no answer") {
  NetcheckFixture f;
  // The main port's nonce answered from the probe port: refused.
  f.check.on_datagram(kNetcheckProbePort, reply_to(f.sink, 0, kNetcheckSeen), f.t0 + 1ms);
  util::Bytes forged;
  wire::encode(wire::AddressProbeReply{{9, 9, 9, 9, 9, 9, 9, 9}, kNetcheckSeen}, forged);
  f.check.on_datagram(kMain, forged, f.t0 + 1ms);
  f.check.on_datagram(kMain, util::Bytes{0x0f, 1, 2}, f.t0 + 1ms);
  CHECK_FALSE(f.check.answers()[0].has_value());
  CHECK_FALSE(f.check.answers()[1].has_value());
  CHECK_FALSE(f.check.done());
}

TEST_CASE("netcheck: unanswered probes are retried with backoff, and the check ends at 3 s") {
  NetcheckFixture f;
  std::vector<util::Duration> sends_to_main = {0ms};
  util::TimePoint now = f.t0;
  for (int guard = 0; !f.check.done(); ++guard) {
    REQUIRE(guard < 100);
    const std::size_t before = f.sink.sent.size();
    now = f.check.next_deadline();
    f.check.on_timeout(now);
    for (std::size_t i = before; i < f.sink.sent.size(); ++i) {
      if (f.sink.sent[i].first == kMain) sends_to_main.push_back(now - f.t0);
    }
  }
  CHECK(now - f.t0 == path::kNetcheckTimeout);
  CHECK(sends_to_main == std::vector<util::Duration>{0ms, 250ms, 750ms, 1750ms, 2750ms});
  CHECK(f.check.address_probes_sent() == 10);
  CHECK_FALSE(f.check.answers()[0].has_value());
  // A late answer after the end changes nothing.
  f.check.on_datagram(kMain, reply_to(f.sink, 0, kNetcheckSeen), now + 1ms);
  CHECK_FALSE(f.check.answers()[0].has_value());
}

TEST_CASE("netcheck: an answered destination is not probed again; a retry's answer counts") {
  NetcheckFixture f;
  f.check.on_datagram(kMain, reply_to(f.sink, 0, kNetcheckSeen), f.t0 + 1ms);
  f.check.on_timeout(f.t0 + 250ms);
  REQUIRE(f.sink.sent.size() == 3);
  CHECK(f.sink.sent[2].first == kNetcheckProbePort);
  // The retry (sent at 250 ms) is answered at 262 ms: its RTT is 12 ms, not 262.
  f.check.on_datagram(kNetcheckProbePort, reply_to(f.sink, 2, kNetcheckSeen), f.t0 + 262ms);
  CHECK(f.check.done());
  CHECK(f.check.answers()[1]->rtt == 12ms);
}

namespace {

// The PROBE_LIST a rendezvous would send to the `i`th datagram recorded (a request).
util::Bytes list_reply_to(const NetcheckRecorder& r, std::size_t i,
                          std::vector<util::Address> addresses) {
  const auto request = wire::decode_probe_address_list_request(r.sent.at(i).second);
  REQUIRE(request.has_value());
  util::Bytes b;
  wire::encode(wire::ProbeAddressList{request->nonce, std::move(addresses)}, b);
  return b;
}

}  // namespace

TEST_CASE("netcheck: asks the main port for its probe addresses and probes the new ones") {
  crypto::SeededRandom rng{4};
  NetcheckRecorder sink;
  const util::TimePoint t0 = util::TimePoint{} + std::chrono::hours(1);
  path::Netcheck check{rng, sink, {kMain, kNetcheckProbePort}, t0, true};
  // Two probes, then the request to the main port, padded to pay for the answer.
  REQUIRE(sink.sent.size() == 3);
  CHECK(sink.sent[2].first == kMain);
  CHECK(sink.sent[2].second.size() == wire::kProbeAddressListRequestSize);
  check.on_datagram(kMain, reply_to(sink, 0, kNetcheckSeen), t0 + 5ms);
  check.on_datagram(kNetcheckProbePort, reply_to(sink, 1, kNetcheckSeen), t0 + 5ms);
  CHECK_FALSE(check.done());  // the list has not come yet
  // The list: the probe port again (as an all-zero IP), another IP, another family.
  const auto other = util::Address::v4(192, 0, 2, 3, 7778);
  const util::Bytes list = list_reply_to(
      sink, 2,
      {util::Address::v4(0, 0, 0, 0, 7778), other, *util::Address::parse("[2001:db8::3]:7778")});
  // From another port than the one asked, it is ignored.
  check.on_datagram(kNetcheckProbePort, list, t0 + 6ms);
  CHECK(sink.sent.size() == 3);
  check.on_datagram(kMain, list, t0 + 6ms);
  REQUIRE(sink.sent.size() == 4);
  CHECK(sink.sent[3].first == other);
  CHECK(check.destinations() == std::vector{kMain, kNetcheckProbePort, other});
  CHECK_FALSE(check.done());
  const auto pool2 = util::Address::v4(203, 0, 113, 51, 40000);
  check.on_datagram(other, reply_to(sink, 3, pool2), t0 + 9ms);
  CHECK(check.done());
  REQUIRE(check.answers().size() == 3);
  CHECK(check.answers()[2]->reflexive == pool2);
  CHECK(check.answers()[2]->rtt == 3ms);
  // A second copy of the list (a retransmission's answer) adds nothing.
  check.on_datagram(kMain, list, t0 + 10ms);
  CHECK(check.destinations().size() == 3);
}

TEST_CASE("netcheck: an unanswered list request is retried like a probe and ends with the check") {
  crypto::SeededRandom rng{4};
  NetcheckRecorder sink;
  const util::TimePoint t0 = util::TimePoint{} + std::chrono::hours(1);
  path::Netcheck check{rng, sink, {kMain, kNetcheckProbePort}, t0, true};
  check.on_datagram(kMain, reply_to(sink, 0, kNetcheckSeen), t0 + 5ms);
  check.on_datagram(kNetcheckProbePort, reply_to(sink, 1, kNetcheckSeen), t0 + 5ms);
  std::vector<util::Duration> requests = {0ms};
  util::TimePoint now = t0;
  for (int guard = 0; !check.done(); ++guard) {
    REQUIRE(guard < 100);
    const std::size_t before = sink.sent.size();
    now = check.next_deadline();
    check.on_timeout(now);
    for (std::size_t i = before; i < sink.sent.size(); ++i) {
      CHECK(wire::decode_probe_address_list_request(sink.sent[i].second).has_value());
      requests.push_back(now - t0);
    }
  }
  CHECK(requests == std::vector<util::Duration>{0ms, 250ms, 750ms, 1750ms, 2750ms});
  CHECK(now - t0 == path::kNetcheckTimeout);
  CHECK(check.destinations().size() == 2);  // the two answers still count
  CHECK(check.answers()[1].has_value());
}

TEST_CASE("resolve_probe_addresses: all-zero IP, families, skipped and repeated addresses") {
  const auto other = util::Address::v4(192, 0, 2, 3, 7778);
  CHECK(path::resolve_probe_addresses(
            kMain,
            {util::Address::v4(0, 0, 0, 0, 7778), other, other,
             *util::Address::parse("[2001:db8::3]:7778"), util::Address::v4(0, 0, 0, 0, 7777)},
            {kMain}) == std::vector{kNetcheckProbePort, other});
  CHECK(path::resolve_probe_addresses(kMain, {util::Address::v4(0, 0, 0, 0, 7778), other},
                                      {kMain, kNetcheckProbePort}) == std::vector{other});
}
