// Fuzz target for address probes: the PROBE and PROBE_REPLY decoders, and the
// rendezvous server answering arbitrary datagrams on its probe port and its main
// port. Nothing may crash; the probe port answers nothing but a valid PROBE; no
// answer to a datagram is ever larger than it (ARCHITECTURE.md decision 8), and
// every answer echoes the nonce and names the sender.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "crypto/random.hpp"
#include "rendezvous/server.hpp"
#include "util/assert.hpp"
#include "util/datagram_sink.hpp"
#include "wire/rendezvous_message.hpp"

namespace wire = punch::wire;
namespace util = punch::util;
namespace crypto = punch::crypto;
using namespace std::chrono_literals;

namespace {

struct Sink final : util::DatagramSink {
  void send(const util::Address& to, util::ByteView data) override {
    sent.push_back({to, util::Bytes(data.begin(), data.end())});
  }
  std::vector<std::pair<util::Address, util::Bytes>> sent;
};

const util::Address kFrom = util::Address::v4(203, 0, 113, 5, 40000);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const util::ByteView in(data, size);
  if (const auto p = wire::decode_address_probe(in)) {
    PUNCH_ASSERT(size >= wire::kAddressProbeSize);
    util::Bytes out;
    wire::encode(*p, out);
    PUNCH_ASSERT(std::memcmp(out.data(), data, out.size()) == 0);
  }
  if (const auto r = wire::decode_address_probe_reply(in)) {
    util::Bytes out;
    wire::encode(*r, out);
    PUNCH_ASSERT(out.size() == size && std::memcmp(out.data(), data, size) == 0);
  }

  // A fresh server per input, with the time moved on so the rate limit never
  // hides an answer the input deserved.
  static crypto::SeededRandom rng(1);
  static Sink main;
  static Sink probe_port;
  static util::TimePoint now = util::TimePoint{} + std::chrono::hours(1);
  static punch::rendezvous::Server server(rng, main, nullptr, now);
  now += 1s;
  main.sent.clear();
  probe_port.sent.clear();
  server.on_probe_socket_datagram(kFrom, in, probe_port, now);
  PUNCH_ASSERT(main.sent.empty());
  PUNCH_ASSERT(probe_port.sent.size() <= 1);
  const auto probe = wire::decode_address_probe(in);
  PUNCH_ASSERT(probe_port.sent.size() == (probe ? 1u : 0u));
  for (const auto& [to, bytes] : probe_port.sent) {
    PUNCH_ASSERT(to == kFrom && bytes.size() <= size);
    const auto reply = wire::decode_address_probe_reply(bytes);
    PUNCH_ASSERT(reply && reply->nonce == probe->nonce && reply->observed == kFrom);
  }
  // The main port: whatever it answers an unregistered sender is no larger either.
  server.on_datagram(kFrom, in, now);
  PUNCH_ASSERT(probe_port.sent.size() <= 1);
  for (const auto& sent : main.sent) PUNCH_ASSERT(sent.second.size() <= size);
  return 0;
}

extern "C" std::size_t punch_fuzz_seed(std::size_t index, std::uint8_t* out, std::size_t cap) {
  util::Bytes b;
  switch (index) {
    case 0:
      wire::encode(wire::AddressProbe{{1, 2, 3, 4, 5, 6, 7, 8}}, b);
      break;
    case 1:
      wire::encode(wire::AddressProbeReply{{1, 2, 3, 4, 5, 6, 7, 8}, kFrom}, b);
      break;
    case 2:
      wire::encode(wire::AddressProbeReply{{8}, *util::Address::parse("[2001:db8::1]:9")}, b);
      break;
    case 3:
      wire::encode(wire::Hello{{1}}, b);
      break;
    default:
      return 0;
  }
  if (b.size() > cap) return 0;
  std::memcpy(out, b.data(), b.size());
  return b.size();
}
