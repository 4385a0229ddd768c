#include "app/channel_phase.hpp"

#include <utility>

#include "util/assert.hpp"

namespace punch::app {

using Kind = ChannelCommand::Kind;

void ChannelPhase::open() {
  PUNCH_ASSERT(state_ == State::kWaiting && request_.has_value());
  ChannelCommand c;
  c.kind = Kind::kOpenStream;
  wire::encode(*request_, c.bytes);
  run(std::move(c));
  if (request_->kind == wire::StreamKind::kRemoteBind) {
    state_ = State::kControl;  // the request stays: its reply is awaited
    return;
  }
  start_bridge({}, true, false);
}

void ChannelPhase::accept() { state_ = State::kRequest; }

void ChannelPhase::on_stream_bytes(util::ByteView data) {
  if (state_ == State::kRequest) {
    buffer_.insert(buffer_.end(), data.begin(), data.end());
    const auto decoded = wire::decode_stream_request(buffer_);
    if (decoded.malformed()) {
      abort("peer sent a malformed stream request");
      return;
    }
    if (!decoded.complete()) return;
    ChannelCommand c;
    c.kind = Kind::kServe;
    c.request = decoded.message;
    c.bytes.assign(buffer_.begin() + static_cast<std::ptrdiff_t>(decoded.consumed), buffer_.end());
    buffer_.clear();
    run(std::move(c));  // serving moves the state on
    return;
  }
  if (state_ != State::kControl && state_ != State::kRefused) return;
  if (!request_) return;  // no reply awaited (or handled): discard
  buffer_.insert(buffer_.end(), data.begin(), data.end());
  const auto decoded = wire::decode_stream_reply(buffer_);
  if (decoded.need_more()) return;
  buffer_.clear();
  request_.reset();
  if (decoded.malformed()) {
    abort("peer sent a malformed stream reply");
    return;
  }
  ChannelCommand c;
  c.kind = Kind::kReply;
  c.reply = decoded.message;
  run(std::move(c));
  if (decoded.message.status != wire::StreamStatus::kOk) abort(decoded.message.reason);
}

void ChannelPhase::on_stream_fin() {
  if (state_ == State::kRequest) {
    abort("peer closed the stream before its request");
  } else if (state_ == State::kControl || state_ == State::kRefused) {
    finish("");  // the peer ended the forward, or took the refusal
  }
}

void ChannelPhase::connect(const std::string& host, std::uint16_t port, util::ByteView leftover) {
  state_ = State::kConnecting;
  buffer_.assign(leftover.begin(), leftover.end());
  ChannelCommand c;
  c.kind = Kind::kConnect;
  c.host = host;
  c.port = port;
  run(std::move(c));
}

void ChannelPhase::on_connected() {
  if (state_ != State::kConnecting) return;
  write_reply(wire::StreamReply{wire::StreamStatus::kOk, 0, ""});
  const util::Bytes to_local = std::move(buffer_);
  buffer_.clear();
  start_bridge(to_local, false, true);
}

void ChannelPhase::reply_and_bridge(util::ByteView leftover) {
  write_reply(wire::StreamReply{wire::StreamStatus::kOk, 0, ""});
  start_bridge(leftover, false, true);
}

void ChannelPhase::refuse(wire::StreamStatus status, const std::string& reason) {
  write_reply(wire::StreamReply{status, 0, reason});
  state_ = State::kRefused;
  ChannelCommand c;
  c.kind = Kind::kFinishStream;
  run(std::move(c));
}

void ChannelPhase::hold(std::uint16_t bound_port) {
  write_reply(wire::StreamReply{wire::StreamStatus::kOk, bound_port, ""});
  state_ = State::kControl;
}

void ChannelPhase::refuse_locally() { state_ = State::kRefused; }

void ChannelPhase::on_stream_reset() {
  if (done()) return;
  // The opener resets a refused stream when it read the reply; a -R control
  // stream is reset when its forward ends; anything else was cut short.
  const bool expected = state_ == State::kRefused || state_ == State::kControl;
  ChannelCommand c;
  c.kind = Kind::kAbortLocal;
  run(std::move(c));
  finish(expected ? "" : "peer aborted the stream");
}

void ChannelPhase::on_session_down(const std::string& reason) {
  if (done()) return;
  ChannelCommand c;
  c.kind = Kind::kAbortLocal;
  run(std::move(c));
  finish(reason);
}

void ChannelPhase::abort(const std::string& reason) {
  if (done()) return;
  ChannelCommand reset;
  reset.kind = Kind::kResetStream;
  run(std::move(reset));
  ChannelCommand local;
  local.kind = Kind::kAbortLocal;
  run(std::move(local));
  finish(reason);
}

void ChannelPhase::finish(const std::string& reason) {
  if (done()) return;
  state_ = State::kDone;
  ChannelCommand c;
  c.kind = Kind::kFinished;
  c.reason = reason;
  run(std::move(c));
}

void ChannelPhase::write_reply(const wire::StreamReply& reply) {
  ChannelCommand c;
  c.kind = Kind::kWriteStream;
  wire::encode(reply, c.bytes);
  run(std::move(c));
}

void ChannelPhase::start_bridge(util::ByteView to_local, bool expect_reply, bool start_local) {
  state_ = State::kBridging;
  ChannelCommand c;
  c.kind = Kind::kStartBridge;
  c.bytes.assign(to_local.begin(), to_local.end());
  c.expect_reply = expect_reply;
  c.start_local = start_local;
  run(std::move(c));
}

}  // namespace punch::app
