// Fuzz target for the transport's frame decoder and for a Connection fed hostile
// packets. Input: one flags byte (bit 0: the Connection is the server; bit 1: it runs
// NewReno instead of BBR, so both controllers meet hostile ACKs), then
// packets as [u16 length][payload], the last one taking whatever is left.
// Any crash, sanitizer report or broken invariant (encoder not idempotent,
// a packet over max_payload) is a bug; malformed input must only close the
// connection with a "protocol violation" reason.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "transport/connection.hpp"
#include "transport/frame.hpp"

namespace {

using namespace punch;
using namespace punch::transport;

constexpr std::size_t kMaxPayload = 1166;
const util::TimePoint kT0 = util::TimePoint{} + std::chrono::hours(1);

void check(bool ok) {
  if (!ok) std::abort();
}

// Every decodable frame must re-encode to bytes that decode and re-encode identically.
void fuzz_decoder(util::ByteView payload) {
  util::ByteReader r(payload);
  while (r.remaining() > 0) {
    auto f = decode_frame(r);
    if (!f) return;
    util::Bytes once;
    util::ByteWriter w1(once);
    encode_frame(w1, *f);
    util::ByteReader r2(once);
    auto again = decode_frame(r2);
    check(again.ok() && r2.done());
    util::Bytes twice;
    util::ByteWriter w2(twice);
    encode_frame(w2, *again);
    check(once == twice);
  }
}

std::vector<util::ByteView> split(util::ByteView in) {
  std::vector<util::ByteView> packets;
  util::ByteReader r(in);
  while (r.remaining() > 0) {
    util::ByteReader peek = r;
    const std::uint16_t len = peek.u16();
    if (!peek.ok() || len > peek.remaining()) {
      packets.push_back(r.rest());
      break;
    }
    r.u16();
    packets.push_back(r.bytes(len));
  }
  return packets;
}

void drain(Connection& c, util::TimePoint now) {
  for (int i = 0; i < 64; ++i) {
    auto p = c.poll_send(now, kMaxPayload);
    if (!p) return;
    check(p->payload.size() <= kMaxPayload);
  }
}

void fuzz_connection(bool server, bool new_reno, const std::vector<util::ByteView>& packets) {
  Connection c(server ? Role::kServer : Role::kClient, kT0,
               new_reno ? CongestionAlgorithm::kNewReno : CongestionAlgorithm::kBbr);
  // Give ACK frames something to acknowledge and streams something to reset.
  const StreamId own = c.open_stream();
  static const std::uint8_t kData[3000] = {};
  c.write(own, util::ByteView(kData, sizeof kData));
  drain(c, kT0);
  util::TimePoint now = kT0;
  std::uint64_t pn = 0;
  std::uint8_t buf[4096];
  for (util::ByteView p : packets) {
    now += std::chrono::milliseconds(7);
    c.on_packet(pn++, p, now);
    while (auto e = c.poll_event()) {
      if (e->kind == Event::Kind::kReadable || e->kind == Event::Kind::kStreamOpened) {
        while (c.read(e->stream, buf) > 0) {
        }
        c.write(e->stream, util::ByteView(kData, 100));
      }
    }
    drain(c, now);
    if (c.next_deadline() <= now + std::chrono::seconds(1)) {
      now = std::max(now, c.next_deadline());
      c.on_timeout(now);
      drain(c, now);
    }
    if (c.closed()) {
      const std::string why = c.close_reason().message();
      check(why.rfind("protocol violation: ", 0) == 0 || why.rfind("peer: ", 0) == 0 ||
            why.rfind("idle timeout", 0) == 0);
      break;
    }
  }
  (void)c.stats();
}

void put(std::vector<std::uint8_t>& out, const Frame& f) {
  util::Bytes b;
  util::ByteWriter w(b);
  encode_frame(w, f);
  out.push_back(static_cast<std::uint8_t>(b.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(b.size()));
  out.insert(out.end(), b.begin(), b.end());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const util::ByteView in(data, size);
  const auto packets = split(in.subspan(1));
  for (util::ByteView p : packets) fuzz_decoder(p);
  fuzz_connection((data[0] & 1) != 0, (data[0] & 2) != 0, packets);
  return 0;
}

// Valid sessions to mutate: each a flags byte and a few packets of well-formed frames.
extern "C" std::size_t punch_fuzz_seed(std::size_t index, std::uint8_t* out, std::size_t cap) {
  static const util::Bytes kAbc = {'a', 'b', 'c'};
  std::vector<std::uint8_t> s;
  switch (index) {
    case 0:  // Client view: the server opens stream 1, sends, finishes; we get ACKs.
      s.push_back(0);
      put(s, StreamFrame{1, 0, kAbc, false});
      put(s, AckFrame{3, {{0, 2}}});
      put(s, StreamFrame{1, 3, kAbc, true});
      put(s, MaxDataFrame{1 << 25});
      break;
    case 1:  // Server view: client streams, resets and flow control.
      s.push_back(1);
      put(s, StreamFrame{0, 0, kAbc, false});
      put(s, StreamFrame{4, 100, kAbc, true});
      put(s, ResetStreamFrame{4, 9, 200});
      put(s, StopSendingFrame{0, 3});
      put(s, MaxStreamDataFrame{1, 1 << 21});
      put(s, MaxStreamsFrame{true, 2000});
      break;
    case 2:  // ACK ranges, PING, PADDING, then a close (NewReno client).
      s.push_back(2);
      put(s, AckFrame{100, {{2, 2}, {0, 0}}});
      put(s, PingFrame{});
      put(s, PaddingFrame{20});
      put(s, ConnectionCloseFrame{true, 0, 0, "bye"});
      break;
    case 3:  // Transport close with a frame type.
      s.push_back(1);
      put(s, StreamFrame{0, 0, kAbc, true});
      put(s, ConnectionCloseFrame{false, 0x0a, 0x08, "protocol violation: test"});
      break;
    default:
      return 0;
  }
  if (s.size() > cap) return 0;
  std::memcpy(out, s.data(), s.size());
  return s.size();
}
