// Fuzz target for the session packet decoder: no input may crash it, the views it
// returns lie inside the datagram, the relay's fast path agrees with it, and a
// decoded packet re-encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "util/assert.hpp"
#include "wire/session_packet.hpp"

namespace wire = punch::wire;
namespace util = punch::util;

namespace {

bool inside(util::ByteView part, util::ByteView whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const util::ByteView in(data, size);
  const auto peeked = wire::peek_connection_id(in);
  const auto p = wire::decode_session_packet(in);
  if (!p) return 0;
  PUNCH_ASSERT(peeked && *peeked == p->connection_id);
  PUNCH_ASSERT(inside(p->header, in) && inside(p->payload, in));
  PUNCH_ASSERT(p->header.size() + p->payload.size() == size);
  util::Bytes out;
  if (p->kind == wire::SessionKind::kHandshake) {
    wire::encode_handshake_packet(p->connection_id, p->payload, out);
  } else {
    wire::encode_protected_header(p->connection_id, p->packet_number, out);
    out.insert(out.end(), p->payload.begin(), p->payload.end());
  }
  PUNCH_ASSERT(out.size() == size && std::memcmp(out.data(), data, size) == 0);
  return 0;
}

// A handshake packet and a protected one, for the driver to mutate.
extern "C" std::size_t punch_fuzz_seed(std::size_t index, std::uint8_t* out, std::size_t cap) {
  util::Bytes b;
  if (index == 0) {
    const std::uint8_t records[] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1};
    wire::encode_handshake_packet(0x0102030405060708, records, b);
  } else if (index == 1) {
    wire::encode_protected_header(0x0102030405060708, 42, b);
    b.insert(b.end(), 32, 0xee);
  } else {
    return 0;
  }
  if (b.size() > cap) return 0;
  std::memcpy(out, b.data(), b.size());
  return b.size();
}
