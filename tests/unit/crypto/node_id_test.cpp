#include "crypto/node_id.hpp"

#include <doctest/doctest.h>

#include <unordered_set>

#include "crypto/random.hpp"
#include "unit/crypto/fixture_key.hpp"

using punch::crypto::NodeId;
using punch::crypto::NodeIdHash;

namespace {

using punch::crypto::testing::kFixtureId;
using punch::crypto::testing::kFixtureSpki;
constexpr char kFixtureRawHex[] = "402553c18a60a712fa33182ce14dbfe8";

}  // namespace

TEST_CASE("NodeId: byte-exact fixture from a fixed SPKI") {
  bool ok = false;
  const auto spki = punch::util::from_hex(kFixtureSpki, &ok);
  REQUIRE(ok);
  const NodeId id = NodeId::from_public_key(spki);
  CHECK(punch::util::to_hex(id.bytes()) == kFixtureRawHex);
  CHECK(id.to_string() == kFixtureId);
  CHECK(id.to_string().size() == 26);
}

TEST_CASE("NodeId: parse round-trips and is case-insensitive") {
  const auto id = NodeId::parse(kFixtureId);
  REQUIRE(id.has_value());
  CHECK(punch::util::to_hex(id->bytes()) == kFixtureRawHex);
  const auto upper = NodeId::parse("IASVHQMKMCTRF6RTDAWOCTN75A");
  REQUIRE(upper.has_value());
  CHECK(*upper == *id);

  punch::crypto::SeededRandom rng(9);
  for (int i = 0; i < 200; ++i) {
    std::uint8_t raw[NodeId::kSize];
    rng.fill(raw);
    const auto a = NodeId::from_bytes(raw);
    REQUIRE(a.has_value());
    const auto b = NodeId::parse(a->to_string());
    REQUIRE(b.has_value());
    CHECK(*a == *b);
  }
}

TEST_CASE("NodeId: parse rejects bad input") {
  CHECK_FALSE(NodeId::parse(""));
  CHECK_FALSE(NodeId::parse("iasvhqmkmctrf6rtdawoctn75"));    // 25 chars
  CHECK_FALSE(NodeId::parse("iasvhqmkmctrf6rtdawoctn75aa"));  // 27 chars
  CHECK_FALSE(NodeId::parse("iasvhqmkmctrf6rtdawoctn751"));   // '1' is not base32
  CHECK_FALSE(NodeId::parse("iasvhqmkmctrf6rtdawoctn70a"));   // '0' is not base32
  CHECK_FALSE(NodeId::parse("iasvhqmkmctrf6rtdawoctn75="));   // no padding
  CHECK_FALSE(NodeId::parse("iasvhqmkmctrf6rtdawoct 75a"));
  // Same 128 bits, but the 2 unused trailing bits set: a second spelling, refused.
  CHECK_FALSE(NodeId::parse("iasvhqmkmctrf6rtdawoctn75b"));
}

TEST_CASE("NodeId: from_bytes needs exactly 16 bytes") {
  const std::uint8_t raw[17] = {};
  CHECK_FALSE(NodeId::from_bytes({raw, 15}));
  CHECK_FALSE(NodeId::from_bytes({raw, 17}));
  CHECK(NodeId::from_bytes({raw, 16}).has_value());
  CHECK(NodeId::from_bytes({raw, 16})->to_string() == std::string(26, 'a'));
}

TEST_CASE("NodeId: usable as an unordered key") {
  std::unordered_set<NodeId, NodeIdHash> set;
  set.insert(*NodeId::parse(kFixtureId));
  set.insert(*NodeId::parse(kFixtureId));
  set.insert(NodeId{});
  CHECK(set.size() == 2);
}
