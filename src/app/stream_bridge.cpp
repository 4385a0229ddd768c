#include "app/stream_bridge.hpp"

#include "util/log.hpp"

namespace punch::app {

namespace {
// Bytes read from the stream per call: large enough that a Gbit/s stream costs
// few calls, small enough to stay in cache.
constexpr std::size_t kReadChunk = 64 * 1024;

// Stream bytes pass through here on their way out; pull() uses it synchronously,
// so one buffer serves every bridge (a thousand forwards need not hold 64 MB).
std::span<std::uint8_t> read_scratch() {
  static std::uint8_t buffer[kReadChunk];
  return buffer;
}
// Application error code of a RESET_STREAM punch sends; the peer treats every
// reset alike (the far TCP connection is reset), so one code suffices.
constexpr std::uint64_t kResetCode = 1;
}  // namespace

StreamBridge::StreamBridge(session::Endpoint& endpoint, std::uint64_t cid,
                           transport::StreamId stream, io::Duplex& local,
                           std::function<void()> changed, FinishedFn finished)
    : endpoint_(endpoint),
      cid_(cid),
      stream_(stream),
      local_(local),
      changed_(std::move(changed)),
      finished_(std::move(finished)) {}

transport::Connection* StreamBridge::connection() {
  session::Session* s = endpoint_.session(cid_);
  if (s == nullptr || !s->established()) return nullptr;
  return &s->connection();
}

void StreamBridge::expect_reply(ReplyFn on_reply) {
  on_reply_ = std::move(on_reply);
  awaiting_reply_ = true;
}

void StreamBridge::start(util::ByteView to_local) {
  started_ = true;
  local_.on_drain([this] { pull(); });
  if (!to_local.empty()) {
    local_.write(to_local);
    bytes_in_ += to_local.size();
  }
  push_pending();
  pull();  // data may have arrived before we started
}

void StreamBridge::on_local_data(util::ByteView data) {
  if (reported_) return;
  pending_.insert(pending_.end(), data.begin(), data.end());
  if (started_) push_pending();
}

void StreamBridge::on_local_end(const std::string& error) {
  if (reported_) return;
  if (!error.empty()) {
    fail(error, true);
    return;
  }
  input_eof_ = true;
  if (started_) push_pending();
}

void StreamBridge::push_pending() {
  if (reported_) return;
  transport::Connection* c = connection();
  if (c == nullptr) return;
  if (!pending_.empty()) {
    const std::size_t n = c->write(stream_, pending_);
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    bytes_out_ += n;
    if (n > 0) changed_();
  }
  if (!pending_.empty()) {
    local_.pause();  // the stream is full: wait for kWritable
  } else if (input_eof_) {
    if (!fin_sent_) {
      fin_sent_ = true;
      c->finish(stream_);
      changed_();
      if (on_fin_sent_) on_fin_sent_();
    }
  } else {
    local_.resume();
  }
}

// Consumes reply bytes from `data`; true once the reply is complete (`used`
// says how many bytes of `data` it took). Fails the bridge on a bad reply.
bool StreamBridge::strip_reply(util::ByteView data, std::size_t& used) {
  const std::size_t before = reply_buffer_.size();
  reply_buffer_.insert(reply_buffer_.end(), data.begin(), data.end());
  const auto decoded = wire::decode_stream_reply(reply_buffer_);
  if (decoded.need_more()) {
    used = data.size();
    return false;
  }
  if (decoded.malformed()) {
    fail("peer sent a malformed stream reply", true);
    return false;
  }
  awaiting_reply_ = false;
  used = decoded.consumed - before;
  const wire::StreamReply reply = decoded.message;
  reply_buffer_.clear();
  if (on_reply_) on_reply_(reply);
  if (reply.status != wire::StreamStatus::kOk) {
    fail(reply.reason.empty() ? "refused by peer" : reply.reason, true);
    return false;
  }
  return !reported_;
}

void StreamBridge::pull() {
  if (!started_ || reported_ || in_done_ || output_finishing_) return;
  transport::Connection* c = connection();
  if (c == nullptr) return;
  bool read_any = false;
  while (local_.queued() < io::Duplex::kHighWater) {
    const std::span<std::uint8_t> scratch = read_scratch();
    const std::size_t n = c->read(stream_, scratch);
    if (n == 0) break;
    read_any = true;
    util::ByteView data(scratch.data(), n);
    if (awaiting_reply_) {
      std::size_t used = 0;
      if (!strip_reply(data, used)) {
        if (reported_) return;
        continue;
      }
      data = data.subspan(used);
    }
    if (!data.empty()) {
      local_.write(data);
      bytes_in_ += data.size();
    }
  }
  if (read_any) changed_();  // reading opens flow-control credit to send
  if (c->read_finished(stream_)) {
    if (awaiting_reply_) {
      fail("peer closed the stream without answering", true);
      return;
    }
    output_finishing_ = true;
    local_.finish([this](const std::string& error) {
      if (!error.empty()) {
        fail(error, true);
        return;
      }
      in_done_ = true;
      check_done();
    });
  }
}

void StreamBridge::on_stream_event(const transport::Event& event) {
  if (!started_ || reported_ || event.stream != stream_) return;
  switch (event.kind) {
    case transport::Event::Kind::kReadable:
      pull();
      break;
    case transport::Event::Kind::kWritable:
      push_pending();
      break;
    case transport::Event::Kind::kStreamReset:
      local_.abort();  // a reset travels on as a reset
      fail("peer aborted the stream", false);
      break;
    default:
      break;
  }
}

void StreamBridge::poll() {
  if (!started_ || reported_ || out_done_ || !fin_sent_) return;
  transport::Connection* c = connection();
  if (c != nullptr && c->write_finished(stream_)) {
    out_done_ = true;
    check_done();
  }
}

void StreamBridge::on_session_down(const std::string& reason, bool peer_finished_cleanly) {
  if (reported_) return;
  // The peer closes cleanly only after it received our FIN and sent its own,
  // so whatever is still buffered here is the complete remainder of its
  // direction. The connection object stays readable until the tunnel forgets
  // the session, so pull() keeps draining it at the local side's pace.
  if (!started_ || !peer_finished_cleanly || !fin_sent_ || !pending_.empty()) {
    local_.abort();
    fail(reason, false);
    return;
  }
  out_done_ = true;
  pull();
  check_done();
}

void StreamBridge::check_done() {
  if (reported_ || !out_done_ || !in_done_) return;
  reported_ = true;
  finished_("");
}

void StreamBridge::fail(const std::string& reason, bool reset_stream) {
  if (reported_) return;
  reported_ = true;
  if (reset_stream) {
    if (transport::Connection* c = connection()) {
      c->reset(stream_, kResetCode);
      changed_();
    }
  }
  util::log_debug("stream " + std::to_string(stream_) + ": " + reason);
  finished_(reason);
}

}  // namespace punch::app
