#include "transport/recv_stream.hpp"

#include <doctest/doctest.h>

namespace punch::transport {
namespace {
util::Bytes sequence(std::size_t n, std::size_t from = 0) {
  util::Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((from + i) * 13);
  return b;
}
constexpr std::uint64_t kBig = 1 << 30;

util::Bytes read_all(RecvStream& r) {
  util::Bytes out;
  std::uint8_t buf[37];  // Odd size: partial reads.
  while (std::size_t n = r.read(buf)) out.insert(out.end(), buf, buf + n);
  return out;
}
}  // namespace

TEST_CASE("recv_stream: out-of-order, overlapping and duplicate data reassemble") {
  RecvStream r(1 << 20);
  CHECK(*r.on_data(100, sequence(100, 100), false, kBig));
  CHECK_FALSE(r.readable());
  CHECK(r.read(std::span<std::uint8_t>()) == 0);
  CHECK(*r.on_data(50, sequence(100, 50), false, kBig));         // Overlaps the later segment.
  CHECK_FALSE(*r.on_data(120, sequence(30, 120), false, kBig));  // Pure duplicate.
  CHECK(*r.on_data(0, sequence(60, 0), false, kBig));
  CHECK(r.readable());
  CHECK(read_all(r) == sequence(200));
  CHECK_FALSE(r.readable());
  CHECK(r.consumed() == 200);
  CHECK(*r.on_data(200, sequence(10, 200), true, kBig));
  CHECK(read_all(r) == sequence(10, 200));
  CHECK(r.finished());
  CHECK(r.terminal());
}

TEST_CASE("recv_stream: FIN before the data it ends") {
  RecvStream r(1 << 20);
  CHECK(*r.on_data(10, sequence(5, 10), true, kBig));
  CHECK_FALSE(r.finished());
  CHECK_FALSE(r.terminal());
  CHECK(*r.on_data(0, sequence(10), false, kBig));
  CHECK(read_all(r) == sequence(15));
  CHECK(r.finished());
  // A FIN-only frame at the final size is harmless.
  CHECK_FALSE(*r.on_data(15, {}, true, kBig));
}

TEST_CASE("recv_stream: final size violations") {
  RecvStream r(1 << 20);
  REQUIRE(r.on_data(0, sequence(10), true, kBig).ok());
  CHECK(r.on_data(5, sequence(10), false, kBig).error().message ==
        "stream data beyond its final size");
  CHECK(r.on_data(0, sequence(5), true, kBig).error().message == "stream final size changed");
  CHECK_FALSE(r.on_reset(11, kBig).ok());
  CHECK(r.on_reset(10, kBig).ok());

  RecvStream r2(1 << 20);
  REQUIRE(r2.on_data(0, sequence(10), false, kBig).ok());
  CHECK(r2.on_data(0, sequence(5), true, kBig).error().message ==
        "stream final size below data already received");
  CHECK_FALSE(r2.on_reset(5, kBig).ok());
}

TEST_CASE("recv_stream: flow-control limits are enforced and refreshed as the app reads") {
  RecvStream r(1000);
  CHECK(r.on_data(0, sequence(1000), false, kBig).ok());
  CHECK(r.on_data(1000, sequence(1), false, kBig).error().message ==
        "stream flow control limit exceeded");
  CHECK_FALSE(r.wants_window_update());
  util::Bytes out(249);
  r.read(out);
  CHECK_FALSE(r.wants_window_update());  // Less than a quarter consumed.
  r.read(std::span<std::uint8_t>(out).first(1));
  CHECK(r.wants_window_update());
  CHECK(r.take_window_update() == 1250);
  CHECK_FALSE(r.wants_window_update());
  CHECK(r.on_data(1000, sequence(250), false, kBig).ok());

  RecvStream c(1000);
  CHECK(c.on_data(0, sequence(100), false, 100).ok());
  CHECK(c.on_data(100, sequence(1), false, 0).error().message ==
        "connection flow control limit exceeded");
  // Retransmitted bytes below the highest offset need no connection credit.
  CHECK(c.on_data(50, sequence(50), false, 0).ok());
}

TEST_CASE("recv_stream: a reset discards data and fixes the final size") {
  RecvStream r(1 << 20);
  REQUIRE(r.on_data(0, sequence(100), false, kBig).ok());
  REQUIRE(r.on_data(500, sequence(100), false, kBig).ok());
  CHECK(r.on_reset(800, kBig).ok());
  CHECK(r.is_reset());
  CHECK(r.highest() == 800);
  CHECK(r.consumed() == 800);  // All of it counts as consumed: connection credit returns.
  CHECK(r.allocated_bytes() == 0);
  CHECK(read_all(r).empty());
  CHECK(r.terminal());
  CHECK(r.on_reset(800, kBig).ok());                             // Repeated.
  CHECK_FALSE(r.on_data(0, sequence(10), false, kBig).value());  // Stale data is ignored.
}

TEST_CASE("recv_stream: stop() discards and asks the peer to stop until the final size is known") {
  RecvStream r(1 << 20);
  REQUIRE(r.on_data(0, sequence(100), false, kBig).ok());
  r.stop(9);
  CHECK(r.stop_pending());
  CHECK(r.stop_code() == 9);
  CHECK(r.consumed() == 100);
  CHECK(read_all(r).empty());
  CHECK_FALSE(r.terminal());
  r.on_stop_sent();
  r.on_stop_lost();
  CHECK(r.stop_pending());
  REQUIRE(r.on_data(100, sequence(50), false, kBig).ok());
  CHECK(r.consumed() == 150);
  CHECK(r.allocated_bytes() == 0);
  CHECK(r.on_reset(150, kBig).ok());
  CHECK_FALSE(r.stop_pending());
  CHECK(r.terminal());
}

}  // namespace punch::transport
