#include "app/stdio_bridge.hpp"

#include <unistd.h>

#include "util/log.hpp"

namespace punch::app {

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
}  // namespace

StdioBridge::StdioBridge(uv_loop_t* loop, session::Endpoint& endpoint,
                         std::function<void()> changed,
                         std::function<void(const std::string&)> finished)
    : endpoint_(endpoint),
      changed_(std::move(changed)),
      finished_(std::move(finished)),
      in_(std::make_unique<io::InputStream>(loop, STDIN_FILENO)),
      out_(std::make_unique<io::OutputStream>(loop, STDOUT_FILENO)) {
  read_buffer_.resize(kReadChunk);
}

StdioBridge::~StdioBridge() { close(); }

transport::Connection* StdioBridge::connection() {
  session::Session* s = endpoint_.session(cid_);
  if (s == nullptr || !s->established()) return nullptr;
  return &s->connection();
}

void StdioBridge::attach(std::uint64_t connection_id, transport::StreamId stream) {
  cid_ = connection_id;
  stream_ = stream;
  attached_ = true;
  out_->on_drain([this] { pull(); });
  in_->start([this](util::ByteView data) { on_input(data); },
             [this](const std::string& error) {
               if (!error.empty()) {
                 fail(error);
                 return;
               }
               input_eof_ = true;
               push_pending();
             });
  pull();  // data may have arrived before we attached
}

void StdioBridge::on_input(util::ByteView data) {
  pending_.insert(pending_.end(), data.begin(), data.end());
  push_pending();
}

void StdioBridge::push_pending() {
  transport::Connection* c = connection();
  if (c == nullptr) return;
  if (!pending_.empty()) {
    const std::size_t n = c->write(stream_, pending_);
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    if (n > 0) changed_();
  }
  if (!pending_.empty()) {
    in_->pause();  // the stream is full: wait for kWritable
  } else if (input_eof_) {
    if (!fin_sent_) {
      util::log_debug("stdin ended; sending FIN");
      fin_sent_ = true;
      c->finish(stream_);
      changed_();
    }
  } else {
    in_->resume();
  }
}

void StdioBridge::pull() {
  if (!attached_ || in_done_ || output_finishing_) return;
  transport::Connection* c = connection();
  if (c == nullptr) return;
  bool read_any = false;
  while (out_->queued() < io::OutputStream::kHighWater) {
    const std::size_t n = c->read(stream_, read_buffer_);
    if (n == 0) break;
    read_any = true;
    out_->write(util::ByteView(read_buffer_.data(), n));
  }
  if (read_any) changed_();  // reading opens flow-control credit to send
  if (c->read_finished(stream_)) {
    util::log_debug("peer finished its direction; closing stdout after " +
                    std::to_string(out_->queued()) + " queued bytes");
    output_finishing_ = true;
    out_->finish([this](const std::string& error) {
      if (!error.empty()) {
        fail(error);
        return;
      }
      in_done_ = true;
      check_done();
    });
  }
}

void StdioBridge::on_stream_event(const transport::Event& event) {
  if (!attached_ || event.stream != stream_) return;
  switch (event.kind) {
    case transport::Event::Kind::kReadable:
      pull();
      break;
    case transport::Event::Kind::kWritable:
      push_pending();
      break;
    case transport::Event::Kind::kStreamReset:
      fail("peer aborted the stream");
      break;
    default:
      break;
  }
}

void StdioBridge::poll() {
  if (!attached_ || out_done_ || !fin_sent_) return;
  transport::Connection* c = connection();
  if (c != nullptr && c->write_finished(stream_)) {
    util::log_debug("peer acknowledged everything we sent");
    out_done_ = true;
    check_done();
  }
}

void StdioBridge::on_session_down(const std::string& reason, bool peer_finished_cleanly) {
  if (!attached_) return;
  // The peer closes only after it received our FIN and sent its own, so whatever
  // is still buffered here is the complete remainder of its direction.
  // The connection object stays readable until the tunnel forgets the session,
  // so pull() keeps draining it into stdout at stdout's pace.
  if (!peer_finished_cleanly || !fin_sent_ || !pending_.empty()) {
    fail(reason);
    return;
  }
  out_done_ = true;
  pull();
  check_done();
}

void StdioBridge::check_done() {
  if (reported_ || !out_done_ || !in_done_) return;
  reported_ = true;
  finished_("");
}

void StdioBridge::fail(const std::string& reason) {
  if (reported_) return;
  reported_ = true;
  finished_(reason);
}

void StdioBridge::close() {
  if (in_) in_->close();
  if (out_) out_->close();
}

}  // namespace punch::app
