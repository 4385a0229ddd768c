#include "forward/forward_spec.hpp"

#include <doctest/doctest.h>

#include <string>

namespace forward = punch::forward;
using forward::DynamicSpec;
using forward::ForwardSpec;
using forward::HostPort;
using forward::HostPortPattern;

namespace {

ForwardSpec forward_ok(const std::string& text) {
  CAPTURE(text);
  const auto r = forward::parse_forward_spec(text, "-L");
  if (!r) FAIL_CHECK(r.error().message);
  REQUIRE(r.ok());
  return *r;
}

std::string forward_error(const std::string& text, const char* option = "-L") {
  CAPTURE(text);
  const auto r = forward::parse_forward_spec(text, option);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

}  // namespace

TEST_CASE("-L/-R: ssh syntax with and without bind_address") {
  CHECK(forward_ok("8080:example.com:80") == ForwardSpec{"", 8080, "example.com", 80});
  CHECK(forward_ok("localhost:8080:10.0.0.1:80") == ForwardSpec{"localhost", 8080, "10.0.0.1", 80});
  CHECK(forward_ok("0.0.0.0:1:h:65535") == ForwardSpec{"0.0.0.0", 1, "h", 65535});
  // ssh: `*` and an empty bind_address both mean every interface.
  CHECK(forward_ok("*:8080:h:80") == ForwardSpec{"*", 8080, "h", 80});
  CHECK(forward_ok(":8080:h:80") == ForwardSpec{"*", 8080, "h", 80});
  // Port 0 picks a free port.
  CHECK(forward_ok("0:h:22") == ForwardSpec{"", 0, "h", 22});
  CHECK(forward_ok("00022:h:00080") == ForwardSpec{"", 22, "h", 80});
}

TEST_CASE("-L/-R: IPv6 literals in brackets anywhere") {
  CHECK(forward_ok("[::1]:8080:[2001:db8::1]:80") == ForwardSpec{"::1", 8080, "2001:db8::1", 80});
  CHECK(forward_ok("8080:[2001:db8::1]:80") == ForwardSpec{"", 8080, "2001:db8::1", 80});
  CHECK(forward_ok("[::]:8080:localhost:80") == ForwardSpec{"::", 8080, "localhost", 80});
  // Brackets around a name are allowed, as in ssh.
  CHECK(forward_ok("8080:[example.com]:80") == ForwardSpec{"", 8080, "example.com", 80});
}

TEST_CASE("-L/-R: errors name the option and the argument") {
  CHECK(forward_error("abc") == "-L 'abc': expected [bind_address:]port:host:hostport");
  CHECK(forward_error("abc", "-R") == "-R 'abc': expected [bind_address:]port:host:hostport");
  CHECK(forward_error("8080:h") == "-L '8080:h': expected [bind_address:]port:host:hostport");
  CHECK(forward_error("") == "-L '': expected [bind_address:]port:host:hostport");
  CHECK(forward_error("a:b:8080:h:80") ==
        "-L 'a:b:8080:h:80': expected [bind_address:]port:host:hostport (write IPv6 addresses in "
        "brackets, e.g. [::1])");
  CHECK(forward_error("8080::1:80") ==
        "-L '8080::1:80': expected [bind_address:]port:host:hostport (write IPv6 addresses in "
        "brackets, e.g. [::1])");
  CHECK(forward_error("8080:2001:db8::1:80").find("brackets") != std::string::npos);
  CHECK(forward_error("x:h:80") == "-L 'x:h:80': port must be a number from 0 to 65535");
  CHECK(forward_error("65536:h:80") == "-L '65536:h:80': port must be a number from 0 to 65535");
  CHECK(forward_error("-1:h:80").find("port must be") != std::string::npos);
  CHECK(forward_error("+80:h:80").find("port must be") != std::string::npos);
  CHECK(forward_error(" 80:h:80").find("port must be") != std::string::npos);
  CHECK(forward_error("80:h:0") == "-L '80:h:0': hostport must be a number from 1 to 65535");
  CHECK(forward_error("80:h:65536").find("hostport") != std::string::npos);
  CHECK(forward_error("80:h:http").find("hostport") != std::string::npos);
  CHECK(forward_error("80:h:").find("hostport") != std::string::npos);
  CHECK(forward_error("80::80").find("expected") != std::string::npos);
  CHECK(forward_error("80:[]:80").find("expected") != std::string::npos);
  CHECK(forward_error("80:a b:80") == "-L '80:a b:80': bad host");
  CHECK(forward_error(std::string("80:a\nb:80")).find("bad host") != std::string::npos);
  CHECK(forward_error("80:" + std::string(256, 'h') + ":80").find("bad host") != std::string::npos);
  CHECK(forward_error("[]:80:h:80").find("bad bind_address") != std::string::npos);
  CHECK(forward_error("a b:80:h:80").find("bad bind_address") != std::string::npos);
  // Brackets that do not enclose a whole field.
  for (const char* bad : {"[::1:80:h:80", "80:[h]x:80", "80:x[h]:80", "80:h]:80", "[[::1]]:80:h:80",
                          "80:h:[80]", "[80]:h:80"}) {
    CAPTURE(bad);
    CHECK_FALSE(forward::parse_forward_spec(bad, "-L").ok());
  }
}

TEST_CASE("-D: [bind_address:]port") {
  const auto ok = [](const char* text) {
    CAPTURE(text);
    const auto r = forward::parse_dynamic_spec(text);
    REQUIRE(r.ok());
    return *r;
  };
  CHECK(ok("1080") == DynamicSpec{"", 1080});
  CHECK(ok("0") == DynamicSpec{"", 0});
  CHECK(ok("localhost:1080") == DynamicSpec{"localhost", 1080});
  CHECK(ok("[::1]:1080") == DynamicSpec{"::1", 1080});
  CHECK(ok("*:1080") == DynamicSpec{"*", 1080});
  CHECK(ok(":1080") == DynamicSpec{"*", 1080});
  const auto err = [](const char* text) {
    CAPTURE(text);
    const auto r = forward::parse_dynamic_spec(text);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
  };
  CHECK(err("a:b:1080") == "-D 'a:b:1080': expected [bind_address:]port");
  CHECK(err("") == "-D '': port must be a number from 0 to 65535");
  CHECK(err("socks") == "-D 'socks': port must be a number from 0 to 65535");
  CHECK(err("70000").find("port must be") != std::string::npos);
  CHECK(err("::1:1080").find("brackets") != std::string::npos);
}

TEST_CASE("HOST:PORT targets") {
  const auto ok = [](const char* text) {
    CAPTURE(text);
    const auto r = forward::parse_host_port(text);
    REQUIRE(r.ok());
    return *r;
  };
  CHECK(ok("example.com:22") == HostPort{"example.com", 22});
  CHECK(ok("10.0.0.1:65535") == HostPort{"10.0.0.1", 65535});
  CHECK(ok("[2001:db8::1]:443") == HostPort{"2001:db8::1", 443});
  CHECK(ok("[::1]:1") == HostPort{"::1", 1});
  const auto err = [](const char* text) {
    CAPTURE(text);
    const auto r = forward::parse_host_port(text);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
  };
  CHECK(err("example.com") == "'example.com': expected HOST:PORT");
  CHECK(err(":22") == "':22': expected HOST:PORT");
  CHECK(err("h:0") == "'h:0': PORT must be a number from 1 to 65535");
  CHECK(err("h:") == "'h:': PORT must be a number from 1 to 65535");
  CHECK(err("h:ssh").find("PORT must be") != std::string::npos);
  CHECK(err("::1:22") ==
        "'::1:22': expected HOST:PORT (write IPv6 addresses in brackets, e.g. [::1])");
  CHECK(err("[::1]22").find("expected HOST:PORT") != std::string::npos);
}

TEST_CASE("--permit-open patterns") {
  const auto ok = [](const char* text) {
    CAPTURE(text);
    const auto r = forward::parse_permit_open(text);
    REQUIRE(r.ok());
    return *r;
  };
  CHECK(ok("*:22") == HostPortPattern{"*", "22"});
  CHECK(ok("*.example.com:*") == HostPortPattern{"*.example.com", "*"});
  CHECK(ok("10.0.0.*:80") == HostPortPattern{"10.0.0.*", "80"});
  CHECK(ok("[2001:db8::*]:443") == HostPortPattern{"2001:db8::*", "443"});
  CHECK(ok("host?:80?") == HostPortPattern{"host?", "80?"});
  for (const char* bad :
       {"*", "*:", "*:0", "*:65536", "*:http", "*:8*x", ":22", "::1:22", "a b:22"}) {
    CAPTURE(bad);
    const auto r = forward::parse_permit_open(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.rfind(std::string("--permit-open '") + bad + "': ", 0) == 0);
  }
}

TEST_CASE("default_bind_address") {
  CHECK(forward::default_bind_address("") == "127.0.0.1");
  CHECK(forward::default_bind_address("localhost") == "127.0.0.1");
  CHECK(forward::default_bind_address("LocalHost") == "127.0.0.1");
  CHECK(forward::default_bind_address("*") == "0.0.0.0");
  CHECK(forward::default_bind_address("[::1]") == "::1");
  CHECK(forward::default_bind_address("::") == "::");
  CHECK(forward::default_bind_address("192.0.2.1") == "192.0.2.1");
  CHECK(forward::default_bind_address("[]") == "127.0.0.1");
}

TEST_CASE("format_host_port brackets IPv6 literals only") {
  CHECK(forward::format_host_port("db.internal", 5432) == "db.internal:5432");
  CHECK(forward::format_host_port("10.0.0.1", 80) == "10.0.0.1:80");
  CHECK(forward::format_host_port("2001:db8::1", 443) == "[2001:db8::1]:443");
  // What the parser reads back is what was formatted.
  const auto back = forward::parse_host_port(forward::format_host_port("::1", 22));
  REQUIRE(back.ok());
  CHECK(back->host == "::1");
  CHECK(back->port == 22);
}
