// Fuzz target for the path frame decoder: no input may crash it; whatever decodes
// must re-encode to at most the input's size (only padding is dropped) and decode
// again to the same frames. Seeds are valid frames, so mutations get past the type.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "util/assert.hpp"
#include "wire/path_frame.hpp"

namespace wire = punch::wire;
namespace util = punch::util;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto frames = wire::decode_path_frames(util::ByteView(data, size));
  if (!frames) return 0;
  util::Bytes out;
  for (const wire::PathFrame& f : *frames) wire::encode_path_frame(f, out);
  PUNCH_ASSERT(out.size() <= size);
  const auto again = wire::decode_path_frames(out);
  PUNCH_ASSERT(again.ok() && *again == *frames);
  return 0;
}

extern "C" std::size_t punch_fuzz_seed(std::size_t index, std::uint8_t* out, std::size_t cap) {
  util::Bytes b;
  switch (index) {
    case 0:
      wire::encode_path_frame(wire::PathChallenge{{1, 2, 3, 4, 5, 6, 7, 8}}, b);
      break;
    case 1: {
      wire::PathCandidates c;
      c.sequence = 3;
      c.acknowledged = 1;
      c.mapping = wire::MappingCode::kEndpointDependent;
      c.candidates.push_back({wire::CandidateKind::kHost, util::Address::v4(10, 0, 0, 1, 4000)});
      c.candidates.push_back(
          {wire::CandidateKind::kReflexive, *util::Address::parse("[2001:db8::2]:9")});
      wire::encode_path_frame(c, b);
      wire::encode_path_frame(wire::PathResponse{{9, 9, 9, 9, 9, 9, 9, 9}}, b);
      wire::encode_path_frame(wire::PathRound{300, true, 256}, b);
      break;
    }
    default:
      return 0;
  }
  const std::size_t n = std::min(cap, b.size());
  std::copy_n(b.begin(), n, out);
  return n;
}
