#include "wire/stream_preamble.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "unit/wire/fixture_helpers.hpp"

// Hex fixtures are written one wire field per string literal; clang-format would
// re-flow them and hide the field boundaries.
// clang-format off

namespace wire = punch::wire;
namespace util = punch::util;
using wire::StreamKind;
using wire::StreamStatus;

namespace {

// Written by hand from docs/protocol.md ("Stream preamble"), not produced by the
// encoder, so they check the encoder against the documented format.
#define EXAMPLE "0b" "6578616d706c652e636f6d"        // "example.com"
#define V6_TEXT "0b" "323030313a6462383a3a31"        // "2001:db8::1"
#define ORIGIN "0e" "3132372e302e302e313a35353535"   // "127.0.0.1:5555"
#define PAYLOAD "474554202f20485454502f312e310d0a"  // "GET / HTTP/1.1\r\n"

using wire::testing::hex;

using wire::testing::encoded;

struct PreambleRequestFixture {
  const char* name;
  wire::StreamRequest message;
  std::string hex;
};

std::vector<PreambleRequestFixture> preamble_requests() {
  return {
      {"stdio", {StreamKind::kStdio, "", 0, 0, ""}, "01" "01"},
      {"connect name", {StreamKind::kConnect, "example.com", 443, 0, ""},
       "01" "02" EXAMPLE "01bb"},
      {"connect IPv6", {StreamKind::kConnect, "2001:db8::1", 22, 0, ""},
       "01" "02" V6_TEXT "0016"},
      {"remote bind default, any port", {StreamKind::kRemoteBind, "", 0, 1, ""},
       "01" "03" "00" "0000" "01"},
      {"remote bind all, 2-byte id", {StreamKind::kRemoteBind, "*", 8080, 300, ""},
       "01" "03" "01" "2a" "1f90" "412c"},
      {"remote connection", {StreamKind::kRemoteConnection, "", 0, 7, "127.0.0.1:5555"},
       "01" "04" "07" ORIGIN},
      {"remote connection, largest id, no origin",
       {StreamKind::kRemoteConnection, "", 0, util::kVarintMax, ""},
       "01" "04" "ffffffffffffffff" "00"},
  };
}

struct ReplyFixture {
  const char* name;
  wire::StreamReply message;
  std::string hex;
};

std::vector<ReplyFixture> replies() {
  return {
      {"ok", {StreamStatus::kOk, 0, ""}, "01" "00" "0000" "00"},
      {"ok, bound port", {StreamStatus::kOk, 8080, ""}, "01" "00" "1f90" "00"},
      {"refused", {StreamStatus::kRefused, 0, "connection refused"},
       "01" "05" "0000" "12" "636f6e6e656374696f6e2072656675736564"},
      {"busy", {StreamStatus::kBusy, 0, ""}, "01" "08" "0000" "00"},
      {"not allowed, UTF-8", {StreamStatus::kNotAllowed, 0, "\xc3\xbc"},
       "01" "02" "0000" "02" "c3bc"},
  };
}

using wire::testing::check_prefixes_need_more;

}  // namespace

TEST_CASE("stream preamble request: fixtures, every truncation, pipelined payload") {
  for (const PreambleRequestFixture& f : preamble_requests()) {
    CAPTURE(f.name);
    CHECK(wire::is_valid_stream_request(f.message));
    CHECK(encoded(f.message) == f.hex);
    const util::Bytes full = hex(f.hex);
    const auto d = wire::decode_stream_request(full);
    REQUIRE(d.complete());
    CHECK(d.message == f.message);
    CHECK(d.consumed == full.size());
    check_prefixes_need_more(full, wire::decode_stream_request);
    // 0-RTT: payload right behind the request is not the decoder's.
    const util::Bytes more = hex(f.hex + PAYLOAD);
    const auto p = wire::decode_stream_request(more);
    REQUIRE(p.complete());
    CHECK(p.message == f.message);
    CHECK(p.consumed == full.size());
    CHECK(util::to_hex(util::ByteView(more).subspan(p.consumed)) == PAYLOAD);
  }
}

TEST_CASE("stream preamble reply: fixtures, every truncation, payload after it") {
  for (const ReplyFixture& f : replies()) {
    CAPTURE(f.name);
    CHECK(encoded(f.message) == f.hex);
    const util::Bytes full = hex(f.hex);
    const auto d = wire::decode_stream_reply(full);
    REQUIRE(d.complete());
    CHECK(d.message == f.message);
    CHECK(d.consumed == full.size());
    check_prefixes_need_more(full, wire::decode_stream_reply);
    const auto p = wire::decode_stream_reply(hex(f.hex + PAYLOAD));
    REQUIRE(p.complete());
    CHECK(p.consumed == full.size());
  }
}

TEST_CASE("stream preamble: every status round-trips, unknown ones are malformed") {
  for (int s = 0; s <= 8; ++s) {
    CAPTURE(s);
    const wire::StreamReply m{static_cast<StreamStatus>(s), 1, "why"};
    util::Bytes b;
    wire::encode(m, b);
    const auto d = wire::decode_stream_reply(b);
    REQUIRE(d.complete());
    CHECK(d.message == m);
  }
  for (const char* bad : {"09", "0a", "80", "ff"}) {
    CAPTURE(bad);
    // Judged as soon as the status byte arrives.
    CHECK(wire::decode_stream_reply(hex(std::string("01") + bad)).malformed());
    CHECK(wire::decode_stream_reply(hex(std::string("01") + bad + "0000" "00")).malformed());
  }
}

TEST_CASE("stream preamble: unknown version or kind is malformed at once") {
  for (const char* bad : {"00", "02", "05", "ff", "00" "01", "02" "02" EXAMPLE "01bb"}) {
    CAPTURE(bad);
    CHECK(wire::decode_stream_request(hex(bad)).malformed());
    CHECK(wire::decode_stream_reply(hex(bad)).malformed());
  }
  for (const char* kind : {"00", "05", "80", "ff"}) {
    CAPTURE(kind);
    CHECK(wire::decode_stream_request(hex(std::string("01") + kind)).malformed());
    CHECK(wire::decode_stream_request(hex(std::string("01") + kind + "00" "0000")).malformed());
  }
}

TEST_CASE("stream preamble request: fields are judged") {
  const char* bad[] = {
      // kConnect: empty host (as soon as its length arrives), port 0.
      "01" "02" "00",
      "01" "02" "00" "0050",
      "01" "02" EXAMPLE "0000",
      // Control characters in host or origin: NUL, newline, ESC, DEL.
      "01" "02" "03" "610062" "0050",
      "01" "02" "02" "610a" "0050",
      "01" "03" "01" "1b" "0050" "01",
      "01" "04" "01" "02" "617f",
      // Varints only in their shortest form.
      "01" "04" "4007" "00",
      "01" "03" "00" "0000" "80000001",
      "01" "04" "c000000000000001" "00",
  };
  for (const char* h : bad) {
    CAPTURE(h);
    const auto d = wire::decode_stream_request(hex(h));
    CHECK(d.malformed());
    CHECK(d.consumed == 0);
  }
  // The validity check the encoder asserts agrees with the decoder.
  CHECK_FALSE(wire::is_valid_stream_request({StreamKind::kConnect, "", 80, 0, ""}));
  CHECK_FALSE(wire::is_valid_stream_request({StreamKind::kConnect, "a", 0, 0, ""}));
  CHECK_FALSE(wire::is_valid_stream_request({StreamKind::kConnect, "a\nb", 80, 0, ""}));
  CHECK_FALSE(wire::is_valid_stream_request({StreamKind::kConnect, std::string(256, 'a'), 80, 0, ""}));
  CHECK_FALSE(wire::is_valid_stream_request({StreamKind::kRemoteBind, "", 0, util::kVarintMax + 1, ""}));
  CHECK_FALSE(wire::is_valid_stream_request({StreamKind::kRemoteConnection, "", 0, 1, "\x1b[2J"}));
  CHECK_FALSE(wire::is_valid_stream_request({static_cast<StreamKind>(9), "", 0, 0, ""}));
  // Fields another kind does not carry are not sent.
  CHECK(encoded(wire::StreamRequest{StreamKind::kStdio, "ignored", 1, 2, "x"}) == "0101");
}

TEST_CASE("stream preamble reply: reasons are judged on receipt and cleaned on sending") {
  for (const char* h : {"01" "01" "0000" "01" "0a", "01" "01" "0000" "02" "c328",
                        "01" "01" "0000" "01" "80", "01" "01" "0000" "03" "1b5b41"}) {
    CAPTURE(h);
    CHECK(wire::decode_stream_reply(hex(h)).malformed());
  }
  CHECK(wire::sanitize_stream_reason("a\nb\x1b[0m") == "a?b?[0m");
  CHECK(wire::sanitize_stream_reason("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(wire::sanitize_stream_reason("bad \xff\xc3\xa9") == "bad ???");
  // Cut to 255 bytes without splitting the two-byte character at 254-255.
  const std::string long_reason = std::string(254, 'x') + "\xc3\xa9" + "tail";
  CHECK(wire::sanitize_stream_reason(long_reason) == std::string(254, 'x'));
  CHECK(wire::sanitize_stream_reason(std::string(300, 'y')) == std::string(255, 'y'));
  // The encoder cleans, so whatever a local error says, the peer accepts the reply.
  util::Bytes b;
  wire::encode(wire::StreamReply{StreamStatus::kHostUnreachable, 0,
                                 "cannot resolve \xff\x01" + std::string(400, 'n')},
               b);
  CHECK(b.size() == wire::kMaxPreambleReplySize);
  const auto d = wire::decode_stream_reply(b);
  REQUIRE(d.complete());
  CHECK(d.message.reason.substr(0, 17) == "cannot resolve ??");
  CHECK(d.message.reason.size() == 255);
}

TEST_CASE("stream preamble: kMaxPreambleSize bytes are always enough to decide") {
  wire::StreamRequest largest{StreamKind::kRemoteBind, std::string(255, 'h'), 65535,
                              util::kVarintMax, ""};
  util::Bytes b;
  wire::encode(largest, b);
  CHECK(b.size() == wire::kMaxPreambleSize);
  wire::StreamRequest connection{StreamKind::kRemoteConnection, "", 0, util::kVarintMax,
                                 std::string(255, 'o')};
  b.clear();
  wire::encode(connection, b);
  CHECK(b.size() <= wire::kMaxPreambleSize);

  std::mt19937 rng(7);
  for (int i = 0; i < 5000; ++i) {
    util::Bytes in(wire::kMaxPreambleSize);
    for (auto& x : in) x = static_cast<std::uint8_t>(rng());
    in[0] = wire::kStreamPreambleVersion;
    in[1] = static_cast<std::uint8_t>(1 + rng() % 4);
    // Long lengths, small bytes in strings: reach the end of every layout.
    for (std::size_t k = 2; k < in.size(); ++k)
      if (rng() % 2) in[k] = static_cast<std::uint8_t>(0x20 + rng() % 0x5f);
    CHECK_FALSE(wire::decode_stream_request(in).need_more());
    CHECK_FALSE(wire::decode_stream_reply(in).need_more());
  }
}

TEST_CASE("stream status maps 1:1 onto SOCKS5 reply codes") {
  CHECK(wire::to_socks_reply(StreamStatus::kOk) == wire::SocksReplyCode::kSucceeded);
  CHECK(wire::to_socks_reply(StreamStatus::kGeneralFailure) == wire::SocksReplyCode::kGeneralFailure);
  CHECK(wire::to_socks_reply(StreamStatus::kNotAllowed) == wire::SocksReplyCode::kNotAllowed);
  CHECK(wire::to_socks_reply(StreamStatus::kNetworkUnreachable) ==
        wire::SocksReplyCode::kNetworkUnreachable);
  CHECK(wire::to_socks_reply(StreamStatus::kHostUnreachable) == wire::SocksReplyCode::kHostUnreachable);
  CHECK(wire::to_socks_reply(StreamStatus::kRefused) == wire::SocksReplyCode::kConnectionRefused);
  CHECK(wire::to_socks_reply(StreamStatus::kTimedOut) == wire::SocksReplyCode::kTtlExpired);
  CHECK(wire::to_socks_reply(StreamStatus::kUnsupported) == wire::SocksReplyCode::kCommandNotSupported);
  CHECK(wire::to_socks_reply(StreamStatus::kBusy) == wire::SocksReplyCode::kGeneralFailure);
  CHECK(wire::describe(StreamStatus::kRefused) == "connection refused");
  CHECK(wire::describe(StreamStatus::kBusy) == "busy");
}

// The fixture macros end with this file (the test binary is a unity build).
#undef EXAMPLE
#undef V6_TEXT
#undef ORIGIN
#undef PAYLOAD
