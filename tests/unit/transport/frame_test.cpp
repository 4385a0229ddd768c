#include "transport/frame.hpp"

#include <doctest/doctest.h>

#include <deque>
#include <string>

namespace punch::transport {
namespace {

std::string hex_of(const Frame& f) {
  util::Bytes out;
  util::ByteWriter w(out);
  encode_frame(w, f);
  return util::to_hex(out);
}

// Decoded STREAM data views its input, so inputs live until the end of the run.
util::Result<Frame> decode_hex(const std::string& hex) {
  static std::deque<util::Bytes> inputs;
  bool ok = false;
  const util::Bytes& b = inputs.emplace_back(util::from_hex(hex, &ok));
  REQUIRE(ok);
  util::ByteReader r(b);
  auto f = decode_frame(r);
  if (f) CHECK(r.done());
  return f;
}

// Fixtures that must round-trip byte for byte, and whose every strict prefix is rejected.
struct Fixture {
  const char* name;
  Frame frame;
  const char* hex;
};

const util::Bytes kAbc = {'a', 'b', 'c'};
const util::Bytes kX = {'x'};

std::vector<Fixture> fixtures() {
  return {
      {"PING", PingFrame{}, "01"},
      {"ACK one range", AckFrame{0x10, {{5, 10}}}, "020a100005"},
      {"ACK two ranges", AckFrame{0, {{95, 100}, {80, 90}}}, "024064000105030a"},
      {"RESET_STREAM", ResetStreamFrame{4, 7, 1000}, "04040743e8"},
      {"STOP_SENDING", StopSendingFrame{5, 9}, "050509"},
      {"STREAM fin", StreamFrame{4, 0, kAbc, true}, "0b0403616263"},
      {"STREAM offset", StreamFrame{1, 100000, kX, false}, "0e01800186a00178"},
      {"MAX_DATA", MaxDataFrame{16 << 20}, "1081000000"},
      {"MAX_STREAM_DATA", MaxStreamDataFrame{8, 1 << 20}, "110880100000"},
      {"MAX_STREAMS", MaxStreamsFrame{true, 1024}, "124400"},
      {"CONNECTION_CLOSE", ConnectionCloseFrame{false, 0x0a, 0, "bad"}, "1c0a0003626164"},
      {"APPLICATION_CLOSE", ConnectionCloseFrame{true, 0, 0, "bye"}, "1d0003627965"},
  };
}

}  // namespace

TEST_CASE("frame: every type encodes to its exact bytes") {
  for (const Fixture& f : fixtures()) {
    CAPTURE(f.name);
    CHECK(hex_of(f.frame) == f.hex);
  }
  CHECK(hex_of(PaddingFrame{3}) == "000000");
}

TEST_CASE("frame: fixtures decode to their fields and re-encode identically") {
  for (const Fixture& f : fixtures()) {
    CAPTURE(f.name);
    auto d = decode_hex(f.hex);
    REQUIRE(d.ok());
    CHECK(d->index() == f.frame.index());
    CHECK(hex_of(*d) == f.hex);
  }
  auto ack = decode_hex("024064000105030a");
  REQUIRE(ack.ok());
  const auto& a = std::get<AckFrame>(*ack);
  CHECK(a.ack_delay == 0);
  REQUIRE(a.ranges.size() == 2);
  CHECK(a.ranges[0] == AckRange{95, 100});
  CHECK(a.ranges[1] == AckRange{80, 90});

  auto stream = decode_hex("0e01800186a00178");
  REQUIRE(stream.ok());
  const auto& s = std::get<StreamFrame>(*stream);
  CHECK(s.stream == 1);
  CHECK(s.offset == 100000);
  CHECK(s.data.size() == 1);
  CHECK(s.data[0] == 'x');
  CHECK_FALSE(s.fin);

  auto reset = decode_hex("04040743e8");
  REQUIRE(reset.ok());
  CHECK(std::get<ResetStreamFrame>(*reset).final_size == 1000);
  CHECK(std::get<ResetStreamFrame>(*reset).error_code == 7);

  auto close = decode_hex("1c0a0003626164");
  REQUIRE(close.ok());
  CHECK(std::get<ConnectionCloseFrame>(*close).reason == "bad");
  CHECK(std::get<ConnectionCloseFrame>(*close).error_code == 0x0a);
  CHECK_FALSE(std::get<ConnectionCloseFrame>(*close).application);
}

TEST_CASE("frame: decoder forms not produced by the encoder") {
  // STREAM without LEN: data runs to the end of the packet.
  auto s = decode_hex("0d08056869");
  REQUIRE(s.ok());
  const auto& f = std::get<StreamFrame>(*s);
  CHECK(f.stream == 8);
  CHECK(f.offset == 5);
  CHECK(f.data.size() == 2);
  CHECK(f.fin);
  // A run of PADDING is one frame.
  auto p = decode_hex("00000000");
  REQUIRE(p.ok());
  CHECK(std::get<PaddingFrame>(*p).length == 4);
  // ACK with ECN counts (type 0x03): the counts are read and ignored.
  auto e = decode_hex("030a100005010203");
  REQUIRE(e.ok());
  CHECK(std::get<AckFrame>(*e).ranges[0] == AckRange{5, 10});
  // MAX_STREAMS for unidirectional streams.
  auto u = decode_hex("1305");
  REQUIRE(u.ok());
  CHECK_FALSE(std::get<MaxStreamsFrame>(*u).bidirectional);
}

TEST_CASE("frame: every truncation of a fixture is rejected") {
  for (const Fixture& f : fixtures()) {
    const std::string hex = f.hex;
    for (std::size_t len = 0; len < hex.size(); len += 2) {
      CAPTURE(f.name);
      CAPTURE(len);
      bool ok = false;
      const util::Bytes b = util::from_hex(hex.substr(0, len), &ok);
      util::ByteReader r(b);
      CHECK_FALSE(decode_frame(r).ok());
    }
  }
}

TEST_CASE("frame: malformed frames are errors with a reason") {
  auto unknown = decode_hex("21");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message == "unknown frame type 0x21");
  // A frame type in a longer varint than needed is not a known type.
  CHECK_FALSE(decode_hex("4001").ok());
  // First ACK range larger than Largest Acknowledged.
  auto a = decode_hex("0205000006");
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().message == "ACK frame range below packet number 0");
  // A gap reaching below packet 0.
  CHECK_FALSE(decode_hex("02050001000400").ok());
  // A range after a gap reaching below packet 0.
  CHECK_FALSE(decode_hex("02050001000006").ok());
  // A range count the packet cannot hold.
  CHECK_FALSE(decode_hex("0205003f00").ok());
  // STREAM ending beyond 2^62 - 1.
  auto s = decode_hex("0e00ffffffffffffffff0178");
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message == "STREAM frame beyond 2^62 bytes");
  // STREAM length beyond the packet.
  CHECK(decode_hex("0a000561").error().message == "truncated STREAM frame");
  // MAX_STREAMS above 2^60.
  CHECK_FALSE(decode_hex("12d000000000000001").ok());
  // CONNECTION_CLOSE reason longer than the packet.
  CHECK_FALSE(decode_hex("1d000561").ok());
}

TEST_CASE("frame: ack-eliciting classification") {
  CHECK(is_ack_eliciting(PingFrame{}));
  CHECK(is_ack_eliciting(StreamFrame{}));
  CHECK(is_ack_eliciting(MaxDataFrame{}));
  CHECK_FALSE(is_ack_eliciting(AckFrame{}));
  CHECK_FALSE(is_ack_eliciting(PaddingFrame{}));
  CHECK_FALSE(is_ack_eliciting(ConnectionCloseFrame{}));
}

TEST_CASE("frame: sizes agree with what is written") {
  AckFrame a{300, {{1000, 2000}, {900, 990}, {5, 100}}};
  util::Bytes out;
  util::ByteWriter w(out);
  encode(w, a);
  CHECK(out.size() == encoded_size(a));
  out.clear();
  encode_stream_header(w, 4, 70000, 1100, true);
  CHECK(out.size() == stream_header_size(4, 70000, 1100));
  CHECK(stream_header_size(4, 0, 10) == 3);
}

}  // namespace punch::transport
