#include "io/interfaces.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>

#include "util/address.hpp"

namespace io = punch::io;
namespace util = punch::util;

namespace {

util::Address ip(const std::string& text) {
  const auto a = util::Address::from_ip(text, 0);
  REQUIRE(a);
  return *a;
}

}  // namespace

TEST_CASE("is_candidate_address excludes loopback, unspecified and link-local addresses") {
  for (const char* excluded :
       {"127.0.0.1", "127.255.0.9", "0.0.0.0", "169.254.1.1", "169.254.255.254", "::1",
        "::", "fe80::1", "fe80::1234:5678:9abc:def0", "febf:ffff::1"}) {
    CAPTURE(excluded);
    CHECK_FALSE(io::is_candidate_address(ip(excluded)));
  }
  CHECK_FALSE(io::is_candidate_address(util::Address{}));
}

TEST_CASE("is_candidate_address keeps private, public and global addresses") {
  for (const char* kept : {"10.0.0.1", "192.168.1.20", "172.16.0.5", "192.0.2.7", "100.64.0.1",
                           "169.253.255.255", "169.255.0.1", "126.255.255.255", "128.0.0.1",
                           "2001:db8::1", "fd00::5", "fec0::1", "fe7f::1", "::2"}) {
    CAPTURE(kept);
    CHECK(io::is_candidate_address(ip(kept)));
  }
}

TEST_CASE("is_candidate_address ignores the port") {
  CHECK(io::is_candidate_address(util::Address::v4(10, 0, 0, 1, 4242)));
  CHECK_FALSE(io::is_candidate_address(util::Address::v4(127, 0, 0, 1, 4242)));
}

TEST_CASE("host_addresses lists only candidates of the family, port 0, sorted, once each") {
  for (const int family : {AF_INET, AF_INET6}) {
    CAPTURE(family);
    const auto addresses = io::host_addresses(family);
    for (const auto& a : addresses) {
      CAPTURE(a.to_string());
      CHECK(a.family == (family == AF_INET ? 4 : 6));
      CHECK(a.port == 0);
      // The excluded ranges spelled out again, so a filter that lets them through fails.
      const std::string text = a.ip_string();
      CHECK(text != "0.0.0.0");
      CHECK(text != "::");
      CHECK(text != "::1");
      CHECK(text.rfind("127.", 0) != 0);
      CHECK(text.rfind("169.254.", 0) != 0);
      CHECK_FALSE((a.family == 6 && a.ip[0] == 0xfe && (a.ip[1] & 0xc0) == 0x80));
    }
    CHECK(std::is_sorted(addresses.begin(), addresses.end()));
    CHECK(std::adjacent_find(addresses.begin(), addresses.end()) == addresses.end());
    MESSAGE(addresses.size() << " host addresses of family " << family);
  }
}
