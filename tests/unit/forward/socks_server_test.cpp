#include "forward/socks_server.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "forward/constants.hpp"
#include "test_hex.hpp"
#include "test_time.hpp"

// Hex fixtures are written one wire field per string literal; clang-format would
// re-flow them and hide the field boundaries.
// clang-format off

namespace forward = punch::forward;
namespace wire = punch::wire;
namespace util = punch::util;
using State = forward::SocksServer::State;
using wire::SocksReplyCode;

namespace {

// Written by hand from RFC 1928 and RFC 1929.
#define NO_AUTH "05" "01" "00"
#define USER_PASS_ONLY "05" "01" "02"
#define BOTH "05" "02" "00" "02"
#define ALICE "01" "05" "616c696365" "06" "733363726574"  // alice / s3cret
#define CONNECT_NAME "05" "01" "00" "03" "0b" "6578616d706c652e636f6d" "01bb"  // example.com:443
#define CONNECT_V4 "05" "01" "00" "01" "c0000201" "0050"                      // 192.0.2.1:80
#define CONNECT_V6 "05" "01" "00" "04" "20010db8000000000000000000000001" "0016"  // [2001:db8::1]:22
#define PAYLOAD "474554202f20485454502f312e310d0a"  // "GET / HTTP/1.1\r\n"
#define SELECT_NO_AUTH "0500"
#define SELECT_USER_PASS "0502"
#define SELECT_NONE "05ff"
#define EMPTY_REPLY(rep) "05" rep "00" "01" "00000000" "0000"

using Credentials = std::optional<std::pair<std::string, std::string>>;
const Credentials kAlice = std::make_pair(std::string("alice"), std::string("s3cret"));

using punch::testing::hex;

struct Outcome {
  State state = State::kNegotiating;
  std::string output;    // hex of everything the server wrote
  std::string leftover;  // hex of everything handed back as payload
  std::string failure;
  wire::SocksRequest request;
  friend bool operator==(const Outcome&, const Outcome&) = default;
};

// Feeds `input` cut at `cuts` (ascending offsets), collecting output and leftover
// after every call as an event loop would.
Outcome feed(const Credentials& creds, const util::Bytes& input, const std::vector<std::size_t>& cuts) {
  forward::SocksServer s(creds);
  Outcome o;
  util::Bytes out;
  util::Bytes left;
  std::size_t from = 0;
  auto step = [&](std::size_t to) {
    s.on_data(util::ByteView(input).subspan(from, to - from));
    const util::Bytes w = s.take_output();
    out.insert(out.end(), w.begin(), w.end());
    const util::Bytes l = s.take_leftover();
    left.insert(left.end(), l.begin(), l.end());
    from = to;
  };
  for (std::size_t cut : cuts) step(cut);
  step(input.size());
  o.state = s.state();
  o.output = util::to_hex(out);
  o.leftover = util::to_hex(left);
  o.failure = s.failure();
  if (o.state == State::kRequestReady) o.request = s.request();
  return o;
}

// Runs `input` whole, split at every position, and one byte at a time, and
// checks that all three agree before returning the outcome.
Outcome run(const Credentials& creds, const std::string& input_hex) {
  const util::Bytes input = hex(input_hex);
  const Outcome whole = feed(creds, input, {});
  for (std::size_t i = 0; i <= input.size(); ++i) {
    CAPTURE(i);
    CHECK(feed(creds, input, {i}) == whole);
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
  CHECK(feed(creds, input, every) == whole);
  return whole;
}

}  // namespace

TEST_CASE("SOCKS server: no authentication, CONNECT by name, success reply") {
  const Outcome o = run(std::nullopt, NO_AUTH CONNECT_NAME);
  CHECK(o.state == State::kRequestReady);
  CHECK(o.output == SELECT_NO_AUTH);
  CHECK(o.leftover.empty());
  CHECK(o.request == wire::SocksRequest{wire::SocksCommand::kConnect,
                                        wire::SocksAddressType::kDomain, "example.com", 443});

  forward::SocksServer s;
  s.on_data(hex(NO_AUTH CONNECT_NAME));
  CHECK(util::to_hex(s.take_output()) == SELECT_NO_AUTH);
  REQUIRE(s.state() == State::kRequestReady);
  s.reply(SocksReplyCode::kSucceeded, util::Address::v4(127, 0, 0, 1, 5555));
  CHECK(s.state() == State::kEstablished);
  CHECK(util::to_hex(s.take_output()) == "05" "00" "00" "01" "7f000001" "15b3");
  CHECK(s.take_output().empty());
  CHECK(s.failure().empty());
}

TEST_CASE("SOCKS server: IPv4 and IPv6 targets, IPv6 bound address") {
  const Outcome v4 = run(std::nullopt, NO_AUTH CONNECT_V4);
  REQUIRE(v4.state == State::kRequestReady);
  CHECK(v4.request.host == "192.0.2.1");
  CHECK(v4.request.port == 80);
  CHECK(v4.request.address_type == wire::SocksAddressType::kIpv4);
  const Outcome v6 = run(std::nullopt, NO_AUTH CONNECT_V6);
  REQUIRE(v6.state == State::kRequestReady);
  CHECK(v6.request.host == "2001:db8::1");
  CHECK(v6.request.port == 22);
  CHECK(v6.request.address_type == wire::SocksAddressType::kIpv6);

  forward::SocksServer s;
  s.on_data(hex(NO_AUTH CONNECT_V6));
  s.reply(SocksReplyCode::kSucceeded, *util::Address::parse("[::1]:443"));
  CHECK(util::to_hex(s.take_output()) ==
        SELECT_NO_AUTH "05" "00" "00" "04" "00000000000000000000000000000001" "01bb");
}

TEST_CASE("SOCKS server: pipelined payload after the request is left for the target") {
  const Outcome o = run(std::nullopt, NO_AUTH CONNECT_NAME PAYLOAD);
  CHECK(o.state == State::kRequestReady);
  CHECK(o.output == SELECT_NO_AUTH);
  CHECK(o.leftover == PAYLOAD);
  const Outcome a = run(kAlice, BOTH ALICE CONNECT_V4 PAYLOAD);
  CHECK(a.state == State::kRequestReady);
  CHECK(a.output == SELECT_USER_PASS "0100");
  CHECK(a.leftover == PAYLOAD);

  // Bytes that arrive before the reply, and after it, are payload too.
  forward::SocksServer s;
  s.on_data(hex(NO_AUTH CONNECT_NAME "4142"));
  CHECK(util::to_hex(s.take_leftover()) == "4142");
  s.on_data(hex("4344"));
  s.reply(SocksReplyCode::kSucceeded, {});
  s.on_data(hex("4546"));
  CHECK(util::to_hex(s.take_leftover()) == "43444546");
  CHECK(util::to_hex(s.take_output()) == SELECT_NO_AUTH EMPTY_REPLY("00"));
}

TEST_CASE("SOCKS server: username/password") {
  const Outcome ok = run(kAlice, BOTH ALICE CONNECT_NAME);
  CHECK(ok.state == State::kRequestReady);
  CHECK(ok.output == SELECT_USER_PASS "0100");
  CHECK(ok.request.host == "example.com");
  CHECK(run(kAlice, USER_PASS_ONLY ALICE CONNECT_NAME).state == State::kRequestReady);

  for (const char* wrong : {"01" "05" "616c696365" "06" "733363726575",   // s3creu
                            "01" "05" "616c696364" "06" "733363726574",   // alicd
                            "01" "05" "616c696365" "05" "7333637265",     // s3cre
                            "01" "05" "616c696365" "07" "73336372657400",  // s3cret\0
                            "01" "00" "00"}) {
    CAPTURE(wrong);
    const Outcome o = run(kAlice, std::string(BOTH) + wrong + CONNECT_NAME PAYLOAD);
    CHECK(o.state == State::kClosing);
    CHECK(o.output == SELECT_USER_PASS "0101");
    CHECK(o.failure == "wrong username or password");
    CHECK(o.leftover.empty());
  }
  // Not an RFC 1929 request at all: close without an answer.
  const Outcome bad = run(kAlice, BOTH CONNECT_NAME);
  CHECK(bad.state == State::kClosing);
  CHECK(bad.output == SELECT_USER_PASS);
  CHECK(bad.failure == "malformed username/password request");
  // Empty credentials are credentials like any other.
  CHECK(run(std::make_pair(std::string(), std::string()), BOTH "01" "00" "00" CONNECT_V4).state ==
        State::kRequestReady);
}

TEST_CASE("SOCKS server: method negotiation refusals") {
  // Credentials configured, client offers only "no authentication".
  const Outcome a = run(kAlice, NO_AUTH CONNECT_NAME);
  CHECK(a.state == State::kClosing);
  CHECK(a.output == SELECT_NONE);
  CHECK(a.failure == "client does not offer username/password authentication");
  // No credentials configured, client offers only username/password or GSSAPI.
  for (const char* greeting : {USER_PASS_ONLY, "05" "01" "01", "05" "00", "05" "03" "01" "02" "80"}) {
    CAPTURE(greeting);
    const Outcome o = run(std::nullopt, greeting);
    CHECK(o.state == State::kClosing);
    CHECK(o.output == SELECT_NONE);
  }
  // A client offering both gets the configured one.
  CHECK(run(std::nullopt, BOTH).output == SELECT_NO_AUTH);
  CHECK(run(kAlice, BOTH).output == SELECT_USER_PASS);
}

TEST_CASE("SOCKS server: garbage, unknown version, truncation") {
  for (const char* junk : {PAYLOAD, "04" "01" "00" "50" "c0000201" "00", "00", "ff" "ff" "ff",
                           "16" "0301" "0200"}) {
    CAPTURE(junk);
    const Outcome o = run(std::nullopt, junk);
    CHECK(o.state == State::kClosing);
    CHECK(o.output.empty());
    CHECK(o.failure == "not a SOCKS5 client");
  }
  // Truncated greeting: nothing to say yet.
  for (const char* part : {"", "05", "05" "02", "05" "02" "00"}) {
    CAPTURE(part);
    const Outcome o = run(std::nullopt, part);
    CHECK(o.state == State::kNegotiating);
    CHECK(o.output.empty());
  }
  // Truncated request after a good greeting.
  const Outcome t = run(std::nullopt, NO_AUTH "05" "01" "00" "03" "0b" "6578");
  CHECK(t.state == State::kNegotiating);
  CHECK(t.output == SELECT_NO_AUTH);
  // A request with the wrong version: close without a reply.
  const Outcome v = run(std::nullopt, NO_AUTH "04" "01" "00" "01" "c0000201" "0050");
  CHECK(v.state == State::kClosing);
  CHECK(v.output == SELECT_NO_AUTH);
  CHECK(v.failure == "not a SOCKS5 request");
}

TEST_CASE("SOCKS server: unsupported commands and address types get their reply codes") {
  for (const char* cmd : {"02", "03"}) {
    CAPTURE(cmd);
    const Outcome o = run(std::nullopt, std::string(NO_AUTH "05") + cmd + "00" "01" "c0000201" "0050" PAYLOAD);
    CHECK(o.state == State::kClosing);
    CHECK(o.output == SELECT_NO_AUTH EMPTY_REPLY("07"));
    CHECK(o.failure.rfind("unsupported command ", 0) == 0);
    CHECK(o.leftover.empty());
  }
  CHECK(run(std::nullopt, NO_AUTH "05" "02" "00" "01" "c0000201" "0050").failure ==
        "unsupported command BIND");
  CHECK(run(std::nullopt, NO_AUTH "05" "03" "00" "01" "c0000201" "0050").failure ==
        "unsupported command UDP ASSOCIATE");
  const Outcome unknown = run(std::nullopt, NO_AUTH "05" "09");
  CHECK(unknown.output == SELECT_NO_AUTH EMPTY_REPLY("07"));
  CHECK(unknown.failure == "unsupported command");
  for (const char* atyp : {"00", "02", "05", "ff"}) {
    CAPTURE(atyp);
    const Outcome o = run(std::nullopt, std::string(NO_AUTH "05" "01" "00") + atyp + "c0000201" "0050");
    CHECK(o.state == State::kClosing);
    CHECK(o.output == SELECT_NO_AUTH EMPTY_REPLY("08"));
    CHECK(o.failure == "unsupported address type");
  }
}

TEST_CASE("SOCKS server: bad domain names and RSV are general failures") {
  for (const char* req : {"05" "01" "00" "03" "00" "0050",                     // empty name
                          "05" "01" "00" "03" "03" "610062" "0050",            // NUL inside
                          "05" "01" "00" "03" "02" "610a" "0050",              // newline
                          "05" "01" "01" "01" "c0000201" "0050"}) {            // RSV = 1
    CAPTURE(req);
    const Outcome o = run(std::nullopt, std::string(NO_AUTH) + req);
    CHECK(o.state == State::kClosing);
    CHECK(o.output == SELECT_NO_AUTH EMPTY_REPLY("01"));
    CHECK(o.failure == "malformed request");
  }
  // The longest name fits; a length byte larger than what arrived waits for more.
  const std::string longest = std::string(NO_AUTH "05" "01" "00" "03" "ff") + std::string(510, '6') + "0050";
  const Outcome o = run(std::nullopt, longest);
  REQUIRE(o.state == State::kRequestReady);
  CHECK(o.request.host == std::string(255, 'f'));
  CHECK(run(std::nullopt, NO_AUTH "05" "01" "00" "03" "ff" "6666").state == State::kNegotiating);
}

TEST_CASE("SOCKS server: failure replies close; input after closing is ignored") {
  forward::SocksServer s;
  s.on_data(hex(NO_AUTH CONNECT_NAME PAYLOAD));
  REQUIRE(s.state() == State::kRequestReady);
  s.reply(SocksReplyCode::kConnectionRefused, {});
  CHECK(s.state() == State::kClosing);
  CHECK(util::to_hex(s.take_output()) == SELECT_NO_AUTH EMPTY_REPLY("05"));
  CHECK(s.take_leftover().empty());
  CHECK(s.failure() == "request refused with SOCKS5 reply code 5");
  s.on_data(hex(NO_AUTH CONNECT_NAME));
  CHECK(s.take_output().empty());
  CHECK(s.take_leftover().empty());
  CHECK(s.state() == State::kClosing);

  forward::SocksServer g;
  g.on_data(hex("00"));
  REQUIRE(g.state() == State::kClosing);
  g.on_data(hex(NO_AUTH));
  CHECK(g.take_output().empty());
}

// clang-format on

namespace {

using punch::testing::kT0;
const util::Address kSocksClient = util::Address::v4(127, 0, 0, 1, 40000);
// A greeting and a wrong password (s3creu), and a greeting, the right one and a CONNECT.
util::Bytes wrong_password() {
  return hex(BOTH
             "01"
             "05"
             "616c696365"
             "06"
             "733363726575");
}
util::Bytes right_password() { return hex(BOTH ALICE CONNECT_NAME); }

}  // namespace

TEST_CASE("SOCKS server: a failed password makes the client's next check wait") {
  // Issue 17: 14,394 guesses a second, each on its own connection, with no backoff.
  forward::AuthBackoff backoff;
  forward::SocksServer first(kAlice, &backoff, kSocksClient);
  first.on_data(wrong_password(), kT0);
  CHECK(first.state() == State::kClosing);
  CHECK(first.deadline() == util::kNever);

  // A new connection from the same address, another port: its check waits 100 ms.
  util::Address other_port = kSocksClient;
  other_port.port = 40001;
  forward::SocksServer second(kAlice, &backoff, other_port);
  second.on_data(right_password(), kT0 + std::chrono::milliseconds(10));
  CHECK(second.state() == State::kNegotiating);
  CHECK(util::to_hex(second.take_output()) == SELECT_USER_PASS);  // greeting answered at once
  CHECK(second.deadline() == kT0 + forward::kAuthBackoffBase);
  second.on_timeout(kT0 + std::chrono::milliseconds(50));  // too early: nothing happens
  CHECK(second.state() == State::kNegotiating);
  CHECK(second.take_output().empty());
  second.on_timeout(kT0 + forward::kAuthBackoffBase);
  CHECK(second.state() == State::kRequestReady);
  CHECK(util::to_hex(second.take_output()) == "0100");
  CHECK(second.request().host == "example.com");
  CHECK(backoff.failures(kSocksClient, kT0 + forward::kAuthBackoffBase) == 0);  // success forgets
}

TEST_CASE("SOCKS server: parallel guessers get one check per backoff step, at most 10 s apart") {
  forward::AuthBackoff backoff;
  std::vector<std::unique_ptr<forward::SocksServer>> guessers;
  util::TimePoint now = kT0;
  std::size_t checked = 0;
  // 100 connections guess at once; the loop plays an event loop's timers for 60 s.
  for (int i = 0; i < 100; ++i) {
    guessers.push_back(std::make_unique<forward::SocksServer>(kAlice, &backoff, kSocksClient));
    guessers.back()->on_data(wrong_password(), now);
  }
  const util::TimePoint end = kT0 + std::chrono::seconds(60);
  while (now < end) {
    util::TimePoint next = util::kNever;
    for (const auto& g : guessers) next = std::min(next, g->deadline());
    if (next == util::kNever || next > end) break;
    now = next;
    for (const auto& g : guessers) g->on_timeout(now);
  }
  for (const auto& g : guessers) checked += g->state() == State::kClosing ? 1 : 0;
  // Checks at 0, 0.1, 0.3, 0.7, 1.5, 3.1, 6.3 s, then every 10 s: 12 in 60 s.
  MESSAGE("checks in 60 s of 100 parallel guessers: " << checked);
  CHECK(checked == 12);
  CHECK(backoff.ready_at(kSocksClient, now) - now <= forward::kAuthBackoffMax);
}

TEST_CASE("SOCKS server: a client sending on while its check waits is cut off at a bound") {
  forward::AuthBackoff backoff;
  backoff.on_failure(kSocksClient, kT0);
  forward::SocksServer s(kAlice, &backoff, kSocksClient);
  s.on_data(right_password(), kT0);
  REQUIRE(s.deadline() != util::kNever);
  const util::Bytes chunk(16 * 1024, 0x41);
  for (int i = 0; i < 3; ++i) s.on_data(chunk, kT0);
  CHECK(s.state() == State::kNegotiating);  // 48 KiB and the request: within the bound
  s.on_data(chunk, kT0);
  CHECK(s.state() == State::kClosing);  // past kSocksMaxDeferredInput (64 KiB)
  CHECK(s.failure() == "client sent too much while its password check waited");
}

// The fixture macros end with this file (the test binary is a unity build).
#undef NO_AUTH
#undef USER_PASS_ONLY
#undef BOTH
#undef ALICE
#undef CONNECT_NAME
#undef CONNECT_V4
#undef CONNECT_V6
#undef PAYLOAD
#undef SELECT_NO_AUTH
#undef SELECT_USER_PASS
#undef SELECT_NONE
#undef EMPTY_REPLY
