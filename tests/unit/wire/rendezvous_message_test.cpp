#include "wire/rendezvous_message.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "unit/wire/fixture_helpers.hpp"
#include "wire/packet_type.hpp"

// Hex fixtures are written one wire field per string literal; clang-format would
// re-flow them and hide the field boundaries.
// clang-format off

namespace wire = punch::wire;
namespace util = punch::util;
using punch::crypto::NodeId;

namespace {

// Field values chosen so that every field is recognisable in the hex below. The
// hex strings were written by hand from docs/protocol.md, not produced by the
// encoder, so they check the encoder against the spec.
constexpr wire::Nonce kNonce{1, 2, 3, 4, 5, 6, 7, 8};
constexpr wire::Cookie kCookie{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9,
                               0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3};
constexpr wire::Token kToken{0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
                             0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf};
constexpr std::uint64_t kInstance = 0x1122334455667788;
constexpr std::uint64_t kCid = 0x99aabbccddeeff00;

#define NONCE "0102030405060708"
#define COOKIE "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3"
#define TOKEN "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
#define INSTANCE "1122334455667788"
#define CID "99aabbccddeeff00"
#define NODE_ID "000102030405060708090a0b0c0d0e0f"
#define ADDR4 "04c00002011234"                          // 192.0.2.1:4660
#define ADDR6 "0620010db800000000000000000000000101bb"  // [2001:db8::1]:443
#define ANY4_7778 "04000000001e62"                      // 0.0.0.0:7778
#define ANY6_7778 "06000000000000000000000000000000001e62"  // [::]:7778

NodeId node_id() {
  const std::uint8_t raw[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  return *NodeId::from_bytes(raw);
}

util::Address addr4() { return util::Address::v4(192, 0, 2, 1, 4660); }
util::Address addr6() { return *util::Address::parse("[2001:db8::1]:443"); }
util::Address any6_7778() { return *util::Address::parse("[::]:7778"); }

using wire::testing::hex;

struct Fixture {
  const char* name;
  wire::RendezvousMessage message;
  std::string hex;
};

std::vector<Fixture> fixtures() {
  return {
      {"HELLO", wire::Hello{kNonce}, "0101" NONCE + std::string(54 * 2, '0')},
      {"CHALLENGE", wire::Challenge{kNonce, kCookie}, "02" NONCE COOKIE},
      {"REGISTER",
       wire::Register{kNonce, kCookie, kInstance, 1, {0xaa, 0xbb, 0xcc}, {0xdd, 0xdd}},
       "03" NONCE COOKIE INSTANCE "01" "0003aabbcc" "0002dddd"},
      {"REGISTERED",
       wire::Registered{kInstance, kToken, 15,
                        {util::Address::v4(0, 0, 0, 0, 7778), util::Address::v4(192, 0, 2, 3, 7778)},
                        addr4()},
       "04" INSTANCE TOKEN "000f" "02" ANY4_7778 "04c00002031e62" ADDR4},
      {"REGISTERED without probe addresses", wire::Registered{kInstance, kToken, 15, {}, addr6()},
       "04" INSTANCE TOKEN "000f" "00" ADDR6},
      {"REGISTERED v6", wire::Registered{kInstance, kToken, 15, {any6_7778()}, addr6()},
       "04" INSTANCE TOKEN "000f" "01" ANY6_7778 ADDR6},
      {"KEEPALIVE", wire::Keepalive{kInstance, kToken}, "05" INSTANCE TOKEN},
      {"KEEPALIVE_ACK", wire::KeepaliveAck{addr6()}, "06" ADDR6},
      {"UNKNOWN", wire::Unknown{kInstance}, "07" INSTANCE},
      {"CONNECT", wire::Connect{kInstance, kToken, kCid, node_id()},
       "08" INSTANCE TOKEN CID NODE_ID},
      {"INVITE", wire::Invite{kCid, node_id(), addr4()}, "09" CID NODE_ID ADDR4},
      {"ACCEPT", wire::Accept{kInstance, kToken, kCid}, "0a" INSTANCE TOKEN CID},
      {"REFUSE", wire::Refuse{kInstance, kToken, kCid, "busy"},
       "0b" INSTANCE TOKEN CID "04" "62757379"},
      {"CONNECT_OK", wire::ConnectOk{kCid, node_id(), addr6()}, "0c" CID NODE_ID ADDR6},
      {"CONNECT_FAIL", wire::ConnectFail{kCid, 2, "busy"}, "0d" CID "02" "04" "62757379"},
      {"PROBE", wire::AddressProbe{kNonce}, "0e01" NONCE + std::string(54 * 2, '0')},
      {"PROBE_REPLY v4", wire::AddressProbeReply{kNonce, addr4()}, "0f" NONCE ADDR4},
      {"PROBE_REPLY v6", wire::AddressProbeReply{kNonce, addr6()}, "0f" NONCE ADDR6},
      {"PROBE_LIST_REQUEST", wire::ProbeAddressListRequest{kNonce},
       "1001" NONCE + std::string(118 * 2, '0')},
      {"PROBE_LIST",
       wire::ProbeAddressList{kNonce, {util::Address::v4(0, 0, 0, 0, 7778),
                                util::Address::v4(192, 0, 2, 3, 7778)}},
       "11" NONCE "02" ANY4_7778 "04c00002031e62"},
      {"PROBE_LIST empty", wire::ProbeAddressList{kNonce, {}}, "11" NONCE "00"},
  };
}

}  // namespace

TEST_CASE("rendezvous messages encode to the byte-exact fixtures") {
  for (const Fixture& f : fixtures()) {
    CAPTURE(f.name);
    util::Bytes out = {0xee};  // Encoders append; what was there stays.
    wire::encode_rendezvous_message(f.message, out);
    CHECK(out.front() == 0xee);
    CHECK(util::to_hex(util::ByteView(out).subspan(1)) == f.hex);
  }
}

TEST_CASE("rendezvous fixtures decode to the same fields") {
  for (const Fixture& f : fixtures()) {
    CAPTURE(f.name);
    const auto decoded = wire::decode_rendezvous_message(hex(f.hex));
    REQUIRE(decoded.has_value());
    CHECK(*decoded == f.message);
  }
}

TEST_CASE("the sizes the anti-amplification argument relies on") {
  util::Bytes hello, challenge, unknown, keepalive;
  wire::encode(wire::Hello{kNonce}, hello);
  wire::encode(wire::Challenge{kNonce, kCookie}, challenge);
  wire::encode(wire::Unknown{kInstance}, unknown);
  wire::encode(wire::Keepalive{kInstance, kToken}, keepalive);
  CHECK(hello.size() == wire::kHelloSize);
  CHECK(challenge.size() == wire::kChallengeSize);
  CHECK(unknown.size() == wire::kUnknownSize);
  CHECK(challenge.size() < hello.size());
  CHECK(unknown.size() < keepalive.size());
}

TEST_CASE("every truncation of every fixture is rejected") {
  for (const Fixture& f : fixtures()) {
    CAPTURE(f.name);
    const util::Bytes full = hex(f.hex);
    for (std::size_t n = 0; n < full.size(); ++n) {
      CAPTURE(n);
      CHECK_FALSE(wire::decode_rendezvous_message(util::ByteView(full).first(n)).has_value());
    }
  }
}

TEST_CASE("trailing bytes are rejected, except zero padding of HELLO, PROBE, PROBE_LIST_REQUEST") {
  for (const Fixture& f : fixtures()) {
    CAPTURE(f.name);
    util::Bytes b = hex(f.hex);
    b.push_back(1);
    CHECK_FALSE(wire::decode_rendezvous_message(b).has_value());
    b.back() = 0;
    const bool padded =
        f.hex.rfind("01", 0) == 0 || f.hex.rfind("0e", 0) == 0 || f.hex.rfind("10", 0) == 0;
    CHECK(wire::decode_rendezvous_message(b).has_value() == padded);
  }
}

TEST_CASE("a fixture under another type byte is rejected by the typed decoder") {
  // Each typed decoder must check the type, not just the length.
  const util::Bytes keepalive = hex("05" INSTANCE TOKEN);
  util::Bytes as_unknown_type = keepalive;
  for (int t : {0x00, 0x04, 0x06, 0x0e, 0x20, 0xff}) {
    as_unknown_type[0] = static_cast<std::uint8_t>(t);
    CHECK_FALSE(wire::decode_keepalive(as_unknown_type).has_value());
  }
  CHECK_FALSE(wire::decode_rendezvous_message(hex("1f" INSTANCE)).has_value());
  CHECK_FALSE(wire::decode_address_probe(hex("01" "01" NONCE + std::string(54 * 2, '0'))).has_value());
  CHECK_FALSE(wire::decode_address_probe_reply(hex("06" NONCE ADDR4)).has_value());
  CHECK_FALSE(wire::decode_rendezvous_message(hex("20" CID "00aa")).has_value());
  CHECK_FALSE(wire::decode_unknown(hex("05" INSTANCE)).has_value());
  CHECK_FALSE(wire::decode_accept(hex("0b" INSTANCE TOKEN CID)).has_value());
  CHECK_FALSE(wire::decode_rendezvous_message({}).has_value());
}

TEST_CASE("HELLO: version, size and padding are checked") {
  const std::string pad(54 * 2, '0');
  CHECK(wire::decode_hello(hex("0101" NONCE + pad)).has_value());
  CHECK(wire::decode_hello(hex("0101" NONCE + pad + "0000")).has_value());
  CHECK_FALSE(wire::decode_hello(hex("0102" NONCE + pad)).has_value());
  CHECK_FALSE(wire::decode_hello(hex("0101" NONCE + pad.substr(2))).has_value());
  CHECK_FALSE(wire::decode_hello(hex("0101" NONCE "01" + pad.substr(2))).has_value());
  CHECK_FALSE(wire::decode_hello(hex("0101" NONCE + pad.substr(2) + "80")).has_value());
}

TEST_CASE("PROBE: version, size and padding are checked; the reply never outgrows it") {
  const std::string pad(54 * 2, '0');
  CHECK(wire::decode_address_probe(hex("0e01" NONCE + pad)) == wire::AddressProbe{kNonce});
  CHECK(wire::decode_address_probe(hex("0e01" NONCE + pad + "0000")).has_value());
  CHECK_FALSE(wire::decode_address_probe(hex("0e02" NONCE + pad)).has_value());
  // 63 bytes: too small to pay for a reply, whatever it holds.
  CHECK_FALSE(wire::decode_address_probe(hex("0e01" NONCE + pad.substr(2))).has_value());
  CHECK_FALSE(wire::decode_address_probe(hex("0e01" NONCE "01" + pad.substr(2))).has_value());
  CHECK_FALSE(wire::decode_address_probe(hex("0e01" NONCE + pad.substr(2) + "80")).has_value());
  util::Bytes probe, reply;
  wire::encode(wire::AddressProbe{kNonce}, probe);
  wire::encode(wire::AddressProbeReply{kNonce, addr6()}, reply);
  CHECK(probe.size() == wire::kAddressProbeSize);
  CHECK(reply.size() == wire::kMaxAddressProbeReplySize);
  CHECK(reply.size() < probe.size());
}

TEST_CASE("PROBE_REPLY: the address family is checked") {
  CHECK_FALSE(wire::decode_address_probe_reply(hex("0f" NONCE "05c00002011234")).has_value());
  CHECK_FALSE(wire::decode_address_probe_reply(hex("0f" NONCE "00")).has_value());
  CHECK_FALSE(wire::decode_address_probe_reply(hex("0f" NONCE)).has_value());
}

TEST_CASE("REGISTERED: the probe address count, families and ports are checked") {
  const std::string head = "04" INSTANCE TOKEN "000f";
  std::string five;
  for (int i = 0; i < 5; ++i) five += "04c00002031e62";
  const auto decoded = wire::decode_registered(hex(head + "05" + five + ADDR4));
  REQUIRE(decoded.has_value());
  CHECK(decoded->probe_addresses.size() == wire::kMaxProbeAddresses);
  // One more than the limit is refused before it is read, even when the bytes are there.
  CHECK_FALSE(wire::decode_registered(hex(head + "06" + five + "04c00002031e62" ADDR4)).has_value());
  CHECK_FALSE(wire::decode_registered(hex(head + "ff" + five + ADDR4)).has_value());
  // A count larger than the addresses that follow: the reflexive address is read as a
  // probe address and nothing is left for the reflexive one.
  CHECK_FALSE(wire::decode_registered(hex(head + "02" "04c00002031e62" ADDR4)).has_value());
  // Port 0 cannot be probed; family 5 does not exist.
  CHECK_FALSE(wire::decode_registered(hex(head + "01" "04c00002030000" ADDR4)).has_value());
  CHECK_FALSE(wire::decode_registered(hex(head + "01" "05c00002031e62" ADDR4)).has_value());
}

TEST_CASE("PROBE_LIST_REQUEST: version, size and padding; the largest PROBE_LIST is smaller") {
  const std::string pad(118 * 2, '0');
  CHECK(wire::decode_probe_address_list_request(hex("1001" NONCE + pad)) ==
        wire::ProbeAddressListRequest{kNonce});
  CHECK(wire::decode_probe_address_list_request(hex("1001" NONCE + pad + "00")).has_value());
  CHECK_FALSE(wire::decode_probe_address_list_request(hex("1002" NONCE + pad)).has_value());
  // 127 bytes: too small to pay for the largest answer.
  CHECK_FALSE(wire::decode_probe_address_list_request(hex("1001" NONCE + pad.substr(2))).has_value());
  CHECK_FALSE(wire::decode_probe_address_list_request(hex("1001" NONCE "01" + pad.substr(2))).has_value());
  util::Bytes request, largest;
  wire::encode(wire::ProbeAddressListRequest{kNonce}, request);
  wire::encode(wire::ProbeAddressList{kNonce, std::vector<util::Address>(wire::kMaxProbeAddresses,
                                                                  addr6())},
               largest);
  CHECK(request.size() == wire::kProbeAddressListRequestSize);
  CHECK(largest.size() == wire::kMaxProbeAddressListSize);
  CHECK(largest.size() < request.size());
}

TEST_CASE("PROBE_LIST: the count, families and ports are checked") {
  std::string five;
  for (int i = 0; i < 5; ++i) five += "04c00002031e62";
  CHECK(wire::decode_probe_address_list(hex("11" NONCE "05" + five))->probe_addresses.size() == 5);
  CHECK_FALSE(wire::decode_probe_address_list(hex("11" NONCE "06" + five + "04c00002031e62")).has_value());
  CHECK_FALSE(wire::decode_probe_address_list(hex("11" NONCE "02" "04c00002031e62")).has_value());
  CHECK_FALSE(wire::decode_probe_address_list(hex("11" NONCE "01" "04c00002030000")).has_value());
  CHECK_FALSE(wire::decode_probe_address_list(hex("11" NONCE "01" "07c00002031e62")).has_value());
}

TEST_CASE("reason_len is checked against the data, the limit and UTF-8") {
  // One more than present, one fewer than present.
  CHECK_FALSE(wire::decode_refuse(hex("0b" INSTANCE TOKEN CID "05" "62757379")).has_value());
  CHECK_FALSE(wire::decode_refuse(hex("0b" INSTANCE TOKEN CID "03" "62757379")).has_value());
  CHECK_FALSE(wire::decode_connect_fail(hex("0d" CID "02" "05" "62757379")).has_value());
  CHECK_FALSE(wire::decode_connect_fail(hex("0d" CID "02" "03" "62757379")).has_value());
  // Empty reasons are fine.
  CHECK(wire::decode_connect_fail(hex("0d" CID "01" "00")).has_value());
  // 200 bytes is the limit; 201 is rejected even when all bytes are present.
  const std::string r200(200 * 2, '6'), r201(201 * 2, '6');
  CHECK(wire::decode_refuse(hex("0b" INSTANCE TOKEN CID "c8" + r200)).has_value());
  CHECK_FALSE(wire::decode_refuse(hex("0b" INSTANCE TOKEN CID "c9" + r201)).has_value());
  CHECK_FALSE(wire::decode_connect_fail(hex("0d" CID "02" "c9" + r201)).has_value());
  // Not UTF-8: a lone continuation byte, an overlong '/', a surrogate.
  CHECK_FALSE(wire::decode_connect_fail(hex("0d" CID "02" "01" "80")).has_value());
  CHECK_FALSE(wire::decode_connect_fail(hex("0d" CID "02" "02" "c0af")).has_value());
  CHECK_FALSE(wire::decode_refuse(hex("0b" INSTANCE TOKEN CID "03" "eda080")).has_value());
  const auto ok = wire::decode_connect_fail(hex("0d" CID "02" "02" "c3a9"));
  REQUIRE(ok.has_value());
  CHECK(ok->reason == "\xc3\xa9");
}

TEST_CASE("address family is checked") {
  CHECK_FALSE(wire::decode_keepalive_ack(hex("06" "05c00002011234")).has_value());
  CHECK_FALSE(wire::decode_keepalive_ack(hex("06" "00c00002011234")).has_value());
  // Family 6 with only an IPv4's worth of bytes.
  CHECK_FALSE(wire::decode_keepalive_ack(hex("06" "06c00002011234")).has_value());
  // Family 4 followed by an IPv6's worth of bytes leaves trailing garbage.
  CHECK_FALSE(
      wire::decode_keepalive_ack(hex("06" "0420010db800000000000000000000000101bb")).has_value());
  CHECK_FALSE(wire::decode_invite(hex("09" CID NODE_ID "07c00002011234")).has_value());
  CHECK_FALSE(wire::decode_registered(hex("04" INSTANCE TOKEN "000f" "1e62" "08c00002011234"))
                  .has_value());
}

TEST_CASE("REGISTER length fields are checked") {
  const std::string head = "03" NONCE COOKIE INSTANCE "01";
  CHECK(wire::decode_register(hex(head + "0000" "0000")).has_value());
  CHECK_FALSE(wire::decode_register(hex(head + "0004aabbcc" "0002dddd")).has_value());
  CHECK_FALSE(wire::decode_register(hex(head + "0003aabbcc" "0003dddd")).has_value());
  CHECK_FALSE(wire::decode_register(hex(head + "0003aabbcc" "0001dddd")).has_value());
  CHECK_FALSE(wire::decode_register(hex(head + "ffff")).has_value());
}

TEST_CASE("the REGISTER signature covers context, nonce, cookie, instance and flags") {
  util::Bytes out;
  wire::append_register_signed_data(kNonce, kCookie, kInstance, 1, out);
  CHECK(util::to_hex(out) ==
        "70756e63682d72656769737465722d7631" NONCE COOKIE INSTANCE "01");
}

TEST_CASE("reasons are cut to 200 bytes on a character boundary") {
  CHECK(wire::truncate_reason("short") == "short");
  CHECK(wire::truncate_reason(std::string(250, 'x')).size() == 200);
  // 199 ASCII bytes then a 2-byte character straddling the limit: cut before it.
  const std::string straddle = std::string(199, 'x') + "\xc3\xa9" + "tail";
  CHECK(wire::truncate_reason(straddle) == std::string(199, 'x'));
  CHECK(wire::is_valid_utf8(wire::truncate_reason(straddle)));

  wire::ConnectFail long_reason{kCid, 2, std::string(300, 'y')};
  util::Bytes out;
  wire::encode(long_reason, out);
  const auto back = wire::decode_connect_fail(out);
  REQUIRE(back.has_value());
  CHECK(back->reason == std::string(200, 'y'));
}

TEST_CASE("UTF-8 validation") {
  CHECK(wire::is_valid_utf8(""));
  CHECK(wire::is_valid_utf8("plain"));
  CHECK(wire::is_valid_utf8("\xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK_FALSE(wire::is_valid_utf8("\xe2\x82"));
  CHECK_FALSE(wire::is_valid_utf8("\xf4\x90\x80\x80"));  // Past U+10FFFF.
  CHECK_FALSE(wire::is_valid_utf8("\xe0\x80\x80"));      // Overlong NUL.
  CHECK_FALSE(wire::is_valid_utf8("\xff"));
}

// clang-format on

// The fixture macros end with this file (the test binary is a unity build).
#undef NONCE
#undef COOKIE
#undef TOKEN
#undef INSTANCE
#undef CID
#undef NODE_ID
#undef ADDR4
#undef ADDR6
#undef ANY4_7778
#undef ANY6_7778
