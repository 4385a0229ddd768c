// Fuzz target for the rendezvous control decoders: no input may crash them, and
// whatever decodes must re-encode to the very same bytes (HELLO, PROBE,
// PROBE_LIST_REQUEST: to their first 64 or 128),
// so that decoder and encoder agree on one canonical form.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <variant>
#include <vector>

#include "util/assert.hpp"
#include "wire/rendezvous_message.hpp"

namespace wire = punch::wire;
namespace util = punch::util;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const util::ByteView in(data, size);
  const auto msg = wire::decode_rendezvous_message(in);
  if (!msg) return 0;
  util::Bytes out;
  wire::encode_rendezvous_message(*msg, out);
  if (std::holds_alternative<wire::Hello>(*msg)) {
    PUNCH_ASSERT(out.size() == wire::kHelloSize && size >= wire::kHelloSize);
    PUNCH_ASSERT(std::memcmp(out.data(), data, out.size()) == 0);
  } else if (std::holds_alternative<wire::AddressProbe>(*msg)) {
    PUNCH_ASSERT(out.size() == wire::kAddressProbeSize && size >= wire::kAddressProbeSize);
    PUNCH_ASSERT(std::memcmp(out.data(), data, out.size()) == 0);
  } else if (std::holds_alternative<wire::ProbeAddressListRequest>(*msg)) {
    PUNCH_ASSERT(out.size() == wire::kProbeAddressListRequestSize &&
                 size >= wire::kProbeAddressListRequestSize);
    PUNCH_ASSERT(std::memcmp(out.data(), data, out.size()) == 0);
  } else {
    PUNCH_ASSERT(out.size() == size && std::memcmp(out.data(), data, size) == 0);
  }
  return 0;
}

// One valid message of each type, for the driver to mutate.
extern "C" std::size_t punch_fuzz_seed(std::size_t index, std::uint8_t* out, std::size_t cap) {
  const wire::Token token{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  const std::uint8_t raw_id[16] = {0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const auto id = *punch::crypto::NodeId::from_bytes(raw_id);
  const auto v4 = util::Address::v4(192, 0, 2, 1, 4660);
  const auto v6 = *util::Address::parse("[2001:db8::1]:443");
  const std::vector<wire::RendezvousMessage> seeds = {
      wire::Hello{{1, 2, 3, 4, 5, 6, 7, 8}},
      wire::Challenge{{1, 2, 3, 4, 5, 6, 7, 8}, {0xa0, 0xa1, 0xa2}},
      wire::Register{{1}, {2}, 0x1122334455667788, 1, util::Bytes(91, 0x30), util::Bytes(70, 0x02)},
      wire::Registered{7, token, 15, {util::Address::v4(0, 0, 0, 0, 7778), v4}, v4},
      wire::Registered{7, token, 15, {}, v6},
      wire::Keepalive{7, token},
      wire::KeepaliveAck{v6},
      wire::Unknown{7},
      wire::Connect{7, token, 99, id},
      wire::Invite{99, id, v4},
      wire::Accept{7, token, 99},
      wire::Refuse{7, token, 99, "busy \xc3\xa9"},
      wire::ConnectOk{99, id, v6},
      wire::ConnectFail{99, 2, "busy"},
      wire::AddressProbe{{9, 8, 7, 6, 5, 4, 3, 2}},
      wire::AddressProbeReply{{9, 8, 7, 6, 5, 4, 3, 2}, v4},
      wire::AddressProbeReply{{9, 8, 7, 6, 5, 4, 3, 2}, v6},
      wire::ProbeAddressListRequest{{9, 8, 7, 6, 5, 4, 3, 2}},
      wire::ProbeAddressList{{9, 8, 7, 6, 5, 4, 3, 2},
                             {util::Address::v4(0, 0, 0, 0, 7778), v4, v6}},
  };
  if (index >= seeds.size()) return 0;
  util::Bytes b;
  wire::encode_rendezvous_message(seeds[index], b);
  if (b.size() > cap) return 0;
  std::memcpy(out, b.data(), b.size());
  return b.size();
}
