#include "wire/path_frame.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "unit/wire/fixture_helpers.hpp"

// Hex fixtures are written one wire field per string literal.
// clang-format off

namespace wire = punch::wire;
namespace util = punch::util;
using wire::testing::hex;

namespace {

// Written by hand from the layout in wire/path_frame.hpp and docs/protocol.md.
// Functions, not globals: hex() checks its input with doctest, which needs a running test.
util::Bytes challenge_bytes() { return hex("01" "0102030405060708"); }
util::Bytes response_bytes() { return hex("02" "a1a2a3a4a5a6a7a8"); }
util::Bytes round_bytes() { return hex("04" "4102" "01" "4100"); }  // round 258, an answer, 256 sockets
util::Bytes candidates_bytes() { return hex("03" "05" "02" "03" "02"  // endpoint-dependent, 2 addresses
                                    "00" "04" "c0000207" "1f40"                               // host 192.0.2.7:8000
                                    "01" "06" "20010db8000000000000000000000001" "0050"); }  // reflexive [2001:db8::1]:80

wire::PathCandidates candidates_fixture() {
  wire::PathCandidates f;
  f.sequence = 5;
  f.acknowledged = 2;
  f.mapping = wire::MappingCode::kEndpointDependent;
  f.candidates.push_back({wire::CandidateKind::kHost, *util::Address::parse("192.0.2.7:8000")});
  f.candidates.push_back(
      {wire::CandidateKind::kReflexive, *util::Address::parse("[2001:db8::1]:80")});
  return f;
}

}  // namespace

TEST_CASE("path frames encode to the documented bytes") {
  const util::Bytes kChallenge = challenge_bytes();
  const util::Bytes kResponse = response_bytes();
  const util::Bytes kCandidates = candidates_bytes();
  util::Bytes out;
  wire::encode_path_frame(wire::PathChallenge{{1, 2, 3, 4, 5, 6, 7, 8}}, out);
  CHECK(out == kChallenge);
  out.clear();
  wire::encode_path_frame(
      wire::PathResponse{{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8}}, out);
  CHECK(out == kResponse);
  out.clear();
  wire::encode_path_frame(candidates_fixture(), out);
  CHECK(out == kCandidates);
  out.clear();
  wire::encode_path_frame(wire::PathRound{258, true, 256}, out);
  CHECK(out == round_bytes());
  const auto round = wire::decode_path_frames(round_bytes());
  REQUIRE(round.ok());
  CHECK(std::get<wire::PathRound>(round->at(0)) == wire::PathRound{258, true, 256});
  CHECK(std::get<wire::PathRound>(wire::decode_path_frames(hex("04" "07" "00" "00"))->at(0)) ==
        wire::PathRound{7, false, 0});
}

TEST_CASE("path frames decode in order, with padding skipped") {
  const util::Bytes kChallenge = challenge_bytes();
  const util::Bytes kResponse = response_bytes();
  const util::Bytes kCandidates = candidates_bytes();
  util::Bytes packet = hex("0000");
  packet.insert(packet.end(), kCandidates.begin(), kCandidates.end());
  packet.push_back(0);
  packet.insert(packet.end(), kChallenge.begin(), kChallenge.end());
  packet.insert(packet.end(), kResponse.begin(), kResponse.end());
  const auto frames = wire::decode_path_frames(packet);
  REQUIRE(frames.ok());
  REQUIRE(frames->size() == 3);
  CHECK(std::get<wire::PathCandidates>((*frames)[0]) == candidates_fixture());
  CHECK(std::get<wire::PathChallenge>((*frames)[1]).token == wire::PathToken{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(std::get<wire::PathResponse>((*frames)[2]).token[7] == 0xa8);
  CHECK(wire::decode_path_frames(hex("000000"))->empty());
}

TEST_CASE("every truncation of a path frame is an error, never a crash") {
  const util::Bytes kChallenge = challenge_bytes();
  const util::Bytes kResponse = response_bytes();
  const util::Bytes kCandidates = candidates_bytes();
  const util::Bytes kRound = round_bytes();
  for (const util::Bytes* frame : {&kChallenge, &kResponse, &kCandidates, &kRound}) {
    for (std::size_t n = 1; n < frame->size(); ++n) {
      const util::ByteView prefix(frame->data(), n);
      CHECK_FALSE(wire::decode_path_frames(prefix).ok());
    }
  }
}

TEST_CASE("path frames with bad contents are refused") {
  CHECK_FALSE(wire::decode_path_frames(hex("05")).ok());                                // unknown type
  CHECK_FALSE(wire::decode_path_frames(hex("04" "01" "02" "00")).ok());                 // answer flag 2
  CHECK_FALSE(wire::decode_path_frames(hex("04" "01" "01")).ok());                      // no socket count
  CHECK_FALSE(wire::decode_path_frames(hex("03" "01" "00" "00" "01" "03" "04" "c0000207" "1f40")).ok());  // kind 3
  CHECK_FALSE(wire::decode_path_frames(hex("03" "01" "00" "00" "01" "00" "05" "c0000207" "1f40")).ok());  // family 5
  CHECK_FALSE(wire::decode_path_frames(hex("03" "01" "00" "05" "00")).ok());                 // mapping 5
  const auto pool = wire::decode_path_frames(hex("03" "01" "00" "04" "00"));               // address-varies, empty
  REQUIRE(pool.ok());
  CHECK(std::get<wire::PathCandidates>(pool->at(0)).mapping == wire::MappingCode::kAddressVaries);
  util::Bytes many = hex("03" "01" "00" "00" "11");  // 17 candidates, one more than allowed
  for (int i = 0; i < 17; ++i) {
    const util::Bytes one = hex("00" "04" "c0000207" "1f40");
    many.insert(many.end(), one.begin(), one.end());
  }
  CHECK_FALSE(wire::decode_path_frames(many).ok());
  util::Bytes sixteen = hex("03" "01" "00" "00" "10");
  for (int i = 0; i < 16; ++i) {
    const util::Bytes one = hex("00" "04" "c0000207" "1f40");
    sixteen.insert(sixteen.end(), one.begin(), one.end());
  }
  CHECK(wire::decode_path_frames(sixteen).ok());
}
// clang-format on
