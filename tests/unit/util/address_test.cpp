#include "util/address.hpp"

#include <doctest/doctest.h>

#include <string>
#include <unordered_set>

#include "test_hex.hpp"

namespace util = punch::util;
using util::Address;

namespace {

using punch::testing::hex;

std::string encode(const Address& a) {
  util::Bytes out;
  util::ByteWriter w(out);
  a.encode(w);
  return util::to_hex(out);
}

}  // namespace

TEST_CASE("parse reads an IPv4 address and port") {
  const auto a = Address::parse("1.2.3.4:5");
  REQUIRE(a);
  CHECK(a->family == 4);
  CHECK(a->ip[0] == 1);
  CHECK(a->ip[1] == 2);
  CHECK(a->ip[2] == 3);
  CHECK(a->ip[3] == 4);
  CHECK(a->port == 5);
  CHECK(a->valid());
  CHECK(*a == Address::v4(1, 2, 3, 4, 5));
}

TEST_CASE("parse reads a bracketed IPv6 address and port") {
  const auto a = Address::parse("[::1]:7777");
  REQUIRE(a);
  CHECK(a->family == 6);
  for (std::size_t i = 0; i < 15; ++i) CHECK(a->ip[i] == 0);
  CHECK(a->ip[15] == 1);
  CHECK(a->port == 7777);
  CHECK(a->valid());
}

TEST_CASE("parse accepts the port range ends") {
  REQUIRE(Address::parse("10.0.0.1:0"));
  CHECK(Address::parse("10.0.0.1:0")->port == 0);
  REQUIRE(Address::parse("10.0.0.1:65535"));
  CHECK(Address::parse("10.0.0.1:65535")->port == 65535);
}

TEST_CASE("parse rejects malformed addresses") {
  for (const char* bad : {
           "",
           "1.2.3.4",        // no port
           "1.2.3.4:",       // empty port
           "1.2.3.4:65536",  // port too large
           "1.2.3.4:99999999999",
           "1.2.3.4:-1",
           "1.2.3.4:5x",
           "1.2.3.4: 5",
           "1.2.3:5",      // not an IP
           "1.2.3.256:5",  // octet out of range
           "example.com:80",
           "::1:5",  // IPv6 needs brackets
           "[::1]",  // no port
           "[::1]:",
           "[::1:5",
           "[::1]5",
           "[1.2.3.4.5]:5",
           "[nothex::]:5",
           ":5",
       }) {
    CAPTURE(bad);
    CHECK_FALSE(Address::parse(bad).has_value());
  }
}

TEST_CASE("from_ip takes a numeric IP of either family and the given port") {
  const auto a = Address::from_ip("192.0.2.1", 80);
  REQUIRE(a);
  CHECK(*a == Address::v4(192, 0, 2, 1, 80));
  const auto b = Address::from_ip("2001:db8::1", 443);
  REQUIRE(b);
  CHECK(b->family == 6);
  CHECK(b->port == 443);
  CHECK_FALSE(Address::from_ip("localhost", 1));
  CHECK_FALSE(Address::from_ip("", 1));
}

TEST_CASE("to_string and parse round-trip") {
  for (const char* text : {"1.2.3.4:5", "0.0.0.0:0", "255.255.255.255:65535", "[::1]:7777",
                           "[2001:db8::1]:443", "[::]:0", "[fe80::1:2:3:4]:9"}) {
    CAPTURE(text);
    const auto a = Address::parse(text);
    REQUIRE(a);
    CHECK(a->to_string() == text);
    CHECK(Address::parse(a->to_string()) == a);
  }
}

TEST_CASE("ip_string drops port and brackets") {
  CHECK(Address::v4(10, 1, 2, 3, 9).ip_string() == "10.1.2.3");
  CHECK(Address::parse("[2001:db8::1]:443")->ip_string() == "2001:db8::1");
  CHECK(Address{}.ip_string() == "-");
  CHECK_FALSE(Address{}.valid());
}

TEST_CASE("encode is family, ip, port, byte-exact for both families") {
  CHECK(encode(Address::v4(192, 0, 2, 1, 0x1234)) ==
        "04"
        "c0000201"
        "1234");
  CHECK(encode(*Address::parse("[2001:db8::1]:443")) ==
        "06"
        "20010db8000000000000000000000001"
        "01bb");
}

TEST_CASE("decode reads what encode wrote and consumes exactly that") {
  for (const char* h : {"04c00002011234", "0620010db800000000000000000000000101bb"}) {
    CAPTURE(h);
    util::Bytes b = hex(h);
    b.push_back(0x99);  // A following field must be left for the caller.
    util::ByteReader r(b);
    const Address a = Address::decode(r);
    CHECK(r.ok());
    CHECK(r.remaining() == 1);
    CHECK(encode(a) == h);
  }
  util::Bytes b = hex("04c00002011234");
  util::ByteReader r(b);
  CHECK(Address::decode(r) == Address::v4(192, 0, 2, 1, 0x1234));
  CHECK(r.done());
}

TEST_CASE("decode rejects an unknown family") {
  for (const char* h :
       {"00c00002011234", "05c00002011234", "ff20010db800000000000000000000000101bb"}) {
    CAPTURE(h);
    const util::Bytes b = hex(h);
    util::ByteReader r(b);
    CHECK(Address::decode(r) == Address{});
    CHECK_FALSE(r.ok());
  }
}

TEST_CASE("decode rejects every truncation") {
  for (const char* h : {"04c00002011234", "0620010db800000000000000000000000101bb"}) {
    const util::Bytes full = hex(h);
    for (std::size_t n = 0; n < full.size(); ++n) {
      CAPTURE(h);
      CAPTURE(n);
      util::ByteReader r(util::ByteView(full).first(n));
      CHECK(Address::decode(r) == Address{});
      CHECK_FALSE(r.ok());
    }
  }
}

TEST_CASE("equal addresses hash equally and serve as set keys") {
  const util::AddressHash h;
  const Address a = *Address::parse("192.0.2.1:4000");
  const Address b = Address::v4(192, 0, 2, 1, 4000);
  CHECK(a == b);
  CHECK(h(a) == h(b));
  const Address c6 = *Address::parse("[2001:db8::1]:4000");
  CHECK(h(c6) == h(*Address::parse("[2001:db8:0:0::1]:4000")));

  std::unordered_set<Address, util::AddressHash> set{a, b, c6, Address::v4(192, 0, 2, 1, 4001),
                                                     Address::v4(192, 0, 2, 2, 4000)};
  CHECK(set.size() == 4);
  CHECK(set.count(Address::v4(192, 0, 2, 1, 4000)) == 1);
  CHECK(set.count(Address::v4(192, 0, 2, 1, 4002)) == 0);
}

TEST_CASE("addresses order by family, then ip, then port") {
  CHECK(Address::v4(1, 2, 3, 4, 5) < Address::v4(1, 2, 3, 4, 6));
  CHECK(Address::v4(1, 2, 3, 4, 65535) < Address::v4(1, 2, 3, 5, 0));
  CHECK(Address::v4(255, 255, 255, 255, 65535) < *Address::parse("[::]:0"));
  CHECK(Address::v4(1, 2, 3, 4, 5) != Address::v4(1, 2, 3, 4, 6));
}
