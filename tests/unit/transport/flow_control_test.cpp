#include "transport/flow_control.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "transport/constants.hpp"

namespace punch::transport {

TEST_CASE("flow control: sending uses the peer's MAX_DATA, which only grows") {
  FlowControl fc;
  CHECK(fc.send_credit() == kConnectionReceiveWindow);
  fc.on_new_data_sent(1000);
  CHECK(fc.send_credit() == kConnectionReceiveWindow - 1000);
  CHECK_FALSE(fc.on_max_data(kConnectionReceiveWindow));
  CHECK(fc.on_max_data(kConnectionReceiveWindow + 500));
  CHECK(fc.send_credit() == kConnectionReceiveWindow - 500);
  CHECK_FALSE(fc.on_max_data(10));
}

TEST_CASE("flow control: a stream writes within its buffer, beyond its reserve only in budget") {
  FlowControl fc;
  SendStream s(kStreamReceiveWindow, kStreamSendBuffer);
  CHECK(fc.write_room(s) == kStreamSendBuffer);
  // The rest of the connection holds the whole budget: only the reserve is left.
  fc.on_buffered(kConnectionSendBuffer);
  CHECK(fc.write_room(s) == kStreamSendReserve);
  const std::vector<std::uint8_t> data(kStreamSendReserve / 4, 'x');
  REQUIRE(s.write(data) == data.size());
  fc.on_buffered(data.size());
  CHECK(fc.write_room(s) == kStreamSendReserve - data.size());
  // Half the reserve free under a full budget wakes the writer; less does not.
  CHECK(fc.writable_again(s));
  const std::vector<std::uint8_t> more(kStreamSendReserve / 2, 'y');
  REQUIRE(s.write(more) == more.size());
  fc.on_buffered(more.size());
  CHECK_FALSE(fc.writable_again(s));
  fc.on_released(kConnectionSendBuffer);
  CHECK(fc.writable_again(s));
  CHECK(fc.send_buffered() == data.size() + more.size());
}

TEST_CASE("flow control: MAX_DATA becomes due once a quarter of the window was consumed") {
  FlowControl fc;
  CHECK(fc.recv_credit() == kConnectionReceiveWindow);
  RecvStream r(kStreamReceiveWindow);
  const std::uint64_t quarter = kConnectionReceiveWindow / kWindowUpdateDivisor;
  std::uint64_t offset = 0;
  std::vector<std::uint8_t> chunk(64 * 1024, 'z');
  std::vector<std::uint8_t> sink(chunk.size());
  while (offset < quarter) {
    const auto before = FlowControl::snapshot(r);
    REQUIRE(r.on_data(offset, chunk, false, fc.recv_credit()).ok());
    offset += chunk.size();
    fc.account(r, before);
    CHECK(fc.recv_credit() == kConnectionReceiveWindow - offset);
    CHECK_FALSE(fc.max_data_pending());
    const auto before_read = FlowControl::snapshot(r);
    REQUIRE(r.read(sink) == chunk.size());
    // The stream asks for MAX_STREAM_DATA on its own schedule (a quarter of 1 MiB).
    CHECK(fc.account(r, before_read) == r.wants_window_update());
    if (r.wants_window_update()) r.take_window_update();
  }
  CHECK(fc.max_data_pending());
  CHECK(fc.take_max_data() == offset + kConnectionReceiveWindow);
  CHECK_FALSE(fc.max_data_pending());
  CHECK(fc.recv_credit() == kConnectionReceiveWindow);
  fc.on_max_data_lost();
  CHECK(fc.max_data_pending());
  CHECK(fc.take_max_data() == offset + kConnectionReceiveWindow);  // Same value again.
}

TEST_CASE("flow control: a forgotten stream's pieces and buffers stop counting") {
  FlowControl fc;
  RecvStream r(kStreamReceiveWindow);
  SendStream s(kStreamReceiveWindow, kStreamSendBuffer);
  const std::vector<std::uint8_t> piece(1, 'p');
  std::uint64_t offset = 100;
  for (std::size_t i = 0; i <= kMaxReceiveFragments && !fc.too_fragmented(); ++i) {
    const auto before = FlowControl::snapshot(r);
    REQUIRE(r.on_data(offset, piece, false, fc.recv_credit()).ok());
    fc.account(r, before);
    offset += 2;
  }
  CHECK(fc.too_fragmented());
  REQUIRE(s.write(piece) == piece.size());
  fc.on_buffered(piece.size());
  fc.on_stream_forgotten(r, s);
  CHECK_FALSE(fc.too_fragmented());
  CHECK(fc.send_buffered() == 0);
}

}  // namespace punch::transport
