#include "crypto/packet_protection.hpp"

#include <doctest/doctest.h>

#include <string>

#include "crypto/random.hpp"
#include "test_hex.hpp"

using punch::crypto::DirectionKeys;
using punch::crypto::PacketProtection;
namespace util = punch::util;

namespace {

DirectionKeys random_keys(std::uint64_t seed) {
  punch::crypto::SeededRandom rng(seed);
  DirectionKeys k;
  rng.fill(k.key);
  rng.fill(k.iv);
  return k;
}

using punch::testing::hex;

}  // namespace

TEST_CASE("PacketProtection: RFC 8439 section 2.8.2 vector, nonce = IV xor packet number") {
  DirectionKeys k;
  const auto key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  std::copy(key.begin(), key.end(), k.key.begin());
  // The RFC's nonce is 07000000 4041424344454647; split it into IV and packet number
  // so the test pins the nonce construction too.
  const auto iv = hex("070000000000000000000000");
  std::copy(iv.begin(), iv.end(), k.iv.begin());
  const std::uint64_t pn = 0x4041424344454647ull;
  const auto aad = hex("50515253c0c1c2c3c4c5c6c7");
  const std::string plaintext =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.";
  const std::string expected =
      "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb"
      "69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad6"
      "75945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
      "1ae10b594f09e26a7e902ecbd0600691";

  PacketProtection sealer(k);
  util::Bytes out = {0xaa};  // seal appends after existing bytes
  sealer.seal(pn, aad, util::as_bytes(plaintext), out);
  CHECK(out.size() == 1 + plaintext.size() + PacketProtection::kTagSize);
  CHECK(out[0] == 0xaa);
  CHECK(util::to_hex(util::ByteView(out).subspan(1)) == expected);

  PacketProtection opener(k);
  util::Bytes clear = {0xbb};
  REQUIRE(opener.open(pn, aad, util::ByteView(out).subspan(1), clear));
  CHECK(std::string(clear.begin() + 1, clear.end()) == plaintext);
}

TEST_CASE("PacketProtection: seal/open round trip, including empty payloads") {
  const auto k = random_keys(1);
  PacketProtection a(k), b(k);
  const std::uint8_t aad[18] = {0x20, 1, 2, 3};
  for (std::uint64_t pn : {0ull, 1ull, 255ull, 1ull << 40, ~0ull}) {
    for (std::size_t len : {0u, 1u, 100u, 1400u}) {
      util::Bytes msg(len);
      for (std::size_t i = 0; i < len; ++i) msg[i] = static_cast<std::uint8_t>(i * 7 + pn);
      util::Bytes sealed;
      a.seal(pn, aad, msg, sealed);
      util::Bytes opened;
      REQUIRE(b.open(pn, aad, sealed, opened));
      CHECK(opened == msg);
    }
  }
}

TEST_CASE("PacketProtection: any tampering fails and appends nothing") {
  const auto k = random_keys(2);
  PacketProtection a(k), b(k);
  util::Bytes aad = {0x20, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 42};
  const auto msg = util::as_bytes("some transport frames");
  util::Bytes sealed;
  a.seal(1000, aad, msg, sealed);

  const util::Bytes prefix = {1, 2, 3};
  auto expect_reject = [&](std::uint64_t pn, util::ByteView ad, util::ByteView s) {
    util::Bytes out = prefix;
    CHECK_FALSE(b.open(pn, ad, s, out));
    CHECK(out == prefix);
  };

  expect_reject(1001, aad, sealed);  // wrong packet number
  expect_reject(1000 ^ (1ull << 63), aad, sealed);
  auto bad_aad = aad;
  bad_aad[17] ^= 1;
  expect_reject(1000, bad_aad, sealed);
  expect_reject(1000, util::ByteView(aad).first(17), sealed);
  for (std::size_t i = 0; i < sealed.size(); ++i) {  // every ciphertext and tag byte
    auto bad = sealed;
    bad[i] ^= 0x80;
    expect_reject(1000, aad, bad);
  }
  expect_reject(1000, aad, util::ByteView(sealed).first(sealed.size() - 1));
  expect_reject(1000, aad, util::ByteView(sealed).first(PacketProtection::kTagSize - 1));
  expect_reject(1000, aad, {});

  // Another key (the other direction's, say) cannot open it.
  PacketProtection other(random_keys(3));
  util::Bytes out;
  CHECK_FALSE(other.open(1000, aad, sealed, out));
  CHECK(out.empty());

  // The untouched packet still opens: failures left no state behind.
  util::Bytes good;
  CHECK(b.open(1000, aad, sealed, good));
  CHECK(good == util::Bytes(msg.begin(), msg.end()));
}

TEST_CASE("PacketProtection: distinct packet numbers give distinct ciphertexts") {
  PacketProtection a(random_keys(4));
  const auto msg = util::as_bytes("same plaintext");
  util::Bytes s1, s2;
  a.seal(1, {}, msg, s1);
  a.seal(2, {}, msg, s2);
  CHECK(s1 != s2);
}

TEST_CASE("PacketProtection: survives a move") {
  const auto k = random_keys(5);
  PacketProtection a(k);
  PacketProtection moved(std::move(a));
  util::Bytes s;
  moved.seal(7, {}, util::as_bytes("x"), s);
  PacketProtection b(k);
  util::Bytes out;
  CHECK(b.open(7, {}, s, out));
}
