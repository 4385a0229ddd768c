#include "io/sockaddr.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <string>

#include "util/address.hpp"

namespace io = punch::io;
namespace util = punch::util;

namespace {

const sockaddr* as_sa(const sockaddr_storage& ss) { return reinterpret_cast<const sockaddr*>(&ss); }

// Resolves and requires failure; returns the message.
std::string resolve_error(const std::string& text) {
  const auto r = io::resolve(text, 1234);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("to_sockaddr and from_sockaddr round-trip IPv4") {
  const util::Address a = util::Address::v4(192, 0, 2, 17, 5353);
  sockaddr_storage ss;
  std::memset(&ss, 0xab, sizeof ss);  // stale bytes must be cleared
  CHECK(io::to_sockaddr(a, ss) == sizeof(sockaddr_in));
  const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
  CHECK(in->sin_family == AF_INET);
  CHECK(ntohs(in->sin_port) == 5353);
  char text[INET_ADDRSTRLEN];
  REQUIRE(::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text) != nullptr);
  CHECK(std::string(text) == "192.0.2.17");
  for (const unsigned char z : in->sin_zero) CHECK(z == 0);
  CHECK(io::from_sockaddr(as_sa(ss)) == a);
}

TEST_CASE("to_sockaddr and from_sockaddr round-trip IPv6") {
  const auto a = util::Address::parse("[2001:db8::1:2]:65535");
  REQUIRE(a.has_value());
  sockaddr_storage ss;
  std::memset(&ss, 0xab, sizeof ss);
  CHECK(io::to_sockaddr(*a, ss) == sizeof(sockaddr_in6));
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  CHECK(in6->sin6_family == AF_INET6);
  CHECK(ntohs(in6->sin6_port) == 65535);
  CHECK(in6->sin6_flowinfo == 0);
  CHECK(in6->sin6_scope_id == 0);
  char text[INET6_ADDRSTRLEN];
  REQUIRE(::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text) != nullptr);
  CHECK(std::string(text) == "2001:db8::1:2");
  const util::Address back = io::from_sockaddr(as_sa(ss));
  CHECK(back == *a);
  CHECK(back.to_string() == "[2001:db8::1:2]:65535");
}

TEST_CASE("from_sockaddr gives an empty address for null and unsupported families") {
  CHECK_FALSE(io::from_sockaddr(nullptr).valid());
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  CHECK_FALSE(io::from_sockaddr(reinterpret_cast<const sockaddr*>(&un)).valid());
}

TEST_CASE("resolve accepts numeric addresses, brackets and default ports") {
  SUBCASE("IPv4 with port") {
    const auto r = io::resolve("127.0.0.1:9", 1234);
    REQUIRE(r.ok());
    CHECK(*r == util::Address::v4(127, 0, 0, 1, 9));
  }
  SUBCASE("IPv4 without port takes the default") {
    const auto r = io::resolve("10.1.2.3", 1234);
    REQUIRE(r.ok());
    CHECK(*r == util::Address::v4(10, 1, 2, 3, 1234));
  }
  SUBCASE("bracketed IPv6 without port") {
    const auto r = io::resolve("[::1]", 7);
    REQUIRE(r.ok());
    CHECK(r->family == 6);
    CHECK(r->to_string() == "[::1]:7");
  }
  SUBCASE("bracketed IPv6 with port") {
    const auto r = io::resolve("[2001:db8::5]:443", 7);
    REQUIRE(r.ok());
    CHECK(r->to_string() == "[2001:db8::5]:443");
  }
  SUBCASE("bare IPv6 is a host, not host:port") {
    const auto r = io::resolve("::1", 7);
    REQUIRE(r.ok());
    CHECK(r->to_string() == "[::1]:7");
  }
  SUBCASE("name with default port") {
    const auto r = io::resolve("localhost", 7777);
    REQUIRE(r.ok());
    CHECK(r->port == 7777);
    CHECK((r->ip_string() == "127.0.0.1" || r->ip_string() == "::1"));
  }
  SUBCASE("name with port") {
    const auto r = io::resolve("localhost:65535", 7777);
    REQUIRE(r.ok());
    CHECK(r->port == 65535);
  }
}

TEST_CASE("resolve rejects bad ports and malformed addresses") {
  CHECK(contains(resolve_error("host:99999"), "bad port in 'host:99999'"));
  CHECK(contains(resolve_error("127.0.0.1:0"), "bad port"));
  CHECK(contains(resolve_error("127.0.0.1:"), "bad port"));
  CHECK(contains(resolve_error("127.0.0.1:12ab"), "bad port"));
  CHECK(contains(resolve_error("127.0.0.1:-1"), "bad port"));
  CHECK(contains(resolve_error("[::1]:"), "bad port"));
  CHECK(contains(resolve_error("[::1]:70000"), "bad port"));
  CHECK(contains(resolve_error("[::1"), "bad address '[::1'"));
  CHECK(contains(resolve_error("[::1]x"), "bad address"));
  CHECK(contains(resolve_error(":5"), "missing host in ':5'"));
  CHECK(contains(resolve_error("[]:5"), "missing host"));
}

TEST_CASE("resolve reports names that do not resolve") {
  // .invalid never resolves (RFC 6761), so this needs no network.
  CHECK(contains(resolve_error("no-such-host.invalid:5"), "cannot resolve 'no-such-host.invalid'"));
}
