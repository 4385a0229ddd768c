#include "forward/permit_policy.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace forward = punch::forward;
using forward::PermitPolicy;

namespace {

PermitPolicy policy(const std::vector<std::string>& patterns, bool gateway_ports = false) {
  auto r = PermitPolicy::parse(patterns, gateway_ports);
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("glob_match") {
  CHECK(forward::glob_match("*", ""));
  CHECK(forward::glob_match("*", "anything"));
  CHECK(forward::glob_match("", ""));
  CHECK_FALSE(forward::glob_match("", "a"));
  CHECK(forward::glob_match("a?c", "abc"));
  CHECK_FALSE(forward::glob_match("a?c", "ac"));
  CHECK(forward::glob_match("*.example.com", "www.Example.COM"));
  CHECK(forward::glob_match("*.example.com", "a.b.example.com"));
  CHECK_FALSE(forward::glob_match("*.example.com", "example.com"));
  CHECK_FALSE(forward::glob_match("*.example.com", "example.com.evil"));
  CHECK(forward::glob_match("a*b*c", "aXbYbZc"));
  CHECK(forward::glob_match("**a", "a"));
  CHECK_FALSE(forward::glob_match("a*b", "a"));
  // Backtracking stays cheap on the classic exponential case.
  CHECK_FALSE(forward::glob_match("a*a*a*a*a*a*a*a*a*b", std::string(255, 'a')));
}

TEST_CASE("permits_open: no patterns allow anything, as ssh") {
  const PermitPolicy p;
  CHECK(p.permits_open("example.com", 22));
  CHECK(p.permits_open("::1", 1));
  CHECK(policy({}).permits_open("10.0.0.1", 80));
}

TEST_CASE("permits_open: host and port patterns") {
  const PermitPolicy p = policy({"*:22", "*.example.com:*", "10.0.0.*:80", "db.internal:5432",
                                 "[2001:db8::*]:443", "[fe80::1]:8?"});
  CHECK(p.permits_open("anything", 22));
  CHECK(p.permits_open("192.0.2.1", 22));
  CHECK_FALSE(p.permits_open("anything", 23));
  CHECK(p.permits_open("www.example.com", 8080));
  CHECK(p.permits_open("WWW.EXAMPLE.COM", 1));
  CHECK_FALSE(p.permits_open("example.com", 8080));
  CHECK(p.permits_open("10.0.0.7", 80));
  CHECK(p.permits_open("10.0.0.255", 80));
  CHECK_FALSE(p.permits_open("10.0.0.7", 81));
  CHECK_FALSE(p.permits_open("10.0.1.7", 80));
  // An address pattern is not met by a name that merely starts like the address.
  CHECK_FALSE(p.permits_open("10.0.0.1.attacker.example", 80));
  CHECK(p.permits_open("db.internal", 5432));
  CHECK(p.permits_open("DB.Internal", 5432));
  CHECK_FALSE(p.permits_open("db.internal", 5433));
  CHECK_FALSE(p.permits_open("db.internal.", 5433));
  // IPv6: brackets optional, spellings of one address are one address.
  CHECK(p.permits_open("2001:db8::1", 443));
  CHECK(p.permits_open("[2001:db8::1]", 443));
  CHECK(p.permits_open("2001:DB8:0:0::1", 443));
  CHECK_FALSE(p.permits_open("2001:db9::1", 443));
  CHECK(p.permits_open("fe80::1", 80));
  CHECK(p.permits_open("FE80:0::1", 89));
  CHECK_FALSE(p.permits_open("fe80::1", 800));
}

TEST_CASE("permits_open: literal patterns compare addresses, not text") {
  const PermitPolicy p = policy({"[2001:db8::1]:22", "192.0.2.1:22"});
  CHECK(p.permits_open("2001:0db8:0000::0001", 22));
  CHECK(p.permits_open("192.0.2.1", 22));
  CHECK_FALSE(p.permits_open("192.0.2.10", 22));
  CHECK_FALSE(p.permits_open("2001:db8::10", 22));
}

TEST_CASE("PermitPolicy::parse reports the first bad pattern") {
  const auto r = PermitPolicy::parse({"*:22", "nope"}, false);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "--permit-open 'nope': expected HOST:PORT");
  const PermitPolicy p = policy({"*:22"}, true);
  CHECK(p.gateway_ports());
  REQUIRE(p.permit_open().size() == 1);
  CHECK(p.permit_open()[0] == forward::HostPortPattern{"*", "22"});
}

TEST_CASE("permits_bind: loopback always, elsewhere only with gateway ports") {
  const PermitPolicy strict;
  for (const char* loop : {"", "localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1", "[::1]",
                           "0:0:0:0:0:0:0:1"}) {
    CAPTURE(loop);
    CHECK(forward::is_loopback_bind(loop));
    CHECK(strict.permits_bind(loop).ok());
  }
  for (const char* open : {"*", "0.0.0.0", "::", "192.0.2.1", "128.0.0.1", "::2", "example.com",
                           "localhost.example.com", "::ffff:127.0.0.1"}) {
    CAPTURE(open);
    CHECK_FALSE(forward::is_loopback_bind(open));
    CHECK_FALSE(strict.permits_bind(open).ok());
    CHECK(policy({}, true).permits_bind(open).ok());
  }
  CHECK(strict.permits_bind("*").error().message ==
        "binding on 0.0.0.0 needs --gateway-ports on the listener");
  CHECK(strict.permits_bind("[::]").error().message ==
        "binding on :: needs --gateway-ports on the listener");
}
