// Fuzz target for the SOCKS5 server state machine: arbitrary client bytes, fed
// whole and in pseudo-random chunks (including empty ones), never crash it; both
// feedings end in the same state with the same output, leftover and failure;
// what it writes before the final reply is bounded (method selection, RFC 1929
// status, one failure reply); and pipelined leftover is exactly the input's tail.
// The first input byte picks credentials, the reply the caller gives, and whether
// the client's password check first waits for a backoff (then both feedings end the
// same once the deadline passed, and the wait never lets more than a bounded input
// pile up).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "forward/socks_server.hpp"
#include "util/assert.hpp"

namespace forward = punch::forward;
namespace wire = punch::wire;
namespace util = punch::util;
using State = forward::SocksServer::State;

namespace {

// Longest output before reply(): selection (2) + RFC 1929 status (2) + an IPv4 reply (10).
constexpr std::size_t kMaxNegotiationOutput = 2 + 2 + 10;

struct Outcome {
  State state = State::kNegotiating;
  util::Bytes output;
  util::Bytes leftover;
  std::string failure;
};

Outcome feed(std::uint8_t flags, util::ByteView in, std::mt19937* chunker) {
  std::optional<std::pair<std::string, std::string>> creds;
  if (flags & 1) creds = std::make_pair(std::string("alice"), std::string("s3cret"));
  // Bit 7: the client failed a check just before, so its next one is deferred.
  const util::TimePoint t0 = util::TimePoint{} + std::chrono::hours(1);
  const util::Address client = util::Address::v4(127, 0, 0, 1, 1);
  forward::AuthBackoff backoff;
  if (flags & 0x80) backoff.on_failure(client, t0);
  forward::SocksServer s(creds, (flags & 0x80) ? &backoff : nullptr, client);
  Outcome o;
  std::size_t pos = 0;
  while (true) {
    const std::size_t left = in.size() - pos;
    const std::size_t n = chunker ? std::min<std::size_t>(left, (*chunker)() % 8) : left;
    s.on_data(in.subspan(pos, n), t0);
    pos += n;
    const util::Bytes out = s.take_output();
    o.output.insert(o.output.end(), out.begin(), out.end());
    const util::Bytes l = s.take_leftover();
    o.leftover.insert(o.leftover.end(), l.begin(), l.end());
    PUNCH_ASSERT(o.output.size() <= kMaxNegotiationOutput);
    if (pos == in.size()) break;
  }
  if (s.deadline() != util::kNever) {
    PUNCH_ASSERT(s.deadline() > t0);
    s.on_timeout(s.deadline());
    PUNCH_ASSERT(s.deadline() == util::kNever);
    const util::Bytes out = s.take_output();
    o.output.insert(o.output.end(), out.begin(), out.end());
    const util::Bytes l = s.take_leftover();
    o.leftover.insert(o.leftover.end(), l.begin(), l.end());
    PUNCH_ASSERT(o.output.size() <= kMaxNegotiationOutput);
  }
  o.state = s.state();
  o.failure = s.failure();
  PUNCH_ASSERT(o.leftover.size() <= in.size());
  if (o.state == State::kRequestReady) {
    // The leftover is what followed the request, byte for byte.
    PUNCH_ASSERT(
        std::equal(o.leftover.begin(), o.leftover.end(),
                   in.begin() + static_cast<std::ptrdiff_t>(in.size() - o.leftover.size())));
    PUNCH_ASSERT(s.request().command == wire::SocksCommand::kConnect);
    const auto code = static_cast<wire::SocksReplyCode>((flags >> 1) % 9);
    s.reply(code, (flags & 0x40) ? *util::Address::parse("[::1]:1") : util::Address{});
    PUNCH_ASSERT((s.state() == State::kEstablished) == (code == wire::SocksReplyCode::kSucceeded));
    PUNCH_ASSERT(s.take_output().size() <= 22);  // an IPv6 reply is the largest
    s.on_data(in);
    PUNCH_ASSERT(s.take_output().empty());
  } else {
    PUNCH_ASSERT(o.leftover.empty());
    PUNCH_ASSERT((o.state == State::kClosing) == !o.failure.empty());
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const util::ByteView in(data + 1, size - 1);
  const Outcome whole = feed(flags, in, nullptr);
  std::mt19937 chunker(static_cast<std::uint32_t>(size * 2654435761u));
  const Outcome chunked = feed(flags, in, &chunker);
  PUNCH_ASSERT(whole.state == chunked.state && whole.output == chunked.output &&
               whole.leftover == chunked.leftover && whole.failure == chunked.failure);
  return 0;
}

// Whole client conversations (flags byte first), for the driver to mutate.
extern "C" std::size_t punch_fuzz_seed(std::size_t index, std::uint8_t* out, std::size_t cap) {
  using wire::SocksAddressType;
  using wire::SocksCommand;
  using wire::SocksMethod;
  util::Bytes b;
  const wire::SocksRequest name{SocksCommand::kConnect, SocksAddressType::kDomain, "example.com",
                                443};
  const wire::SocksRequest v6{SocksCommand::kConnect, SocksAddressType::kIpv6, "2001:db8::1", 22};
  switch (index) {
    case 0:
      b.push_back(0x00);
      wire::encode(wire::SocksGreeting{{SocksMethod::kNoAuth}}, b);
      wire::encode(name, b);
      break;
    case 1:
      b.push_back(0x01);
      wire::encode(wire::SocksGreeting{{SocksMethod::kNoAuth, SocksMethod::kUserPass}}, b);
      wire::encode(wire::SocksUserPassRequest{"alice", "s3cret"}, b);
      wire::encode(v6, b);
      b.insert(b.end(), {'G', 'E', 'T', ' ', '/'});
      break;
    case 2:
      b.push_back(0x0b);
      wire::encode(wire::SocksGreeting{{SocksMethod::kNoAuth}}, b);
      wire::encode(
          wire::SocksRequest{SocksCommand::kBind, SocksAddressType::kIpv4, "192.0.2.1", 80}, b);
      break;
    case 3:
      b.push_back(0x41);
      wire::encode(wire::SocksGreeting{{SocksMethod::kUserPass}}, b);
      wire::encode(wire::SocksUserPassRequest{"alice", "wrong"}, b);
      wire::encode(name, b);
      break;
    case 4:
      b.push_back(0x81);  // a deferred check, then the right password
      wire::encode(wire::SocksGreeting{{SocksMethod::kUserPass}}, b);
      wire::encode(wire::SocksUserPassRequest{"alice", "s3cret"}, b);
      wire::encode(name, b);
      break;
    default:
      return 0;
  }
  if (b.size() > cap) return 0;
  std::memcpy(out, b.data(), b.size());
  return b.size();
}
