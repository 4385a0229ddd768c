// Fuzz target for the SOCKS5 decoders: no input may crash them; a complete
// message must re-encode to exactly the bytes it consumed, decode the same from
// just those bytes, and be "need more" one byte earlier; a prefix of input that
// needs more must never be judged complete or malformed. Each decoder also sees
// the input behind a version byte or a request header, so random data gets past them.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "util/assert.hpp"
#include "wire/socks5.hpp"

namespace wire = punch::wire;
namespace util = punch::util;

namespace {

template <typename Decode>
void check(util::ByteView in, Decode decode) {
  const auto d = decode(in);
  switch (d.status) {
    case wire::SocksDecodeStatus::kComplete: {
      PUNCH_ASSERT(d.consumed > 0 && d.consumed <= in.size());
      PUNCH_ASSERT(!d.reply.has_value());
      util::Bytes out;
      wire::encode(d.message, out);
      PUNCH_ASSERT(out.size() == d.consumed);
      PUNCH_ASSERT(std::memcmp(out.data(), in.data(), out.size()) == 0);
      const auto exact = decode(in.first(d.consumed));
      PUNCH_ASSERT(exact.complete() && exact.consumed == d.consumed && exact.message == d.message);
      PUNCH_ASSERT(decode(in.first(d.consumed - 1)).need_more());
      break;
    }
    case wire::SocksDecodeStatus::kNeedMore:
      PUNCH_ASSERT(d.consumed == 0 && !d.reply.has_value());
      // Every prefix of a prefix is a prefix too.
      if (!in.empty()) PUNCH_ASSERT(decode(in.first(in.size() / 2)).need_more());
      break;
    case wire::SocksDecodeStatus::kMalformed:
      PUNCH_ASSERT(d.consumed == 0 && !in.empty());
      break;
  }
}

void check_all(util::ByteView in) {
  check(in, wire::decode_socks_greeting);
  check(in, wire::decode_socks_userpass_request);
  const auto r = wire::decode_socks_request(in);
  check(in, wire::decode_socks_request);
  // Only requests carry a reply code for faults, and never for a wrong version.
  if (r.malformed() && in[0] != wire::kSocksVersion) PUNCH_ASSERT(!r.reply.has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const util::ByteView in(data, size);
  check_all(in);
  // Random bytes rarely start with a valid header, so also try the input behind a
  // version byte and behind a request header that reaches each address branch.
  static const std::vector<std::vector<std::uint8_t>> kHeads = {{wire::kSocksVersion},
                                                                {wire::kSocksUserPassVersion},
                                                                {0x05, 0x01, 0x00, 0x03},
                                                                {0x05, 0x02, 0x00, 0x01},
                                                                {0x05, 0x03, 0x00, 0x04}};
  for (const auto& head : kHeads) {
    std::vector<std::uint8_t> joined(head);
    joined.insert(joined.end(), data, data + size);
    check_all(joined);
  }
  return 0;
}

// One valid client message of each kind and address type, for the driver to mutate.
extern "C" std::size_t punch_fuzz_seed(std::size_t index, std::uint8_t* out, std::size_t cap) {
  using wire::SocksAddressType;
  using wire::SocksCommand;
  using wire::SocksMethod;
  util::Bytes b;
  switch (index) {
    case 0:
      wire::encode(wire::SocksGreeting{{SocksMethod::kNoAuth}}, b);
      break;
    case 1:
      wire::encode(wire::SocksGreeting{{SocksMethod::kNoAuth, SocksMethod::kUserPass}}, b);
      break;
    case 2:
      wire::encode(wire::SocksUserPassRequest{"alice", "s3cret"}, b);
      break;
    case 3:
      wire::encode(
          wire::SocksRequest{SocksCommand::kConnect, SocksAddressType::kIpv4, "192.0.2.1", 80}, b);
      break;
    case 4:
      wire::encode(
          wire::SocksRequest{SocksCommand::kConnect, SocksAddressType::kDomain, "example.com", 443},
          b);
      break;
    case 5:
      wire::encode(
          wire::SocksRequest{SocksCommand::kBind, SocksAddressType::kIpv6, "2001:db8::1", 443}, b);
      break;
    case 6:
      wire::encode(
          wire::SocksRequest{SocksCommand::kUdpAssociate, SocksAddressType::kIpv4, "0.0.0.0", 0},
          b);
      break;
    default:
      return 0;
  }
  if (b.size() > cap) return 0;
  std::memcpy(out, b.data(), b.size());
  return b.size();
}
