// Fuzz target for the stream preamble decoders: no input may crash them; a
// complete message must re-encode to exactly the bytes it consumed, decode the
// same from just those bytes, and be "need more" one byte earlier; "need more"
// must never be the answer once kMaxPreambleSize bytes are there. The input is
// also tried behind a version byte and each kind, so random data gets past them.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "util/assert.hpp"
#include "wire/stream_preamble.hpp"

namespace wire = punch::wire;
namespace util = punch::util;

namespace {

template <typename Decode>
void check(util::ByteView in, Decode decode, std::size_t max_size) {
  const auto d = decode(in);
  switch (d.status) {
    case wire::PreambleDecodeStatus::kComplete: {
      PUNCH_ASSERT(d.consumed > 0 && d.consumed <= in.size() && d.consumed <= max_size);
      util::Bytes out;
      wire::encode(d.message, out);
      PUNCH_ASSERT(out.size() == d.consumed);
      PUNCH_ASSERT(std::memcmp(out.data(), in.data(), out.size()) == 0);
      const auto exact = decode(in.first(d.consumed));
      PUNCH_ASSERT(exact.complete() && exact.consumed == d.consumed && exact.message == d.message);
      PUNCH_ASSERT(decode(in.first(d.consumed - 1)).need_more());
      break;
    }
    case wire::PreambleDecodeStatus::kNeedMore:
      PUNCH_ASSERT(d.consumed == 0 && in.size() < max_size);
      if (!in.empty()) PUNCH_ASSERT(decode(in.first(in.size() / 2)).need_more());
      break;
    case wire::PreambleDecodeStatus::kMalformed:
      PUNCH_ASSERT(d.consumed == 0 && !in.empty());
      break;
  }
}

void check_all(util::ByteView in) {
  check(in, wire::decode_stream_request, wire::kMaxPreambleSize);
  check(in, wire::decode_stream_reply, wire::kMaxPreambleReplySize);
  const auto r = wire::decode_stream_request(in);
  if (r.complete()) PUNCH_ASSERT(wire::is_valid_stream_request(r.message));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const util::ByteView in(data, size);
  check_all(in);
  static const std::vector<std::vector<std::uint8_t>> kHeads = {
      {wire::kStreamPreambleVersion}, {1, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 0, 0, 0}};
  for (const auto& head : kHeads) {
    std::vector<std::uint8_t> joined(head);
    joined.insert(joined.end(), data, data + size);
    check_all(joined);
  }
  return 0;
}

// One valid message of each kind and a few replies, for the driver to mutate.
extern "C" std::size_t punch_fuzz_seed(std::size_t index, std::uint8_t* out, std::size_t cap) {
  using wire::StreamKind;
  using wire::StreamStatus;
  util::Bytes b;
  switch (index) {
    case 0:
      wire::encode(wire::StreamRequest{StreamKind::kStdio, "", 0, 0, ""}, b);
      break;
    case 1:
      wire::encode(wire::StreamRequest{StreamKind::kConnect, "example.com", 443, 0, ""}, b);
      break;
    case 2:
      wire::encode(wire::StreamRequest{StreamKind::kRemoteBind, "*", 8080, 300, ""}, b);
      break;
    case 3:
      wire::encode(
          wire::StreamRequest{StreamKind::kRemoteConnection, "", 0, 1u << 20, "[::1]:5555"}, b);
      break;
    case 4:
      wire::encode(wire::StreamReply{StreamStatus::kOk, 8080, ""}, b);
      break;
    case 5:
      wire::encode(wire::StreamReply{StreamStatus::kRefused, 0, "connection refused"}, b);
      break;
    default:
      return 0;
  }
  if (b.size() > cap) return 0;
  std::memcpy(out, b.data(), b.size());
  return b.size();
}
