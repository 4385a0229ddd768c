#include "path/nat_classification.hpp"

#include <doctest/doctest.h>

namespace path = punch::path;
namespace util = punch::util;
using namespace std::chrono_literals;

namespace {

const util::Address kLocalAddress = util::Address::v4(198, 51, 100, 2, 40000);

path::AddressProbeAnswer seen(const util::Address& a, util::Duration rtt = 10ms) {
  return {a, rtt};
}

util::Address pub(std::uint8_t last, std::uint16_t port) {
  return util::Address::v4(203, 0, 113, last, port);
}

}  // namespace

TEST_CASE("classify: nothing answered means UDP does not work, and nothing else is claimed") {
  const auto r = path::classify(kLocalAddress, {std::nullopt, std::nullopt});
  CHECK_FALSE(r.udp);
  CHECK(r.mapping == path::Mapping::kUnknown);
  CHECK_FALSE(r.port_preserved.has_value());
  CHECK_FALSE(r.rtt.has_value());
  CHECK(r.reflexive.size() == 2);
  CHECK_FALSE(r.reflexive[0].has_value());
}

TEST_CASE("classify: the local address seen by both destinations is no NAT") {
  const auto r =
      path::classify(kLocalAddress, {seen(kLocalAddress, 3ms), seen(kLocalAddress, 2ms)});
  CHECK(r.udp);
  CHECK(r.mapping == path::Mapping::kNone);
  CHECK(r.port_preserved == true);
  CHECK(r.rtt == 2ms);
  CHECK(r.reflexive[1] == kLocalAddress);
}

TEST_CASE("classify: one answer with the local address is already no NAT") {
  const auto r = path::classify(kLocalAddress, {seen(kLocalAddress), std::nullopt});
  CHECK(r.mapping == path::Mapping::kNone);
  CHECK_FALSE(r.reflexive[1].has_value());
}

TEST_CASE("classify: one public address for both destinations is endpoint-independent") {
  const auto r = path::classify(kLocalAddress, {seen(pub(50, 40000)), seen(pub(50, 40000))});
  CHECK(r.mapping == path::Mapping::kEndpointIndependent);
  CHECK(r.port_preserved == true);
  const auto moved = path::classify(kLocalAddress, {seen(pub(50, 1024)), seen(pub(50, 1024))});
  CHECK(moved.mapping == path::Mapping::kEndpointIndependent);
  CHECK(moved.port_preserved == false);
}

TEST_CASE("classify: same IP with another port per destination is endpoint-dependent") {
  const auto r = path::classify(kLocalAddress, {seen(pub(66, 40000)), seen(pub(66, 51234))});
  CHECK(r.mapping == path::Mapping::kEndpointDependent);
  CHECK(r.port_preserved == false);  // One of the two moved.
}

TEST_CASE("classify: another IP per destination is an address pool") {
  const auto r = path::classify(kLocalAddress, {seen(pub(84, 5000)), seen(pub(85, 5000))});
  CHECK(r.mapping == path::Mapping::kAddressVaries);
  CHECK(r.port_preserved == false);
  // The family counts as part of the address.
  const auto mixed = path::classify(
      kLocalAddress, {seen(pub(84, 5000)), seen(*util::Address::parse("[2001:db8::1]:5000"))});
  CHECK(mixed.mapping == path::Mapping::kAddressVaries);
}

TEST_CASE("classify: with more destinations, any other IP is a pool, else any other port is hard") {
  // The main port, the probe port on the same IP, and probe addresses on other IPs.
  // A Linux pool picks by source and destination IP: both ports of the main IP see one
  // pool address (with a new port each), only another IP shows the second one.
  const auto linux_pool = path::classify(kLocalAddress, {seen(pub(84, 5000)), seen(pub(84, 5001)),
                                                         seen(pub(84, 5002)), seen(pub(85, 5003))});
  CHECK(linux_pool.mapping == path::Mapping::kAddressVaries);
  CHECK(linux_pool.reflexive.size() == 4);
  // The odd one out may be anywhere, an unanswered destination in between.
  const auto first_differs = path::classify(
      kLocalAddress, {seen(pub(85, 5000)), std::nullopt, seen(pub(84, 5000)), seen(pub(84, 5000))});
  CHECK(first_differs.mapping == path::Mapping::kAddressVaries);
  // All other IPs landed on the same pool address: only ports differ, a hard NAT is all
  // that can be said.
  const auto same_pool_address = path::classify(
      kLocalAddress,
      {seen(pub(84, 5000)), seen(pub(84, 5001)), seen(pub(84, 5002)), seen(pub(84, 5003))});
  CHECK(same_pool_address.mapping == path::Mapping::kEndpointDependent);
  // One port differing among many equal ones is enough for endpoint-dependent.
  const auto one_port = path::classify(kLocalAddress, {seen(pub(50, 40000)), seen(pub(50, 40000)),
                                                       seen(pub(50, 40000)), seen(pub(50, 40001))});
  CHECK(one_port.mapping == path::Mapping::kEndpointDependent);
  const auto easy = path::classify(kLocalAddress, {seen(pub(50, 40000)), seen(pub(50, 40000)),
                                                   std::nullopt, seen(pub(50, 40000))});
  CHECK(easy.mapping == path::Mapping::kEndpointIndependent);
  CHECK(easy.port_preserved == true);
}

TEST_CASE("classify: a NAT seen by one destination only cannot be classified") {
  const auto r = path::classify(kLocalAddress, {std::nullopt, seen(pub(50, 40000), 7ms)});
  CHECK(r.udp);
  CHECK(r.mapping == path::Mapping::kUnknown);
  CHECK(r.port_preserved == true);
  CHECK(r.rtt == 7ms);
}

TEST_CASE("classify: the local IP with a moved port is a NAT, not none") {
  // A port-translating firewall: same IP, new port.
  const util::Address moved{kLocalAddress.family, kLocalAddress.ip, 1234};
  const auto r = path::classify(kLocalAddress, {seen(moved), seen(moved)});
  CHECK(r.mapping == path::Mapping::kEndpointIndependent);
  CHECK(r.port_preserved == false);
}

TEST_CASE("mapping tokens are stable") {
  CHECK(path::mapping_token(path::Mapping::kNone) == "none");
  CHECK(path::mapping_token(path::Mapping::kEndpointIndependent) == "endpoint-independent");
  CHECK(path::mapping_token(path::Mapping::kEndpointDependent) == "endpoint-dependent");
  CHECK(path::mapping_token(path::Mapping::kAddressVaries) == "address-varies");
  CHECK(path::mapping_token(path::Mapping::kUnknown) == "unknown");
}
