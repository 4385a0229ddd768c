#include "wire/session_packet.hpp"

#include <doctest/doctest.h>

#include <string>

#include "unit/wire/fixture_helpers.hpp"
#include "wire/packet_type.hpp"

// Hex fixtures are written one wire field per string literal; clang-format would
// re-flow them and hide the field boundaries.
// clang-format off

namespace wire = punch::wire;
namespace util = punch::util;

namespace {

// Written by hand from the layout in session_packet.hpp, not produced by the
// encoder, so they check the encoder against the documented format.
constexpr std::uint64_t kPacketCid = 0x0102030405060708;
constexpr std::uint64_t kPn = 0x1112131415161718;
#define TYPE "20"
#define CID "0102030405060708"
#define KIND_HANDSHAKE "00"
#define KIND_PROTECTED "01"
#define PN "1112131415161718"

using wire::testing::hex;

// True if `inner` is exactly the bytes [offset, offset + size) of `outer`, as a view.
bool views(util::ByteView inner, const util::Bytes& outer, std::size_t offset, std::size_t size) {
  return inner.data() == outer.data() + offset && inner.size() == size;
}

}  // namespace

TEST_CASE("handshake packet encodes byte-exact") {
  const util::Bytes records = hex("16fefd00");
  util::Bytes out = hex("ee");  // Encoders append.
  wire::encode_handshake_packet(kPacketCid, records, out);
  CHECK(util::to_hex(out) == "ee" TYPE CID KIND_HANDSHAKE "16fefd00");
}

TEST_CASE("handshake packet decodes into its fields and views") {
  const util::Bytes d = hex(TYPE CID KIND_HANDSHAKE "16fefd00");
  const auto p = wire::decode_session_packet(d);
  REQUIRE(p);
  CHECK(p->connection_id == kPacketCid);
  CHECK(p->kind == wire::SessionKind::kHandshake);
  CHECK(p->packet_number == 0);
  CHECK(views(p->header, d, 0, wire::kSessionHeaderSize));
  CHECK(views(p->payload, d, 10, 4));
  CHECK(util::to_hex(p->payload) == "16fefd00");
}

TEST_CASE("protected header encodes byte-exact") {
  util::Bytes out;
  wire::encode_protected_header(kPacketCid, kPn, out);
  CHECK(out.size() == wire::kProtectedHeaderSize);
  CHECK(util::to_hex(out) == TYPE CID KIND_PROTECTED PN);
  wire::encode_protected_header(0, 0, out);
  CHECK(util::to_hex(out) ==
        TYPE CID KIND_PROTECTED PN
        TYPE "0000000000000000" KIND_PROTECTED "0000000000000000");
}

TEST_CASE("protected packet decodes into its fields and views") {
  const util::Bytes d = hex(TYPE CID KIND_PROTECTED PN "a0a1a2a3a4");
  const auto p = wire::decode_session_packet(d);
  REQUIRE(p);
  CHECK(p->connection_id == kPacketCid);
  CHECK(p->kind == wire::SessionKind::kProtected);
  CHECK(p->packet_number == kPn);
  CHECK(views(p->header, d, 0, wire::kProtectedHeaderSize));
  CHECK(views(p->payload, d, 18, 5));
}

TEST_CASE("a protected packet with nothing after the header decodes with an empty payload") {
  // The AEAD, not the codec, rejects a body too short for its tag.
  const util::Bytes d = hex(TYPE CID KIND_PROTECTED PN);
  const auto p = wire::decode_session_packet(d);
  REQUIRE(p);
  CHECK(p->packet_number == kPn);
  CHECK(p->payload.empty());
}

TEST_CASE("encode and decode round-trip extreme values") {
  for (std::uint64_t cid : {std::uint64_t{0}, ~std::uint64_t{0}}) {
    util::Bytes out;
    wire::encode_protected_header(cid, ~cid, out);
    const auto p = wire::decode_session_packet(out);
    REQUIRE(p);
    CHECK(p->connection_id == cid);
    CHECK(p->packet_number == ~cid);
    util::Bytes hs;
    const std::uint8_t one[] = {0};
    wire::encode_handshake_packet(cid, one, hs);
    const auto q = wire::decode_session_packet(hs);
    REQUIRE(q);
    CHECK(q->connection_id == cid);
    CHECK(q->payload.size() == 1);
  }
}

TEST_CASE("decode rejects other packet types") {
  for (const char* type : {"00", "01", "08", "1f", "21", "2f", "ff"}) {
    CAPTURE(type);
    const util::Bytes d = hex(std::string(type) + CID KIND_PROTECTED PN "a0");
    CHECK_FALSE(wire::decode_session_packet(d));
    CHECK_FALSE(wire::peek_connection_id(d));
  }
  CHECK_FALSE(wire::decode_session_packet({}));
}

TEST_CASE("decode rejects unknown kinds") {
  for (const char* kind : {"02", "10", "80", "ff"}) {
    CAPTURE(kind);
    const util::Bytes d = hex(TYPE CID + std::string(kind) + PN "a0");
    CHECK_FALSE(wire::decode_session_packet(d));
    // The relay's fast path does not look at the kind.
    CHECK(wire::peek_connection_id(d) == kPacketCid);
  }
}

TEST_CASE("decode rejects every truncated header") {
  const util::Bytes hs = hex(TYPE CID KIND_HANDSHAKE "16");
  for (std::size_t n = 0; n < hs.size(); ++n) {
    CAPTURE(n);
    // Shorter than 11 bytes is a truncated header or an empty handshake payload.
    CHECK_FALSE(wire::decode_session_packet(util::ByteView(hs).first(n)));
  }
  const util::Bytes prot = hex(TYPE CID KIND_PROTECTED PN);
  for (std::size_t n = 0; n < prot.size(); ++n) {
    CAPTURE(n);
    CHECK_FALSE(wire::decode_session_packet(util::ByteView(prot).first(n)));
  }
}

TEST_CASE("decode rejects a handshake packet without records") {
  const util::Bytes d = hex(TYPE CID KIND_HANDSHAKE);
  CHECK_FALSE(wire::decode_session_packet(d));
}

TEST_CASE("peek_connection_id reads the ID from nine bytes on") {
  const util::Bytes d = hex(TYPE CID);
  CHECK(wire::peek_connection_id(d) == kPacketCid);
  for (std::size_t n = 0; n < d.size(); ++n) {
    CAPTURE(n);
    CHECK_FALSE(wire::peek_connection_id(util::ByteView(d).first(n)));
  }
  const util::Bytes full = hex(TYPE CID KIND_PROTECTED PN "a0a1");
  CHECK(wire::peek_connection_id(full) == kPacketCid);
}

TEST_CASE("the session type byte is 0x20") {
  CHECK(static_cast<int>(wire::PacketType::kSession) == 0x20);
  CHECK(wire::kSessionHeaderSize == 10);
  CHECK(wire::kProtectedHeaderSize == 18);
}

// clang-format on

// The fixture macros end with this file (the test binary is a unity build).
#undef TYPE
#undef CID
#undef KIND_HANDSHAKE
#undef KIND_PROTECTED
#undef PN
