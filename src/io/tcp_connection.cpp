#include "io/tcp_connection.hpp"

#include <netdb.h>

#include <algorithm>
#include <cstring>

#include "io/handle.hpp"
#include "io/sockaddr.hpp"
#include "util/assert.hpp"

namespace punch::io {

namespace {

// One read of up to 64 KiB per callback, as InputStream does: a transport frame's worth.
// Bytes read per call. Forwards can have a thousand connections paused at once,
// each holding at most one read the tunnel could not take yet, so this bounds
// that memory (16 MB per thousand) while a bulk stream still needs few calls.
constexpr std::size_t kReadChunk = 16 * 1024;

// One read buffer for every connection: libuv allocates, reads and calls back
// one connection at a time, and the data callback's view ends with the call.
std::uint8_t* shared_read_buffer() {
  static std::uint8_t buffer[kReadChunk];
  return buffer;
}

uv_stream_t* as_stream(uv_tcp_t* tcp) { return reinterpret_cast<uv_stream_t*>(tcp); }

// An owned copy of the bytes of one uv_write, freed in its callback.
struct WriteReq {
  uv_write_t req{};
  util::Bytes data;
};

// The socket's pending error (SO_ERROR, which also clears it) as a uv error; 0 if none.
int socket_error(uv_stream_t* stream) {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(stream), &fd) != 0) return 0;
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return 0;
  return err == 0 ? 0 : uv_translate_sys_error(err);
}

ConnectError classify(int status) {
  switch (status) {
    case 0:
      return ConnectError::kNone;
    case UV_EAI_NONAME:
    case UV_EAI_NODATA:
    case UV_EAI_AGAIN:
    case UV_EAI_FAIL:
      return ConnectError::kNameNotFound;
    case UV_ECONNREFUSED:
      return ConnectError::kRefused;
    case UV_ENETUNREACH:
      return ConnectError::kNetworkUnreachable;
    case UV_EHOSTUNREACH:
      return ConnectError::kHostUnreachable;
    case UV_ETIMEDOUT:
      return ConnectError::kTimedOut;
    default:
      return ConnectError::kOther;
  }
}

std::string connect_message(int status, const util::Address& to) {
  switch (status) {
    case UV_ECONNREFUSED:
      return "connection refused by " + to.to_string();
    case UV_ENETUNREACH:
      return "network unreachable for " + to.to_string();
    case UV_EHOSTUNREACH:
      return "host " + to.to_string() + " unreachable";
    case UV_ETIMEDOUT:
      return "connection to " + to.to_string() + " timed out";
    default:
      return "cannot connect to " + to.to_string() + ": " + uv_strerror(status);
  }
}

std::string host_port(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

// A name lookup in flight; it outlives the connection when close() comes first,
// and its callback frees it either way.
struct TcpConnection::Resolve {
  uv_getaddrinfo_t req{};
  TcpConnection* owner = nullptr;
};

TcpConnection::TcpConnection(uv_loop_t* loop) : loop_(loop), handle_(new uv_tcp_t) {
  PUNCH_ASSERT(uv_tcp_init(loop_, handle_) == 0);
  handle_->data = this;
}

TcpConnection::~TcpConnection() { close(); }

// ---- connecting --------------------------------------------------------------

void TcpConnection::connect(const std::string& host, std::uint16_t port, ConnectFn done) {
  PUNCH_ASSERT(state_ == State::kIdle && "connect() called twice or on an accepted connection");
  state_ = State::kResolving;
  dial_.host = host;
  dial_.port = port;
  on_connect_ = std::move(done);

  timer_ = new uv_timer_t;
  PUNCH_ASSERT(uv_timer_init(loop_, timer_) == 0);
  timer_->data = this;
  const auto timer_cb = [](uv_timer_t* t) { static_cast<TcpConnection*>(t->data)->on_timer(); };
  uv_timer_start(
      timer_, timer_cb,
      static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(kConnectTimeout).count()),
      0);

  // Always through uv_getaddrinfo, even for IP literals (answered without DNS), so
  // `done` never runs inside connect() and there is one path to the addresses.
  auto* r = new Resolve;
  r->owner = this;
  r->req.data = r;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const int rc = uv_getaddrinfo(
      loop_, &r->req,
      [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
        auto* resolve = static_cast<Resolve*>(req->data);
        TcpConnection* self = resolve->owner;
        delete resolve;
        if (self != nullptr) {
          self->resolve_ = nullptr;
          self->on_resolved(status, res);  // may destroy self; res is ours to free
        }
        uv_freeaddrinfo(res);
      },
      dial_.host.c_str(), nullptr, &hints);
  if (rc != 0) {
    delete r;
    // Reported from the timer, at once, so the callback still runs after connect().
    dial_.pending_error = classify(rc);
    if (dial_.pending_error == ConnectError::kNone) dial_.pending_error = ConnectError::kOther;
    dial_.pending_message = "cannot resolve '" + dial_.host + "': " + uv_strerror(rc);
    uv_timer_start(timer_, timer_cb, 0, 0);
    return;
  }
  resolve_ = r;
}

void TcpConnection::on_resolved(int status, const addrinfo* res) {
  if (status != 0) {
    if (status == UV_EAI_NONAME || status == UV_EAI_NODATA) {
      fail(ConnectError::kNameNotFound, "no such host '" + dial_.host + "'");
    } else {
      const ConnectError e = classify(status);
      fail(e == ConnectError::kNone ? ConnectError::kOther : e,
           "cannot resolve '" + dial_.host + "': " + uv_strerror(status));
    }
    return;
  }
  for (const addrinfo* p = res; p != nullptr; p = p->ai_next) {
    if (p->ai_family != AF_INET && p->ai_family != AF_INET6) continue;
    util::Address a = from_sockaddr(p->ai_addr);
    a.port = dial_.port;
    sockaddr_storage ss;
    to_sockaddr(a, ss);
    if (p->ai_family == AF_INET6) {
      // Keep the scope of a link-local literal such as fe80::1%eth0.
      reinterpret_cast<sockaddr_in6*>(&ss)->sin6_scope_id =
          reinterpret_cast<const sockaddr_in6*>(p->ai_addr)->sin6_scope_id;
    }
    dial_.addresses.push_back(ss);
  }
  if (dial_.addresses.empty()) {
    fail(ConnectError::kNameNotFound, "no address for host '" + dial_.host + "'");
    return;
  }
  state_ = State::kConnecting;
  try_next();
}

void TcpConnection::try_next() {
  int last = UV_EINVAL;
  while (dial_.next_address < dial_.addresses.size()) {
    const sockaddr_storage& ss = dial_.addresses[dial_.next_address++];
    dial_.attempt = from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
    if (handle_used_) {
      // A socket whose connect failed cannot be reused (and may be the wrong family).
      release_handle();
      handle_ = new uv_tcp_t;
      PUNCH_ASSERT(uv_tcp_init(loop_, handle_) == 0);
      handle_->data = this;
    }
    handle_used_ = true;
    auto* req = new uv_connect_t;
    last = uv_tcp_connect(req, handle_, reinterpret_cast<const sockaddr*>(&ss),
                          [](uv_connect_t* r, int status) {
                            uv_stream_t* h = r->handle;
                            delete r;
                            // Null when the handle was closed: the attempt was abandoned.
                            auto* self = static_cast<TcpConnection*>(h->data);
                            if (self != nullptr) self->on_connected(status);
                          });
    if (last == 0) return;
    delete req;
    dial_.last_status = last;
  }
  fail(classify(dial_.last_status) == ConnectError::kNone ? ConnectError::kOther
                                                          : classify(dial_.last_status),
       connect_message(dial_.last_status, dial_.attempt));
}

void TcpConnection::on_connected(int status) {
  if (status != 0) {
    dial_.last_status = status;
    try_next();
    return;
  }
  stop_connecting();
  std::weak_ptr<int> alive = life_;
  auto fn = std::move(on_connect_);
  connected();  // may report a failed early write to on_end
  if (alive.expired()) return;
  if (fn) fn(ConnectError::kNone, "");
  if (alive.expired() || state_ != State::kConnected) return;
  // finish() called before the connection existed: send the FIN now.
  if (finishing_ && !shutdown_sent_) send_shutdown();
}

void TcpConnection::on_timer() {
  if (dial_.pending_error != ConnectError::kNone) {
    fail(dial_.pending_error, dial_.pending_message);
    return;
  }
  if (state_ == State::kConnecting) release_handle();  // abandons the attempt in flight
  const bool resolving = state_ == State::kResolving;
  fail(ConnectError::kTimedOut,
       std::string(resolving ? "timed out resolving '" + dial_.host + "'"
                             : "timed out connecting to " + host_port(dial_.host, dial_.port)) +
           " (" + std::to_string(kConnectTimeout.count()) + " s)");
}

void TcpConnection::fail(ConnectError error, const std::string& message) {
  state_ = State::kFailed;
  stop_connecting();
  queued_ = 0;
  pending_writes_.clear();
  auto fn = std::move(on_connect_);
  if (fn) fn(error, message);
}

void TcpConnection::stop_connecting() {
  if (timer_ != nullptr) {
    close_and_delete(timer_);
    timer_ = nullptr;
  }
  if (resolve_ != nullptr) {
    resolve_->owner = nullptr;  // its callback frees it, and returns at once if cancelled
    uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_->req));
    resolve_ = nullptr;
  }
}

int TcpConnection::accept_from(uv_stream_t* server) {
  PUNCH_ASSERT(state_ == State::kIdle);
  const int rc = uv_accept(server, as_stream(handle_));
  handle_used_ = true;
  if (rc != 0) {
    state_ = State::kFailed;
    return rc;
  }
  connected();
  return 0;
}

void TcpConnection::connected() {
  state_ = State::kConnected;
  // Interactive traffic (ssh keystrokes) must not wait for Nagle's 40 ms.
  uv_tcp_nodelay(handle_, 1);
  auto pending = std::move(pending_writes_);
  pending_writes_.clear();
  for (auto& data : pending) submit(std::move(data));
  if (started_ && !paused_) start_reading();
}

// ---- reading -----------------------------------------------------------------

void TcpConnection::start(DataFn on_data, EndFn on_end) {
  on_data_ = std::move(on_data);
  on_end_ = std::move(on_end);
  started_ = true;
  resume();
}

void TcpConnection::pause() {
  paused_ = true;
  if (reading_ && handle_ != nullptr) uv_read_stop(as_stream(handle_));
  reading_ = false;
}

void TcpConnection::resume() {
  paused_ = false;
  if (started_ && state_ == State::kConnected) start_reading();
}

void TcpConnection::start_reading() {
  if (reading_ || ended_ || handle_ == nullptr) return;
  const int rc = uv_read_start(
      as_stream(handle_),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        (void)h;
        buf->base = reinterpret_cast<char*>(shared_read_buffer());
        buf->len = kReadChunk;
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* self = static_cast<TcpConnection*>(s->data);
        if (self == nullptr || nread == 0) return;  // 0 is EAGAIN
        if (nread > 0) {
          // Called from a local so the callback may destroy the connection; put back
          // unless it did, or replaced the callback through start().
          std::weak_ptr<int> alive = self->life_;
          auto fn = std::move(self->on_data_);
          fn(util::ByteView(reinterpret_cast<const std::uint8_t*>(buf->base),
                            static_cast<std::size_t>(nread)));
          if (!alive.expired() && !self->on_data_) self->on_data_ = std::move(fn);
          return;
        }
        // EOF is the peer's FIN: only its sending direction ended, so ours stays
        // open (half-close). A write error seen earlier is the better explanation.
        if (nread == UV_EOF) {
          // libuv reports EOF for a hang-up that followed data without reading the
          // socket error, so an RST would pass for a FIN; SO_ERROR tells them apart.
          const int pending = socket_error(s);
          if (!self->write_error_.empty()) {
            self->end_input(self->write_error_);
          } else if (pending != 0) {
            self->end_input(uv_strerror(pending));
          } else {
            self->end_input("");
          }
        } else {
          self->end_input(uv_strerror(static_cast<int>(nread)));  // "connection reset by peer"
        }
      });
  if (rc == 0) reading_ = true;
}

void TcpConnection::end_input(const std::string& error) {
  if (ended_) return;
  ended_ = true;
  if (reading_ && handle_ != nullptr) uv_read_stop(as_stream(handle_));
  reading_ = false;
  auto fn = std::move(on_end_);
  if (fn) fn(error);
}

// ---- writing -----------------------------------------------------------------

void TcpConnection::write(util::ByteView data) {
  if (data.empty() || finishing_ || !write_error_.empty()) return;
  switch (state_) {
    case State::kIdle:
    case State::kResolving:
    case State::kConnecting:
      // Held until connected, so a forward can relay bytes that arrive early.
      queued_ += data.size();
      if (queued_ >= kHighWater) above_high_ = true;
      pending_writes_.emplace_back(data.begin(), data.end());
      return;
    case State::kConnected:
      queued_ += data.size();
      if (queued_ >= kHighWater) above_high_ = true;  // the producer stops at >=
      submit(util::Bytes(data.begin(), data.end()));
      return;
    default:
      return;
  }
}

void TcpConnection::submit(util::Bytes data) {
  auto* w = new WriteReq;
  w->data = std::move(data);
  w->req.data = w;
  const std::size_t n = w->data.size();
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(w->data.data()), static_cast<unsigned>(n));
  const int rc = uv_write(&w->req, as_stream(handle_), &buf, 1, [](uv_write_t* req, int status) {
    auto* wr = static_cast<WriteReq*>(req->data);
    uv_stream_t* h = req->handle;
    const std::size_t size = wr->data.size();
    delete wr;
    auto* self = static_cast<TcpConnection*>(h->data);  // null once closed
    if (self != nullptr) self->on_written(size, status);
  });
  if (rc != 0) {
    delete w;
    queued_ -= std::min(n, queued_);
    write_failed(rc);
  }
}

void TcpConnection::on_written(std::size_t n, int status) {
  queued_ -= std::min(n, queued_);
  if (status != 0) {
    write_failed(status);
    return;
  }
  if (above_high_ && queued_ < kLowWater) {
    above_high_ = false;
    auto fn = on_drain_;  // a copy: the callback may replace or destroy the original
    if (fn) fn();
  }
}

void TcpConnection::write_failed(int status) {
  if (status == UV_ECANCELED || !write_error_.empty()) return;
  write_error_ = uv_strerror(status);
  // The connection is broken both ways: tell the reader, and a pending finish(),
  // without waiting for a shutdown that may never complete.
  std::weak_ptr<int> alive = life_;
  if (started_) end_input(write_error_);
  if (alive.expired()) return;
  if (finishing_) {
    auto fn = std::move(on_done_);
    if (fn) fn(write_error_);
  }
}

void TcpConnection::finish(DoneFn done) {
  if (finishing_ || state_ == State::kClosed) return;
  finishing_ = true;
  on_done_ = std::move(done);
  switch (state_) {
    case State::kIdle:
    case State::kResolving:
    case State::kConnecting:
      return;  // the FIN follows the connection and the bytes held for it
    case State::kConnected:
      if (!write_error_.empty()) {
        auto fn = std::move(on_done_);
        if (fn) fn(write_error_);
        return;
      }
      send_shutdown();
      return;
    default: {
      auto fn = std::move(on_done_);
      if (fn) fn("not connected");
      return;
    }
  }
}

void TcpConnection::send_shutdown() {
  shutdown_sent_ = true;
  auto* req = new uv_shutdown_t;
  // libuv performs the shutdown after every queued write, which is the order we need.
  const int rc = uv_shutdown(req, as_stream(handle_), [](uv_shutdown_t* r, int status) {
    uv_stream_t* h = r->handle;
    delete r;
    auto* self = static_cast<TcpConnection*>(h->data);
    if (self != nullptr) self->on_shutdown(status);
  });
  if (rc != 0) {
    delete req;
    on_shutdown(rc);
  }
}

void TcpConnection::on_shutdown(int status) {
  if (status == UV_ECANCELED) return;
  auto fn = std::move(on_done_);
  if (!fn) return;  // already reported by write_failed()
  if (!write_error_.empty()) {
    fn(write_error_);
  } else {
    fn(status == 0 ? std::string() : std::string(uv_strerror(status)));
  }
}

// ---- teardown ------------------------------------------------------------------

void TcpConnection::abort() {
  if (state_ == State::kClosed) return;
  if (handle_ != nullptr && state_ == State::kConnected) {
    uv_tcp_t* h = handle_;
    handle_ = nullptr;
    h->data = nullptr;  // pending requests' callbacks see no owner
    uv_read_stop(as_stream(h));
    // SO_LINGER with a zero timeout turns close() into RST; uv_tcp_close_reset does
    // exactly that but refuses while a shutdown is pending, so set it ourselves then.
    if (uv_tcp_close_reset(h, [](uv_handle_t* c) { delete reinterpret_cast<uv_tcp_t*>(c); }) != 0) {
      uv_os_fd_t fd;
      if (uv_fileno(reinterpret_cast<uv_handle_t*>(h), &fd) == 0) {
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      }
      close_and_delete(h);
    }
  }
  close();
}

void TcpConnection::release_handle() {
  if (handle_ == nullptr) return;
  handle_->data = nullptr;  // pending requests' callbacks see no owner
  close_and_delete(handle_);
  handle_ = nullptr;
}

void TcpConnection::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  stop_connecting();
  release_handle();
  ended_ = true;
  reading_ = false;
  finishing_ = true;
  queued_ = 0;
  pending_writes_.clear();
}

util::Address TcpConnection::peer_address() const {
  if (handle_ == nullptr || state_ != State::kConnected) return {};
  sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getpeername(handle_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
}

util::Address TcpConnection::local_address() const {
  if (handle_ == nullptr || state_ != State::kConnected) return {};
  sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getsockname(handle_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
}

}  // namespace punch::io
