#include "rendezvous/host_key.hpp"

#include <doctest/doctest.h>

namespace rv = punch::rendezvous;
namespace util = punch::util;

namespace {

util::Address host_key_of(const char* text) {
  const auto a = util::Address::parse(text);
  REQUIRE(a.has_value());
  return rv::host_key(*a);
}

}  // namespace

TEST_CASE("host_key: an IPv4 sender counts by its address, whatever its port") {
  CHECK(host_key_of("192.0.2.7:1000") == host_key_of("192.0.2.7:65000"));
  CHECK(host_key_of("192.0.2.7:1000") != host_key_of("192.0.2.8:1000"));
  CHECK(host_key_of("192.0.2.7:1000").port == 0);
}

TEST_CASE("host_key: an IPv6 sender counts by its /64, not its /128") {
  CHECK(host_key_of("[2001:db8:1:2::1]:1000") == host_key_of("[2001:db8:1:2:ffff:1:2:3]:2000"));
  CHECK(host_key_of("[2001:db8:1:2::1]:1000") != host_key_of("[2001:db8:1:3::1]:1000"));
  CHECK(host_key_of("[2001:db8:1:2::1]:1000") == *util::Address::parse("[2001:db8:1:2::]:0"));
}

TEST_CASE("host_key: IPv4-mapped IPv6 senders count as their IPv4 address") {
  // All of ::ffff:0:0/96 is one /64: lumping it together would make every IPv4
  // client of a dual-stack socket one host.
  CHECK(host_key_of("[::ffff:192.0.2.7]:1000") != host_key_of("[::ffff:192.0.2.8]:1000"));
  CHECK(host_key_of("[::ffff:192.0.2.7]:1000") == host_key_of("[::ffff:192.0.2.7]:2000"));
}
