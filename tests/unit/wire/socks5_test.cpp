#include "wire/socks5.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "unit/wire/fixture_helpers.hpp"

// Hex fixtures are written one wire field per string literal; clang-format would
// re-flow them and hide the field boundaries.
// clang-format off

namespace wire = punch::wire;
namespace util = punch::util;
using wire::SocksAddressType;
using wire::SocksCommand;
using wire::SocksMethod;
using wire::SocksReplyCode;

namespace {

// The hex strings were written by hand from RFC 1928 and RFC 1929, not produced
// by the encoder, so they check the encoder against the specs.
#define V4_ADDR "c0000201"                          // 192.0.2.1
#define V6_ADDR "20010db8000000000000000000000001"  // 2001:db8::1
#define EXAMPLE "0b" "6578616d706c652e636f6d"       // "example.com"

using wire::testing::hex;

using wire::testing::encoded;

struct GreetingFixture {
  const char* name;
  wire::SocksGreeting message;
  std::string hex;
};

std::vector<GreetingFixture> greetings() {
  return {
      {"no auth", {{SocksMethod::kNoAuth}}, "05" "01" "00"},
      {"no auth, user/pass", {{SocksMethod::kNoAuth, SocksMethod::kUserPass}},
       "05" "02" "00" "02"},
      {"gssapi, private 0x80", {{SocksMethod::kGssapi, static_cast<SocksMethod>(0x80)}},
       "05" "02" "01" "80"},
  };
}

struct UserPassFixture {
  const char* name;
  wire::SocksUserPassRequest message;
  std::string hex;
};

std::vector<UserPassFixture> userpass_requests() {
  return {
      {"alice", {"alice", "s3cret"}, "01" "05" "616c696365" "06" "733363726574"},
      {"one byte each", {"u", "p"}, "01" "01" "75" "01" "70"},
  };
}

struct RequestFixture {
  const char* name;
  wire::SocksRequest message;
  std::string hex;
};

std::vector<RequestFixture> requests() {
  return {
      {"CONNECT IPv4",
       {SocksCommand::kConnect, SocksAddressType::kIpv4, "192.0.2.1", 80},
       "05" "01" "00" "01" V4_ADDR "0050"},
      {"CONNECT domain",
       {SocksCommand::kConnect, SocksAddressType::kDomain, "example.com", 443},
       "05" "01" "00" "03" EXAMPLE "01bb"},
      {"CONNECT IPv6",
       {SocksCommand::kConnect, SocksAddressType::kIpv6, "2001:db8::1", 443},
       "05" "01" "00" "04" V6_ADDR "01bb"},
      {"BIND IPv4",
       {SocksCommand::kBind, SocksAddressType::kIpv4, "0.0.0.0", 0},
       "05" "02" "00" "01" "00000000" "0000"},
      {"UDP ASSOCIATE IPv6",
       {SocksCommand::kUdpAssociate, SocksAddressType::kIpv6, "::", 65535},
       "05" "03" "00" "04" "00000000000000000000000000000000" "ffff"},
  };
}

// Runs `decode` over every proper prefix of `full` and expects "need more" each time.
template <typename Decode>
void check_socks_prefixes_need_more(const util::Bytes& full, Decode decode) {
  for (std::size_t n = 0; n < full.size(); ++n) {
    CAPTURE(n);
    const auto d = decode(util::ByteView(full).first(n));
    CHECK(d.need_more());
    CHECK(d.consumed == 0);
    CHECK_FALSE(d.reply.has_value());
  }
}

}  // namespace

TEST_CASE("SOCKS5 greeting: fixtures, prefixes, pipelining") {
  for (const GreetingFixture& f : greetings()) {
    CAPTURE(f.name);
    CHECK(encoded(f.message) == f.hex);
    const util::Bytes full = hex(f.hex);
    const auto d = wire::decode_socks_greeting(full);
    REQUIRE(d.complete());
    CHECK(d.message == f.message);
    CHECK(d.consumed == full.size());
    check_socks_prefixes_need_more(full, wire::decode_socks_greeting);
    // A pipelining client sends the next message at once; it stays unconsumed.
    const util::Bytes more = hex(f.hex + "01" "05" "7573657273");
    const auto p = wire::decode_socks_greeting(more);
    REQUIRE(p.complete());
    CHECK(p.message == f.message);
    CHECK(p.consumed == full.size());
  }
}

TEST_CASE("SOCKS5 greeting: version, empty list, offers(), maximum size") {
  for (const char* bad : {"04", "04" "01" "00", "00" "01" "00", "01" "01" "00", "ff"}) {
    CAPTURE(bad);
    const auto d = wire::decode_socks_greeting(hex(bad));
    CHECK(d.malformed());
    CHECK_FALSE(d.reply.has_value());
  }
  // NMETHODS = 0 is unambiguous on the wire; the server answers 0xff to it.
  const auto empty = wire::decode_socks_greeting(hex("05" "00"));
  REQUIRE(empty.complete());
  CHECK(empty.message.methods.empty());
  CHECK(empty.consumed == 2);
  CHECK_FALSE(empty.message.offers(SocksMethod::kNoAuth));

  const auto two = wire::decode_socks_greeting(hex("05" "02" "00" "02"));
  REQUIRE(two.complete());
  CHECK(two.message.offers(SocksMethod::kNoAuth));
  CHECK(two.message.offers(SocksMethod::kUserPass));
  CHECK_FALSE(two.message.offers(SocksMethod::kGssapi));

  wire::SocksGreeting all;
  for (int i = 0; i < 255; ++i) all.methods.push_back(static_cast<SocksMethod>(i));
  util::Bytes b;
  wire::encode(all, b);
  CHECK(b.size() == wire::kSocksMaxGreetingSize);
  const auto d = wire::decode_socks_greeting(b);
  REQUIRE(d.complete());
  CHECK(d.message == all);
}

TEST_CASE("SOCKS5 method selection encodes to the byte-exact fixtures") {
  CHECK(encoded(wire::SocksMethodSelection{SocksMethod::kNoAuth}) == "0500");
  CHECK(encoded(wire::SocksMethodSelection{SocksMethod::kGssapi}) == "0501");
  CHECK(encoded(wire::SocksMethodSelection{SocksMethod::kUserPass}) == "0502");
  CHECK(encoded(wire::SocksMethodSelection{SocksMethod::kNoAcceptable}) == "05ff");
  CHECK(encoded(wire::SocksMethodSelection{}) == "05ff");
}

TEST_CASE("RFC 1929 request: fixtures, prefixes, pipelining") {
  for (const UserPassFixture& f : userpass_requests()) {
    CAPTURE(f.name);
    CHECK(encoded(f.message) == f.hex);
    const util::Bytes full = hex(f.hex);
    const auto d = wire::decode_socks_userpass_request(full);
    REQUIRE(d.complete());
    CHECK(d.message == f.message);
    CHECK(d.consumed == full.size());
    check_socks_prefixes_need_more(full, wire::decode_socks_userpass_request);
    const util::Bytes more = hex(f.hex + "05" "01" "00" "01" V4_ADDR "0050");
    const auto p = wire::decode_socks_userpass_request(more);
    REQUIRE(p.complete());
    CHECK(p.message == f.message);
    CHECK(p.consumed == full.size());
  }
}

TEST_CASE("RFC 1929 request: version, lengths, raw bytes, maximum size") {
  for (const char* bad : {"05", "05" "01" "75" "01" "70", "00" "01" "75" "01" "70", "02"}) {
    CAPTURE(bad);
    const auto d = wire::decode_socks_userpass_request(hex(bad));
    CHECK(d.malformed());
    CHECK_FALSE(d.reply.has_value());
  }
  // Zero lengths are unambiguous; the credential check, not the codec, refuses them.
  const auto empty = wire::decode_socks_userpass_request(hex("01" "00" "00"));
  REQUIRE(empty.complete());
  CHECK(empty.message == wire::SocksUserPassRequest{"", ""});
  CHECK(empty.consumed == 3);
  // ULEN and PLEN larger than what has arrived: need more, not malformed.
  CHECK(wire::decode_socks_userpass_request(hex("01" "05" "75")).need_more());
  CHECK(wire::decode_socks_userpass_request(hex("01" "01" "75" "05" "70")).need_more());
  // Credentials are bytes, NUL and all.
  const auto raw = wire::decode_socks_userpass_request(hex("01" "02" "0075" "01" "ff"));
  REQUIRE(raw.complete());
  CHECK(raw.message.username == std::string("\0u", 2));
  CHECK(raw.message.password == "\xff");

  const wire::SocksUserPassRequest longest{std::string(255, 'u'), std::string(255, 'p')};
  util::Bytes b;
  wire::encode(longest, b);
  CHECK(b.size() == wire::kSocksMaxUserPassRequestSize);
  const auto d = wire::decode_socks_userpass_request(b);
  REQUIRE(d.complete());
  CHECK(d.message == longest);
}

TEST_CASE("RFC 1929 reply encodes to the byte-exact fixtures") {
  CHECK(encoded(wire::SocksUserPassReply{wire::kSocksAuthSuccess}) == "0100");
  CHECK(encoded(wire::SocksUserPassReply{wire::kSocksAuthFailure}) == "0101");
  CHECK(encoded(wire::SocksUserPassReply{0xff}) == "01ff");
  CHECK(encoded(wire::SocksUserPassReply{}) == "0101");
}

TEST_CASE("SOCKS5 request: fixtures, prefixes, pipelining") {
  for (const RequestFixture& f : requests()) {
    CAPTURE(f.name);
    CHECK(encoded(f.message) == f.hex);
    const util::Bytes full = hex(f.hex);
    const auto d = wire::decode_socks_request(full);
    REQUIRE(d.complete());
    CHECK(d.message == f.message);
    CHECK(d.consumed == full.size());
    CHECK_FALSE(d.reply.has_value());
    check_socks_prefixes_need_more(full, wire::decode_socks_request);
    // curl may send data right behind the request; it must stay for the tunnel.
    const util::Bytes more = hex(f.hex + "474554202f20485454502f312e310d0a");
    const auto p = wire::decode_socks_request(more);
    REQUIRE(p.complete());
    CHECK(p.message == f.message);
    CHECK(p.consumed == full.size());
  }
}

TEST_CASE("SOCKS5 request: wrong version closes without a reply") {
  for (const char* bad : {"04", "04" "01" "00" "01" V4_ADDR "0050", "01" "01" "00" "01" V4_ADDR "0050",
                          "00"}) {
    CAPTURE(bad);
    const auto d = wire::decode_socks_request(hex(bad));
    CHECK(d.malformed());
    CHECK_FALSE(d.reply.has_value());
    CHECK(d.consumed == 0);
  }
}

TEST_CASE("SOCKS5 request: unknown CMD is command-not-supported, as soon as CMD arrives") {
  for (const char* cmd : {"00", "04", "80", "ff"}) {
    CAPTURE(cmd);
    for (const std::string& h : {std::string("05") + cmd,
                                 std::string("05") + cmd + "00" "01" V4_ADDR "0050",
                                 std::string("05") + cmd + "00" "09"}) {
      CAPTURE(h);
      const auto d = wire::decode_socks_request(hex(h));
      CHECK(d.malformed());
      CHECK(d.reply == SocksReplyCode::kCommandNotSupported);
    }
  }
}

TEST_CASE("SOCKS5 request: unknown ATYP is address-type-not-supported, not truncation") {
  for (const char* atyp : {"00", "02", "05", "ff"}) {
    CAPTURE(atyp);
    for (const std::string& h : {std::string("05" "01" "00") + atyp,
                                 std::string("05" "01" "00") + atyp + V4_ADDR "0050"}) {
      CAPTURE(h);
      const auto d = wire::decode_socks_request(hex(h));
      CHECK(d.malformed());
      CHECK(d.reply == SocksReplyCode::kAddressTypeNotSupported);
    }
  }
  // Known ATYP cut short stays "need more".
  CHECK(wire::decode_socks_request(hex("05" "01" "00" "04" "20010db8")).need_more());
  CHECK(wire::decode_socks_request(hex("05" "01" "00" "03" "0b" "6578")).need_more());
}

TEST_CASE("SOCKS5 request: non-zero RSV is a general failure") {
  const auto d = wire::decode_socks_request(hex("05" "01" "01" "01" V4_ADDR "0050"));
  CHECK(d.malformed());
  CHECK(d.reply == SocksReplyCode::kGeneralFailure);
  CHECK(wire::decode_socks_request(hex("05" "01" "80")).reply == SocksReplyCode::kGeneralFailure);
}

TEST_CASE("SOCKS5 request: domain names are checked") {
  // Zero length: rejected as soon as the length byte arrives.
  for (const char* h : {"05" "01" "00" "03" "00", "05" "01" "00" "03" "00" "0050"}) {
    CAPTURE(h);
    const auto d = wire::decode_socks_request(hex(h));
    CHECK(d.malformed());
    CHECK(d.reply == SocksReplyCode::kGeneralFailure);
  }
  // NUL, other control characters and DEL anywhere in the name.
  for (const char* name : {"03" "610062", "03" "00" "6162", "02" "610a", "01" "1f", "02" "617f",
                           "0c" "6578616d706c652e636f6d00"}) {
    CAPTURE(name);
    const auto d = wire::decode_socks_request(hex(std::string("05" "01" "00" "03") + name + "0050"));
    CHECK(d.malformed());
    CHECK(d.reply == SocksReplyCode::kGeneralFailure);
  }
  // The longest name (255 bytes) fits, and gives the largest request.
  const std::string longest(255, 'a');
  const auto d = wire::decode_socks_request(hex("05" "01" "00" "03" "ff" + std::string(510, 'a') +
                                                "0016"));
  REQUIRE(d.complete());
  CHECK(d.message.host == std::string(255, '\xaa'));
  CHECK(d.message.port == 22);
  CHECK(d.consumed == wire::kSocksMaxRequestSize);
  util::Bytes b;
  wire::encode(wire::SocksRequest{SocksCommand::kConnect, SocksAddressType::kDomain, longest, 1},
               b);
  CHECK(b.size() == wire::kSocksMaxRequestSize);
  // Names are not otherwise judged here: UTF-8, spaces and IP literals reach the resolver.
  const auto odd = wire::decode_socks_request(hex("05" "01" "00" "03" "07" "312e322e332e34" "0050"));
  REQUIRE(odd.complete());
  CHECK(odd.message.host == "1.2.3.4");
  CHECK(odd.message.address_type == SocksAddressType::kDomain);

  CHECK(wire::is_valid_socks_domain("example.com"));
  CHECK(wire::is_valid_socks_domain(longest));
  CHECK(wire::is_valid_socks_domain("b\xc3\xbc" "cher.example"));
  CHECK_FALSE(wire::is_valid_socks_domain(""));
  CHECK_FALSE(wire::is_valid_socks_domain(std::string(256, 'a')));
  CHECK_FALSE(wire::is_valid_socks_domain(std::string("a\0b", 3)));
  CHECK_FALSE(wire::is_valid_socks_domain("a\tb"));
  CHECK_FALSE(wire::is_valid_socks_domain("a\x7f"));
}

TEST_CASE("SOCKS5 request: IPv6 text form") {
  struct Case {
    const char* addr;
    const char* text;
  };
  const Case cases[] = {
      {V6_ADDR, "2001:db8::1"},
      {"00000000000000000000000000000001", "::1"},
      {"fe800000000000000000000000000001", "fe80::1"},
      {"20010db8000100000000000000000000", "2001:db8:1::"},
      {"20010db8000000010000000000000001", "2001:db8:0:1::1"},
      {"00000000000000000000ffffc0000201", "::ffff:192.0.2.1"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    const std::string h = std::string("05" "01" "00" "04") + c.addr + "0050";
    const auto d = wire::decode_socks_request(hex(h));
    REQUIRE(d.complete());
    CHECK(d.message.host == c.text);
    CHECK(d.message.host.find('[') == std::string::npos);
    CHECK(d.message.port == 80);
    // And back: the text form re-encodes to the same sixteen bytes.
    CHECK(encoded(d.message) == h);
  }
}

TEST_CASE("SOCKS5 reply encodes every code to the byte-exact fixtures") {
  struct Case {
    SocksReplyCode code;
    const char* rep;
  };
  const Case cases[] = {
      {SocksReplyCode::kSucceeded, "00"},
      {SocksReplyCode::kGeneralFailure, "01"},
      {SocksReplyCode::kNotAllowed, "02"},
      {SocksReplyCode::kNetworkUnreachable, "03"},
      {SocksReplyCode::kHostUnreachable, "04"},
      {SocksReplyCode::kConnectionRefused, "05"},
      {SocksReplyCode::kTtlExpired, "06"},
      {SocksReplyCode::kCommandNotSupported, "07"},
      {SocksReplyCode::kAddressTypeNotSupported, "08"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.rep);
    // No bound address (the usual failure reply): 0.0.0.0:0.
    CHECK(encoded(wire::SocksReply{c.code, {}}) ==
          std::string("05") + c.rep + "00" "01" "00000000" "0000");
  }
  CHECK(encoded(wire::SocksReply{SocksReplyCode::kSucceeded, util::Address::v4(192, 0, 2, 1, 4660)}) ==
        "05" "00" "00" "01" V4_ADDR "1234");
  CHECK(encoded(wire::SocksReply{SocksReplyCode::kSucceeded,
                                 *util::Address::parse("[2001:db8::1]:443")}) ==
        "05" "00" "00" "04" V6_ADDR "01bb");
  CHECK(encoded(wire::SocksReply{}) == "05" "01" "00" "01" "00000000" "0000");
}

TEST_CASE("SOCKS5 decoders hand back consecutive pipelined messages") {
  // Greeting, user/pass and request in one segment, as an eager client sends them.
  const util::Bytes all = hex("05" "01" "02" "01" "01" "75" "01" "70" "05" "01" "00" "03" EXAMPLE
                              "01bb");
  util::ByteView rest(all);
  const auto g = wire::decode_socks_greeting(rest);
  REQUIRE(g.complete());
  CHECK(g.message.offers(SocksMethod::kUserPass));
  rest = rest.subspan(g.consumed);
  const auto a = wire::decode_socks_userpass_request(rest);
  REQUIRE(a.complete());
  CHECK(a.message == wire::SocksUserPassRequest{"u", "p"});
  rest = rest.subspan(a.consumed);
  const auto r = wire::decode_socks_request(rest);
  REQUIRE(r.complete());
  CHECK(r.message.host == "example.com");
  CHECK(r.consumed == rest.size());
}

// The fixture macros end with this file (the test binary is a unity build).
#undef V4_ADDR
#undef V6_ADDR
#undef EXAMPLE
