#include "transport/stream_buffer.hpp"

#include <doctest/doctest.h>

namespace punch::transport {
namespace {
util::Bytes seq(std::size_t n, std::uint8_t start = 0) {
  util::Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(start + i);
  return b;
}
constexpr std::size_t kBlock = StreamBuffer::kBlockSize;
}  // namespace

TEST_CASE("stream_buffer: data spanning blocks reads back") {
  StreamBuffer b;
  const util::Bytes data = seq(3 * kBlock + 100);
  b.write_at(0, data);
  util::Bytes out(data.size());
  b.read_at(0, out);
  CHECK(out == data);
  util::Bytes part(200);
  b.read_at(kBlock - 100, part);
  CHECK(part == util::Bytes(data.begin() + kBlock - 100, data.begin() + kBlock + 100));
}

TEST_CASE("stream_buffer: holes allocate only the blocks touched") {
  StreamBuffer b;
  b.write_at(5 * kBlock + 10, seq(10, 7));
  CHECK(b.allocated_bytes() == kBlock);
  util::Bytes out(10);
  b.read_at(5 * kBlock + 10, out);
  CHECK(out == seq(10, 7));
}

TEST_CASE("stream_buffer: advancing the base frees blocks") {
  StreamBuffer b;
  b.write_at(0, seq(4 * kBlock));
  CHECK(b.allocated_bytes() == 4 * kBlock);
  b.advance_base(2 * kBlock + 5);
  CHECK(b.base() == 2 * kBlock + 5);
  // Two blocks freed; one kept spare to avoid malloc churn.
  CHECK(b.allocated_bytes() == 3 * kBlock);
  util::Bytes out(10);
  b.read_at(3 * kBlock, out);
  CHECK(out == seq(10, static_cast<std::uint8_t>(3 * kBlock)));
  b.advance_base(100 * kBlock);  // Far beyond anything written.
  b.write_at(100 * kBlock, seq(5));
  b.read_at(100 * kBlock, std::span<std::uint8_t>(out).first(5));
  CHECK(util::Bytes(out.begin(), out.begin() + 5) == seq(5));
  b.release();
  CHECK(b.allocated_bytes() == 0);
}

}  // namespace punch::transport
