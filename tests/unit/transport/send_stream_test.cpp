#include "transport/send_stream.hpp"

#include <doctest/doctest.h>

#include "transport/frame.hpp"

namespace punch::transport {
namespace {
util::Bytes ramp(std::size_t n) {
  util::Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 7);
  return b;
}
constexpr std::uint64_t kLargeCredit = 1 << 30;
constexpr StreamId kId = 4;

SendStream::Chunk send_next(SendStream& s, std::size_t room = 1000,
                            std::uint64_t credit = kLargeCredit) {
  auto c = s.next_chunk(kId, room, credit);
  REQUIRE(c.has_value());
  s.on_sent(*c);
  return *c;
}
}  // namespace

TEST_CASE("send_stream: write accepts up to the buffer limit") {
  SendStream s(kLargeCredit, 1000);
  CHECK(s.write(ramp(600)) == 600);
  CHECK(s.write(ramp(600)) == 400);
  CHECK(s.write(ramp(1)) == 0);
  CHECK(s.free_space() == 0);
  // Acknowledged bytes free space again.
  send_next(s, 2000);
  s.on_acked(0, 300, false);
  CHECK(s.free_space() == 300);
  CHECK(s.buffered() == 700);
  s.finish();
  CHECK(s.write(ramp(1)) == 0);
}

TEST_CASE("send_stream: chunks fit the room, header included, and copy the right bytes") {
  SendStream s(kLargeCredit, 1 << 20);
  const util::Bytes data = ramp(5000);
  s.write(data);
  auto c = s.next_chunk(kId, 1000, kLargeCredit);
  REQUIRE(c);
  CHECK(c->offset == 0);
  CHECK(c->length + stream_header_size(kId, 0, c->length) == 1000);
  s.on_sent(*c);
  auto c2 = s.next_chunk(kId, 1000, kLargeCredit);
  REQUIRE(c2);
  CHECK(c2->offset == c->length);
  CHECK(c2->length + stream_header_size(kId, c2->offset, c2->length) <= 1000);
  util::Bytes out(c2->length);
  s.copy_out(*c2, out.data());
  CHECK(out == util::Bytes(data.begin() + static_cast<long>(c2->offset),
                           data.begin() + static_cast<long>(c2->offset + c2->length)));
  CHECK_FALSE(s.next_chunk(kId, 3, kLargeCredit));  // No room for header plus a byte.
}

TEST_CASE("send_stream: flow control credit limits new data, not retransmissions") {
  SendStream s(100, 1 << 20);
  s.write(ramp(1000));
  auto c = send_next(s);
  CHECK(c.length == 100);  // Stream credit.
  CHECK_FALSE(s.has_pending(kLargeCredit));
  CHECK(s.wants_connection_credit() == false);
  s.raise_limit(500);
  CHECK(s.has_pending(kLargeCredit));
  CHECK_FALSE(s.has_pending(0));  // No connection credit.
  CHECK(s.wants_connection_credit());
  c = send_next(s, 1000, 50);
  CHECK(c.offset == 100);
  CHECK(c.length == 50);  // Connection credit.
  s.on_lost(0, 100, false);
  // The retransmission goes first and needs no credit.
  CHECK(s.has_pending(0));
  c = send_next(s, 1000, 0);
  CHECK(c.retransmit);
  CHECK(c.offset == 0);
  CHECK(c.length == 100);
}

TEST_CASE("send_stream: lost ranges are resent less what was acknowledged since") {
  SendStream s(kLargeCredit, 1 << 20);
  s.write(ramp(3000));
  CHECK(send_next(s, 1004).length == 1000);  // [0, 1000): 4 header bytes
  CHECK(send_next(s, 1006).length == 1000);  // [1000, 2000): 6 header bytes
  CHECK(send_next(s, 1006).length == 1000);  // [2000, 3000)
  s.on_acked(500, 200, false);               // From a retransmission, say.
  s.on_lost(0, 1000, false);
  auto c = send_next(s, 2000);
  CHECK(c.retransmit);
  CHECK(c.offset == 0);
  CHECK(c.length == 500);
  c = send_next(s, 2000);
  CHECK(c.offset == 700);
  CHECK(c.length == 300);
  CHECK_FALSE(s.has_pending(kLargeCredit));
  // A range acknowledged while queued for retransmission is dropped from the queue.
  s.on_lost(1000, 1000, false);
  s.on_acked(1000, 1000, false);
  CHECK_FALSE(s.has_pending(kLargeCredit));
}

TEST_CASE("send_stream: FIN rides the last chunk, is resent when lost, and completes the stream") {
  SendStream s(kLargeCredit, 1 << 20);
  s.write(ramp(100));
  s.finish();
  auto c = send_next(s);
  CHECK(c.fin);
  CHECK(c.length == 100);
  CHECK_FALSE(s.has_pending(kLargeCredit));
  s.on_lost(0, 100, true);
  c = send_next(s);
  CHECK(c.retransmit);
  CHECK(c.fin);
  s.on_acked(0, 100, false);
  CHECK_FALSE(s.all_acked());
  s.on_acked(0, 100, true);
  CHECK(s.all_acked());
  CHECK(s.terminal());
}

TEST_CASE("send_stream: a FIN alone is a zero-length frame") {
  SendStream s(kLargeCredit, 1 << 20);
  s.write(ramp(10));
  send_next(s);
  s.finish();
  CHECK(s.has_pending(0));
  auto c = send_next(s, 1000, 0);
  CHECK(c.fin);
  CHECK(c.length == 0);
  CHECK(c.offset == 10);
  s.on_lost(10, 0, true);
  c = send_next(s, 1000, 0);
  CHECK(c.fin);
  CHECK(c.offset == 10);
}

TEST_CASE("send_stream: reset drops the buffer and announces what was sent") {
  SendStream s(kLargeCredit, 1 << 20);
  s.write(ramp(5000));
  send_next(s, 1000);
  CHECK(s.reset(3));
  CHECK_FALSE(s.reset(3));
  CHECK(s.is_reset());
  CHECK(s.reset_pending());
  CHECK(s.reset_code() == 3);
  CHECK(s.final_size() < 1000);
  CHECK(s.final_size() > 900);
  CHECK(s.buffered() == 0);
  CHECK(s.allocated_bytes() == 0);
  CHECK_FALSE(s.has_pending(kLargeCredit));
  CHECK(s.write(ramp(1)) == 0);
  s.on_reset_sent();
  CHECK_FALSE(s.reset_pending());
  s.on_reset_lost();
  CHECK(s.reset_pending());
  s.on_reset_acked();
  CHECK(s.terminal());
  // Nothing to reset once everything was acknowledged.
  SendStream done(kLargeCredit, 1 << 20);
  done.finish();
  auto c = send_next(done);
  done.on_acked(c.offset, c.length, c.fin);
  CHECK_FALSE(done.reset(1));
}

}  // namespace punch::transport
