#include "util/bytes.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "test_hex.hpp"

namespace util = punch::util;

namespace {

using punch::testing::hex;

std::string encode_varint(std::uint64_t v) {
  util::Bytes out;
  util::ByteWriter w(out);
  w.varint(v);
  return util::to_hex(out);
}

struct VarintCase {
  std::uint64_t value;
  const char* hex;
};

// Every size boundary of RFC 9000, section 16: the largest value of each length
// and the smallest of the next, in the shortest form.
const VarintCase kBoundaries[] = {
    {0, "00"},
    {63, "3f"},
    {64, "4040"},
    {16383, "7fff"},
    {16384, "80004000"},
    {(std::uint64_t{1} << 30) - 1, "bfffffff"},
    {std::uint64_t{1} << 30, "c000000040000000"},
    {util::kVarintMax, "ffffffffffffffff"},
};

}  // namespace

TEST_CASE("ByteWriter and ByteReader round-trip fixed-width fields big-endian") {
  util::Bytes out{0xee};  // A writer appends; existing bytes stay in front.
  util::ByteWriter w(out);
  w.u8(0x01);
  w.u16(0x0203);
  w.u32(0x04050607);
  w.u64(0x08090a0b0c0d0e0f);
  const std::uint8_t raw[] = {0xaa, 0xbb};
  w.bytes(raw);
  w.zeros(3);
  CHECK(w.size() == 1 + 1 + 2 + 4 + 8 + 2 + 3);
  CHECK(util::to_hex(out) ==
        "ee"
        "01"
        "0203"
        "04050607"
        "08090a0b0c0d0e0f"
        "aabb"
        "000000");

  util::ByteReader r(out);
  CHECK(r.u8() == 0xee);
  CHECK(r.u8() == 0x01);
  CHECK(r.u16() == 0x0203);
  CHECK(r.u32() == 0x04050607);
  CHECK(r.u64() == 0x08090a0b0c0d0e0f);
  CHECK(r.position() == 16);
  const util::ByteView b = r.bytes(2);
  REQUIRE(b.size() == 2);
  CHECK(b[0] == 0xaa);
  CHECK(b[1] == 0xbb);
  CHECK(b.data() == out.data() + 16);  // A view into the input, not a copy.
  CHECK(r.remaining() == 3);
  CHECK_FALSE(r.done());
  CHECK(r.rest().size() == 3);
  CHECK(r.remaining() == 0);
  CHECK(r.done());
  CHECK(r.ok());
}

TEST_CASE("varint encodings are byte-exact and shortest at every size boundary") {
  for (const auto& c : kBoundaries) {
    CAPTURE(c.value);
    CHECK(encode_varint(c.value) == c.hex);
    CHECK(util::varint_size(c.value) == std::string(c.hex).size() / 2);
    const util::Bytes b = hex(c.hex);
    util::ByteReader r(b);
    CHECK(r.varint() == c.value);
    CHECK(r.done());
  }
}

TEST_CASE("varint decodes the RFC 9000 section 16 examples") {
  const VarintCase examples[] = {
      {151288809941952652u, "c2197c5eff14e88c"},
      {494878333, "9d7f3e7d"},
      {15293, "7bbd"},
      {37, "25"},
  };
  for (const auto& c : examples) {
    CAPTURE(c.hex);
    const util::Bytes b = hex(c.hex);
    util::ByteReader r(b);
    CHECK(r.varint() == c.value);
    CHECK(r.done());
    CHECK(encode_varint(c.value) == c.hex);  // Each example is also the shortest form.
  }
  // The RFC's non-minimal two-byte 37 must decode too (a reader accepts any length).
  const util::Bytes b = hex("4025");
  util::ByteReader r(b);
  CHECK(r.varint() == 37);
  CHECK(r.done());
}

TEST_CASE("a truncated varint fails the reader") {
  for (const char* h : {"", "40", "80ffff", "c0000000000000"}) {
    CAPTURE(h);
    const util::Bytes b = hex(h);
    util::ByteReader r(b);
    CHECK(r.varint() == 0);
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.done());
    CHECK(r.remaining() == 0);
  }
}

TEST_CASE("a read past the end fails, returns zero and leaves the reader failed") {
  const std::uint8_t raw[] = {1, 2, 3};
  util::ByteReader r(raw);
  CHECK(r.u16() == 0x0102);
  CHECK(r.u16() == 0);  // Only one byte left.
  CHECK_FALSE(r.ok());
  CHECK(r.remaining() == 0);
  CHECK_FALSE(r.done());
  CHECK(r.position() == 2);  // The failed read consumed nothing.
  // Reads that would fit the remaining byte still fail: failure is sticky.
  CHECK(r.u8() == 0);
  CHECK(r.bytes(0).empty());
  CHECK(r.rest().empty());
  CHECK_FALSE(r.ok());
  CHECK_FALSE(r.done());
}

TEST_CASE("each fixed-width read fails on input one byte short") {
  const util::Bytes seven(7, 0xff);
  SUBCASE("u8") {
    util::ByteReader r(util::ByteView(seven).first(0));
    CHECK(r.u8() == 0);
    CHECK_FALSE(r.ok());
  }
  SUBCASE("u16") {
    util::ByteReader r(util::ByteView(seven).first(1));
    CHECK(r.u16() == 0);
    CHECK_FALSE(r.ok());
  }
  SUBCASE("u32") {
    util::ByteReader r(util::ByteView(seven).first(3));
    CHECK(r.u32() == 0);
    CHECK_FALSE(r.ok());
  }
  SUBCASE("u64") {
    util::ByteReader r(seven);
    CHECK(r.u64() == 0);
    CHECK_FALSE(r.ok());
  }
  SUBCASE("bytes") {
    util::ByteReader r(seven);
    CHECK(r.bytes(8).empty());
    CHECK_FALSE(r.ok());
  }
}

TEST_CASE("fail() marks a reader failed for semantic errors") {
  const std::uint8_t raw[] = {1, 2};
  util::ByteReader r(raw);
  CHECK(r.u8() == 1);
  r.fail();
  CHECK_FALSE(r.ok());
  CHECK(r.remaining() == 0);
  CHECK(r.u8() == 0);
}

TEST_CASE("an empty reader is done at once") {
  util::ByteReader r(util::ByteView{});
  CHECK(r.ok());
  CHECK(r.done());
  CHECK(r.remaining() == 0);
  CHECK(r.rest().empty());
  CHECK(r.done());
}

TEST_CASE("as_bytes views a string's characters") {
  const std::string s = "AZ";
  const util::ByteView b = util::as_bytes(s);
  REQUIRE(b.size() == 2);
  CHECK(b[0] == 0x41);
  CHECK(b[1] == 0x5a);
  CHECK(static_cast<const void*>(b.data()) == static_cast<const void*>(s.data()));
}

TEST_CASE("to_hex and from_hex round-trip every byte value") {
  util::Bytes all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<std::uint8_t>(i));
  const std::string h = util::to_hex(all);
  CHECK(h.size() == 512);
  CHECK(h.substr(0, 8) == "00010203");
  CHECK(h.substr(504) == "fcfdfeff");
  bool ok = false;
  CHECK(util::from_hex(h, &ok) == all);
  CHECK(ok);
  CHECK(util::to_hex({}) == "");
}

TEST_CASE("from_hex accepts either case") {
  bool ok = false;
  CHECK(util::from_hex("aBcDeF09", &ok) == util::Bytes{0xab, 0xcd, 0xef, 0x09});
  CHECK(ok);
  ok = false;
  CHECK(util::from_hex("", &ok).empty());
  CHECK(ok);
}

TEST_CASE("from_hex rejects bad input with ok=false and an empty result") {
  for (const char* bad : {"0", "abc", "0g", "g0", "zz", "0x00", "12 34", "12-34", "ab\n"}) {
    CAPTURE(bad);
    bool ok = true;
    CHECK(util::from_hex(bad, &ok).empty());
    CHECK_FALSE(ok);
  }
  // A bad digit after good ones must not leave a partial result behind.
  bool ok = true;
  CHECK(util::from_hex("0102zz", &ok).empty());
  CHECK_FALSE(ok);
  // Without an ok pointer the result alone tells.
  CHECK(util::from_hex("0102zz").empty());
}
