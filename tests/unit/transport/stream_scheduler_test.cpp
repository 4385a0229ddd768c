#include "transport/stream_scheduler.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "transport/frame.hpp"

namespace punch::transport {
namespace {

struct Fixture {
  StreamMap streams{Role::kClient};
  FlowControl flow;
  StreamScheduler scheduler{streams, flow};

  Stream& open_with(std::size_t bytes) {
    Stream& s = *streams.find(streams.open_local());
    const std::vector<std::uint8_t> data(bytes, 'd');
    REQUIRE(s.send.write(data) == bytes);
    scheduler.schedule(s);
    return s;
  }

  // The streams of the STREAM frames one packet of `max` bytes carries.
  std::vector<StreamId> packet(std::size_t max, std::vector<SentFrame>* out = nullptr) {
    util::Bytes payload;
    std::vector<SentFrame> frames;
    scheduler.write_streams(payload, max, frames);
    std::vector<StreamId> ids;
    for (const SentFrame& f : frames) ids.push_back(f.stream);
    if (out != nullptr) *out = frames;
    return ids;
  }
};

}  // namespace

TEST_CASE("stream scheduler: streams take turns, a packet each") {
  Fixture f;
  f.open_with(3000);
  f.open_with(3000);
  CHECK(f.scheduler.has_frames_due());
  CHECK(f.packet(1000) == std::vector<StreamId>{0});
  CHECK(f.packet(1000) == std::vector<StreamId>{4});
  CHECK(f.packet(1000) == std::vector<StreamId>{0});
  CHECK(f.packet(10).empty());  // Too little room for a frame: nothing, and no turn lost.
  CHECK(f.packet(1000) == std::vector<StreamId>{4});
}

TEST_CASE("stream scheduler: small streams share a packet; new bytes use connection credit") {
  Fixture f;
  f.open_with(10);
  f.open_with(10);
  CHECK(f.packet(1000) == std::vector<StreamId>{0, 4});
  CHECK(f.flow.send_credit() == kConnectionReceiveWindow - 20);
  CHECK_FALSE(f.scheduler.has_frames_due());
}

TEST_CASE("stream scheduler: a lost STREAM frame goes out first, without new credit") {
  Fixture f;
  f.open_with(10);
  f.open_with(10);
  std::vector<SentFrame> sent;
  REQUIRE(f.packet(1000, &sent).size() == 2);
  f.open_with(10);                     // Stream 8 is queued now.
  f.scheduler.on_frame_lost(sent[1]);  // Stream 4's frame.
  std::vector<SentFrame> again;
  CHECK(f.packet(1000, &again) == std::vector<StreamId>{4, 8});
  CHECK(again[0].offset == 0);
  CHECK(again[0].length == 10);
  CHECK(f.flow.send_credit() == kConnectionReceiveWindow - 30);
}

TEST_CASE("stream scheduler: control frames for a stream, and their loss") {
  Fixture f;
  Stream& s = f.open_with(100);
  REQUIRE(s.send.reset(9));
  f.scheduler.schedule_control(s);
  f.scheduler.schedule_control(s);  // Queued once.
  util::Bytes payload;
  util::ByteWriter w(payload);
  std::vector<SentFrame> frames;
  REQUIRE(f.scheduler.write_control(w, 1000, frames));
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].kind == SentFrameKind::kResetStream);
  CHECK_FALSE(f.scheduler.write_control(w, 1000, frames));
  f.scheduler.on_frame_lost(frames[0]);
  frames.clear();
  CHECK(f.scheduler.write_control(w, 1000, frames));
  CHECK(frames.size() == 1);
}

}  // namespace punch::transport
