#include "app/channel_phase.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace punch::app {
namespace {

using Kind = ChannelCommand::Kind;
using State = ChannelPhase::State;

// Phases whose commands are recorded; a kServe can be answered by `serve`.
struct Rig {
  Rig()
      : phase([this](const ChannelCommand& c) {
          commands.push_back(c);
          if (c.kind == Kind::kServe && serve) serve(c);
        }) {}
  std::vector<Kind> kinds() const {
    std::vector<Kind> out;
    for (const auto& c : commands) out.push_back(c.kind);
    return out;
  }
  const ChannelCommand* find(Kind kind) const {
    for (const auto& c : commands)
      if (c.kind == kind) return &c;
    return nullptr;
  }
  std::vector<ChannelCommand> commands;
  std::function<void(const ChannelCommand&)> serve;
  ChannelPhase phase;
};

util::Bytes encoded(const wire::StreamRequest& r) {
  util::Bytes out;
  wire::encode(r, out);
  return out;
}

util::Bytes encoded(const wire::StreamReply& r) {
  util::Bytes out;
  wire::encode(r, out);
  return out;
}

const wire::StreamRequest kConnect{wire::StreamKind::kConnect, "db", 5432, 0, ""};

TEST_CASE("channel_phase: an opener sends its request and bridges expecting the reply") {
  Rig r;
  r.phase.set_request(kConnect);
  r.phase.open();
  CHECK(r.kinds() == std::vector<Kind>{Kind::kOpenStream, Kind::kStartBridge});
  CHECK(r.commands[0].bytes == encoded(kConnect));
  CHECK(r.commands[1].expect_reply);
  CHECK_FALSE(r.commands[1].start_local);  // its local end reads already
  CHECK(r.phase.state() == State::kBridging);
}

TEST_CASE("channel_phase: a -R opener holds a control stream and reports the reply") {
  Rig r;
  r.phase.set_request(wire::StreamRequest{wire::StreamKind::kRemoteBind, "", 8080, 0, ""});
  r.phase.open();
  CHECK(r.phase.state() == State::kControl);
  const util::Bytes reply = encoded(wire::StreamReply{wire::StreamStatus::kOk, 8080, ""});
  // Split anywhere, the reply is reported once it is whole.
  r.phase.on_stream_bytes(util::ByteView(reply).first(1));
  CHECK(r.find(Kind::kReply) == nullptr);
  r.phase.on_stream_bytes(util::ByteView(reply).subspan(1));
  REQUIRE(r.find(Kind::kReply) != nullptr);
  CHECK(r.find(Kind::kReply)->reply.bound_port == 8080);
  CHECK(r.phase.state() == State::kControl);
  r.commands.clear();
  r.phase.on_stream_bytes(reply);  // later bytes are discarded
  CHECK(r.commands.empty());
  r.phase.on_stream_fin();  // the listener ended the forward
  CHECK(r.kinds() == std::vector<Kind>{Kind::kFinished});
  CHECK(r.commands[0].reason.empty());

  Rig refused;
  refused.phase.set_request(wire::StreamRequest{wire::StreamKind::kRemoteBind, "", 80, 0, ""});
  refused.phase.open();
  refused.phase.on_stream_bytes(
      encoded(wire::StreamReply{wire::StreamStatus::kNotAllowed, 0, "no"}));
  CHECK(refused.kinds() == std::vector<Kind>{Kind::kOpenStream, Kind::kReply, Kind::kResetStream,
                                             Kind::kAbortLocal, Kind::kFinished});
  CHECK(refused.commands.back().reason == "no");
}

TEST_CASE("channel_phase: an acceptor serves a request split anywhere, with what followed it") {
  Rig r;
  r.serve = [&](const ChannelCommand& c) {
    r.phase.connect(c.request.host, c.request.port, c.bytes);
  };
  r.phase.accept();
  CHECK(r.phase.reading_request());
  util::Bytes bytes = encoded(kConnect);
  const std::size_t request_size = bytes.size();
  bytes.push_back('x');  // 0-RTT payload
  r.phase.on_stream_bytes(util::ByteView(bytes).first(3));
  CHECK(r.commands.empty());
  r.phase.on_stream_bytes(util::ByteView(bytes).subspan(3));
  REQUIRE(r.kinds() == std::vector<Kind>{Kind::kServe, Kind::kConnect});
  CHECK(r.commands[0].request == kConnect);
  CHECK(r.commands[0].bytes == util::Bytes{'x'});
  CHECK(r.commands[1].host == "db");
  CHECK(r.commands[1].port == 5432);
  CHECK(r.phase.state() == State::kConnecting);
  CHECK(request_size > 3);

  r.commands.clear();
  r.phase.on_connected();
  REQUIRE(r.kinds() == std::vector<Kind>{Kind::kWriteStream, Kind::kStartBridge});
  CHECK(r.commands[0].bytes == encoded(wire::StreamReply{wire::StreamStatus::kOk, 0, ""}));
  CHECK(r.commands[1].bytes == util::Bytes{'x'});  // the payload goes to the target first
  CHECK_FALSE(r.commands[1].expect_reply);
  CHECK(r.commands[1].start_local);
  CHECK(r.phase.state() == State::kBridging);
}

TEST_CASE("channel_phase: a refusal replies, finishes, and ends quietly at the opener's reset") {
  Rig r;
  r.phase.accept();
  r.phase.refuse(wire::StreamStatus::kRefused, "connection refused");
  CHECK(r.kinds() == std::vector<Kind>{Kind::kWriteStream, Kind::kFinishStream});
  CHECK(r.commands[0].bytes ==
        encoded(wire::StreamReply{wire::StreamStatus::kRefused, 0, "connection refused"}));
  CHECK(r.phase.state() == State::kRefused);
  r.commands.clear();
  r.phase.on_stream_reset();
  CHECK(r.kinds() == std::vector<Kind>{Kind::kAbortLocal, Kind::kFinished});
  CHECK(r.commands.back().reason.empty());
}

TEST_CASE("channel_phase: a reset while connecting is the peer aborting the stream") {
  Rig r;
  r.phase.accept();
  r.phase.connect("db", 1, {});
  r.commands.clear();
  r.phase.on_stream_reset();
  CHECK(r.kinds() == std::vector<Kind>{Kind::kAbortLocal, Kind::kFinished});
  CHECK(r.commands.back().reason == "peer aborted the stream");
  r.commands.clear();
  r.phase.on_connected();  // too late: nothing happens
  r.phase.abort("again");
  CHECK(r.commands.empty());
}

TEST_CASE("channel_phase: a malformed or missing request aborts the stream") {
  Rig bad;
  bad.phase.accept();
  bad.phase.on_stream_bytes(util::Bytes{0xff, 0xff, 0xff, 0xff});
  CHECK(bad.kinds() == std::vector<Kind>{Kind::kResetStream, Kind::kAbortLocal, Kind::kFinished});
  CHECK(bad.commands.back().reason == "peer sent a malformed stream request");

  Rig early;
  early.phase.accept();
  early.phase.on_stream_fin();
  CHECK(early.commands.back().reason == "peer closed the stream before its request");
  CHECK(early.phase.done());
}

TEST_CASE("channel_phase: a -R acceptor replies with the bound port and holds the stream") {
  Rig r;
  r.phase.accept();
  r.phase.hold(40000);
  CHECK(r.kinds() == std::vector<Kind>{Kind::kWriteStream});
  CHECK(r.commands[0].bytes == encoded(wire::StreamReply{wire::StreamStatus::kOk, 40000, ""}));
  CHECK(r.phase.state() == State::kControl);
  r.commands.clear();
  r.phase.on_session_down("idle timeout");
  CHECK(r.kinds() == std::vector<Kind>{Kind::kAbortLocal, Kind::kFinished});
  CHECK(r.commands.back().reason == "idle timeout");
}

TEST_CASE("channel_phase: halt marks it done without commands") {
  Rig r;
  r.phase.set_request(kConnect);
  r.phase.halt();
  CHECK(r.phase.done());
  r.phase.finish("late");
  CHECK(r.commands.empty());
}

}  // namespace
}  // namespace punch::app
