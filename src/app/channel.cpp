#include "app/channel.hpp"

#include "forward/forward_spec.hpp"
#include "util/assert.hpp"
#include "util/log.hpp"

namespace punch::app {

namespace {

// Stream bytes read per call while looking for a request or a control reply:
// more than the largest preamble, so one read usually holds it all, and small
// enough that little pipelined payload has to be carried over by hand.
constexpr std::size_t kPreambleReadChunk = 512;
// Application error code of a RESET_STREAM; see stream_bridge.cpp.
constexpr std::uint64_t kResetCode = 1;

wire::StreamStatus status_of(io::ConnectError error) {
  switch (error) {
    case io::ConnectError::kNone:
      return wire::StreamStatus::kOk;
    case io::ConnectError::kNameNotFound:
    case io::ConnectError::kHostUnreachable:
      return wire::StreamStatus::kHostUnreachable;
    case io::ConnectError::kRefused:
      return wire::StreamStatus::kRefused;
    case io::ConnectError::kNetworkUnreachable:
      return wire::StreamStatus::kNetworkUnreachable;
    case io::ConnectError::kTimedOut:
      return wire::StreamStatus::kTimedOut;
    default:
      return wire::StreamStatus::kGeneralFailure;
  }
}

}  // namespace

Channel::Channel(ChannelOwner& owner, std::uint64_t cid, std::string label)
    : owner_(owner),
      cid_(cid),
      label_(std::move(label)),
      phase_([this](const ChannelCommand& c) { execute(c); }),
      deadline_(owner.idle_timeout(), io::now()) {}

Channel::~Channel() { shutdown(); }

transport::Connection* Channel::connection() {
  session::Session* s = owner_.endpoint().session(cid_);
  if (s == nullptr || !s->established()) return nullptr;
  return &s->connection();
}

void Channel::execute(const ChannelCommand& c) {
  switch (c.kind) {
    case ChannelCommand::Kind::kOpenStream: {
      transport::Connection* conn = connection();
      PUNCH_ASSERT(conn != nullptr);  // opened only on an established session
      stream_ = conn->open_stream();
      deadline_.on_stream_opened();
      // A fresh stream's send buffer is far larger than any preamble.
      const std::size_t written = conn->write(*stream_, c.bytes);
      PUNCH_ASSERT(written == c.bytes.size());
      owner_.changed();
      break;
    }
    case ChannelCommand::Kind::kServe:
      owner_.changed();  // reading opened flow-control credit
      owner_.serve_request(*this, c.request, c.bytes);
      break;
    case ChannelCommand::Kind::kConnect:
      start_connect(c.host, c.port);
      break;
    case ChannelCommand::Kind::kWriteStream:
      write_stream(c.bytes);
      break;
    case ChannelCommand::Kind::kFinishStream:
      if (transport::Connection* conn = connection()) conn->finish(*stream_);
      owner_.changed();
      break;
    case ChannelCommand::Kind::kResetStream:
      if (stream_) {
        if (transport::Connection* conn = connection()) {
          conn->reset(*stream_, kResetCode);
          owner_.changed();
        }
      }
      break;
    case ChannelCommand::Kind::kStartBridge:
      start_bridge(c.bytes, c.expect_reply);
      if (c.start_local) start_local();
      break;
    case ChannelCommand::Kind::kReply:
      if (on_reply_) on_reply_(c.reply);
      break;
    case ChannelCommand::Kind::kAbortLocal:
      if (local_) local_->abort();
      break;
    case ChannelCommand::Kind::kFinished:
      finished(c.reason);
      break;
  }
}

void Channel::attach_local(std::unique_ptr<io::Duplex> local,
                           std::unique_ptr<forward::SocksServer> socks) {
  local_ = std::move(local);
  socks_ = std::move(socks);
  start_local();
}

void Channel::start_local() {
  local_->start([this](util::ByteView data) { on_local_data(data); },
                [this](const std::string& error) { on_local_end(error); });
}

bool Channel::ready_to_open() const {
  if (phase_.state() != Phase::kWaiting || !phase_.request()) return false;
  return socks_ == nullptr || socks_->state() == forward::SocksServer::State::kRequestReady;
}

void Channel::on_local_data(util::ByteView data) {
  if (done()) return;
  const util::TimePoint now = io::now();
  deadline_.on_activity(now);
  if (bridge_) {
    bridge_->on_local_data(data);
    return;
  }
  if (socks_ && socks_->state() == forward::SocksServer::State::kNegotiating) {
    socks_->on_data(data, now);
    socks_step();
    return;
  }
  // Waiting for the session: hold what the client sends, within reason.
  local_early_.insert(local_early_.end(), data.begin(), data.end());
  if (local_early_.size() >= io::Duplex::kHighWater) local_->pause();
}

void Channel::on_local_end(const std::string& error) {
  if (done()) return;
  if (bridge_) {
    bridge_->on_local_end(error);
    return;
  }
  if (!error.empty()) {
    abort(error);
    return;
  }
  if (socks_ && socks_->state() == forward::SocksServer::State::kNegotiating) {
    phase_.finish("client closed the connection during the SOCKS5 negotiation");
    return;
  }
  local_eof_ = true;
}

void Channel::socks_step() {
  const util::Bytes out = socks_->take_output();
  if (!out.empty()) local_->write(out);
  const util::TimePoint deferred = socks_->deadline();
  if (deferred != util::kNever) {
    // The client's password check waits for its backoff. Reading goes on, so a client
    // that gives up is forgotten at once instead of taking a check slot later; what it
    // sends meanwhile is bounded by the SOCKS server.
    if (!socks_timer_) {
      socks_timer_ = std::make_unique<io::Timer>(owner_.loop(), [this] { on_socks_timer(); });
    }
    socks_timer_->arm(deferred, io::now());
    return;
  }
  switch (socks_->state()) {
    case forward::SocksServer::State::kClosing:
      // The reply (if any) goes out before the FIN; then the channel ends.
      phase_.refuse_locally();
      local_->finish([this](const std::string&) { phase_.finish("SOCKS5: " + socks_->failure()); });
      break;
    case forward::SocksServer::State::kRequestReady: {
      const wire::SocksRequest& r = socks_->request();
      phase_.set_request(wire::StreamRequest{wire::StreamKind::kConnect, r.host, r.port, 0, ""});
      label_ += " -> " + forward::format_host_port(r.host, r.port);
      const util::Bytes leftover = socks_->take_leftover();
      local_early_.insert(local_early_.end(), leftover.begin(), leftover.end());
      local_->pause();  // until the far side answers
      owner_.route(*this);
      break;
    }
    default:
      break;
  }
}

void Channel::on_socks_timer() {
  if (done() || !socks_) return;
  socks_->on_timeout(io::now());
  socks_step();
}

void Channel::open(std::uint64_t cid) {
  cid_ = cid;
  phase_.open();
  if (phase_.state() == Phase::kControl) read_control();
}

void Channel::accept_stream(transport::StreamId stream) {
  stream_ = stream;
  phase_.accept();
  read_request();
}

void Channel::read_request() {
  transport::Connection* c = connection();
  if (c == nullptr) return;
  std::uint8_t chunk[kPreambleReadChunk];
  while (phase_.reading_request()) {
    const std::size_t n = c->read(*stream_, chunk);
    if (n == 0) break;
    phase_.on_stream_bytes(util::ByteView(chunk, n));
  }
  if (phase_.reading_request() && c->read_finished(*stream_)) phase_.on_stream_fin();
}

// Reads a stream that carries no payload: an awaited -R reply (opener), else
// anything the peer sends is discarded; its FIN ends the channel.
void Channel::read_control() {
  transport::Connection* c = connection();
  if (c == nullptr) return;
  std::uint8_t chunk[kPreambleReadChunk];
  for (;;) {
    const std::size_t n = c->read(*stream_, chunk);
    if (n == 0) break;
    owner_.changed();  // reading opened flow-control credit
    phase_.on_stream_bytes(util::ByteView(chunk, n));
    if (done()) return;
  }
  if (c->read_finished(*stream_)) phase_.on_stream_fin();
}

void Channel::start_bridge(util::ByteView to_local, bool expect_reply) {
  bridge_ = std::make_unique<StreamBridge>(
      owner_.endpoint(), cid_, *stream_, *local_, [this] { owner_.changed(); },
      [this](const std::string& reason) { bridge_finished(reason); });
  bridge_->on_fin_sent([this] { owner_.watch(*this); });
  if (expect_reply) {
    bridge_->expect_reply([this](const wire::StreamReply& reply) {
      if (socks_) {
        socks_->reply(wire::to_socks_reply(reply.status), util::Address{});
        local_->write(socks_->take_output());
        if (reply.status != wire::StreamStatus::kOk) close_gracefully_ = true;
      }
      if (on_reply_) on_reply_(reply);
    });
  }
  bridge_->start(to_local);
  if (!local_early_.empty()) {
    const util::Bytes early = std::move(local_early_);
    local_early_.clear();
    bridge_->on_local_data(early);
  }
  if (local_eof_) bridge_->on_local_end("");
}

void Channel::write_stream(const util::Bytes& bytes) {
  transport::Connection* c = connection();
  if (c == nullptr) return;
  const std::size_t written = c->write(*stream_, bytes);
  PUNCH_ASSERT(written == bytes.size());  // nothing else was written to this stream yet
  owner_.changed();
}

void Channel::connect_and_bridge(const std::string& host, std::uint16_t port,
                                 util::ByteView leftover) {
  phase_.connect(host, port, leftover);
}

void Channel::start_connect(const std::string& host, std::uint16_t port) {
  connecting_ = std::make_unique<io::TcpConnection>(owner_.loop());
  connecting_->connect(host, port, [this](io::ConnectError error, const std::string& message) {
    if (done()) return;
    if (error != io::ConnectError::kNone) {
      util::log_info(label_ + ": " + message);
      connecting_.reset();
      phase_.refuse(status_of(error), message);
      return;
    }
    local_ = std::move(connecting_);
    phase_.on_connected();
  });
}

void Channel::reply_and_bridge(std::unique_ptr<io::Duplex> local, util::ByteView leftover) {
  local_ = std::move(local);
  phase_.reply_and_bridge(leftover);
}

void Channel::refuse(wire::StreamStatus status, const std::string& reason) {
  phase_.refuse(status, reason);
}

void Channel::hold_listener(std::unique_ptr<io::TcpListener> listener, std::uint16_t bound_port) {
  listener_ = std::move(listener);
  phase_.hold(bound_port);
}

void Channel::on_stream_event(const transport::Event& event) {
  if (done()) return;
  deadline_.on_activity(io::now());
  const Phase phase = phase_.state();
  if (event.kind == transport::Event::Kind::kStreamReset && phase != Phase::kBridging) {
    phase_.on_stream_reset();
    return;
  }
  switch (phase) {
    case Phase::kBridging:
      bridge_->on_stream_event(event);
      break;
    case Phase::kRequest:
      if (event.kind == transport::Event::Kind::kReadable) read_request();
      break;
    case Phase::kControl:
    case Phase::kRefused:
      if (event.kind == transport::Event::Kind::kReadable) read_control();
      break;
    default:
      break;  // kConnecting: the stream waits (flow control holds the peer back)
  }
}

void Channel::poll() {
  if (phase_.state() == Phase::kBridging && bridge_) bridge_->poll();
}

void Channel::on_session_down(const std::string& reason, bool clean) {
  if (done()) return;
  if (phase_.state() == Phase::kBridging && bridge_) {
    bridge_->on_session_down(reason, clean);
    return;
  }
  phase_.on_session_down(reason);
}

void Channel::bridge_finished(const std::string& reason) {
  if (reason.empty() || !local_) {
    phase_.finish(reason);
    return;
  }
  if (!close_gracefully_) {
    // The far side failed (refused, reset, gone): the local connection ends
    // the way a TCP connection to that target would, with a reset.
    local_->abort();
    phase_.finish(reason);
    return;
  }
  // A SOCKS5 error reply is queued for the local client: let it out and end
  // with a FIN rather than a reset that could discard it.
  local_->finish([this, reason](const std::string&) { phase_.finish(reason); });
}

void Channel::abort(const std::string& reason) { phase_.abort(reason); }

ChannelDeadline::Expiry Channel::check_deadline(util::TimePoint now) {
  if (done()) return ChannelDeadline::Expiry::kNone;
  const ChannelDeadline::Expiry expiry = deadline_.check(now);
  // Acted on once: a SOCKS5 refusal still on its way out must not be reset next pass.
  if (expiry != ChannelDeadline::Expiry::kNone) deadline_.stop();
  switch (expiry) {
    case ChannelDeadline::Expiry::kNone:
      break;
    case ChannelDeadline::Expiry::kNoStreamCredit:
      refuse_unopened("the peer's stream limit stayed full; refused");
      break;
    case ChannelDeadline::Expiry::kIdle:
      abort("idle for longer than --idle-timeout");
      break;
  }
  return expiry;
}

// An opener that never got a stream: a SOCKS5 client gets "general failure" and a
// FIN, any other local connection a reset, as from a host that refuses it.
void Channel::refuse_unopened(const std::string& reason) {
  if (socks_ && socks_->state() == forward::SocksServer::State::kRequestReady) {
    socks_->reply(wire::SocksReplyCode::kGeneralFailure, util::Address{});
    local_->write(socks_->take_output());
    phase_.refuse_locally();
    local_->finish([this, reason](const std::string&) { phase_.finish(reason); });
    return;
  }
  phase_.abort(reason);
}

// Executes kFinished: the phase is kDone already.
void Channel::finished(const std::string& reason) {
  if (!reason.empty()) util::log_debug(label_ + ": " + reason);
  shutdown();
  owner_.channel_finished();
  owner_.changed();  // the owner forgets done channels on its next poll
  if (on_finished_) on_finished_(reason);
}

void Channel::shutdown() {
  phase_.halt();
  if (socks_timer_) socks_timer_->close();
  if (local_) local_->close();
  if (connecting_) connecting_->close();
  if (listener_) listener_->close();
}

}  // namespace punch::app
