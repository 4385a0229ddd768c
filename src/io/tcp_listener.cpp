#include "io/tcp_listener.hpp"

#include <string>

#include "io/handle.hpp"
#include "io/sockaddr.hpp"
#include "util/assert.hpp"
#include "util/log.hpp"

namespace punch::io {

TcpListener::TcpListener(uv_loop_t* loop) : loop_(loop) {}

TcpListener::~TcpListener() { close(); }

util::Status TcpListener::listen(const util::Address& bind, AcceptFn on_accept) {
  close();
  if (!bind.valid()) return util::Error{"cannot listen on an empty address"};
  handle_ = new uv_tcp_t;
  PUNCH_ASSERT(uv_tcp_init(loop_, handle_) == 0);
  handle_->data = this;
  sockaddr_storage ss;
  to_sockaddr(bind, ss);
  // libuv sets SO_REUSEADDR itself (restarts need no TIME_WAIT grace); an IPv6
  // listener must not also grab the IPv4 port.
  const unsigned flags = bind.family == 6 ? UV_TCP_IPV6ONLY : 0;
  int rc = uv_tcp_bind(handle_, reinterpret_cast<const sockaddr*>(&ss), flags);
  if (rc == 0) {
    // libuv may defer a bind error such as EADDRINUSE to listen().
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(handle_), kBacklog,
                   [](uv_stream_t* server, int status) {
                     auto* self = static_cast<TcpListener*>(server->data);
                     if (self != nullptr) self->on_connection(status);
                   });
  }
  if (rc != 0) {
    close();
    return util::Error{"cannot listen on " + bind.to_string() + ": " + uv_strerror(rc)};
  }
  on_accept_ = std::move(on_accept);
  bound_ = bind;
  return util::ok_status();
}

void TcpListener::on_connection(int status) {
  if (status != 0) {
    // Logged and ignored: the next connection may well succeed. (At EMFILE libuv
    // itself accepts and drops the pending connections with a reserved fd, so a
    // full fd table neither spins the loop nor usually reaches here.)
    util::log_warn("cannot accept a connection on " + bound_.to_string() + ": " +
                   uv_strerror(status));
    return;
  }
  auto conn = std::make_unique<TcpConnection>(loop_);
  const int rc = conn->accept_from(reinterpret_cast<uv_stream_t*>(handle_));
  if (rc != 0) {
    util::log_warn("cannot accept a connection on " + bound_.to_string() + ": " + uv_strerror(rc));
    return;
  }
  on_accept_(std::move(conn));  // may close or destroy this listener
}

util::Address TcpListener::local_address() const {
  if (handle_ == nullptr) return {};
  sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getsockname(handle_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
}

void TcpListener::close() {
  if (handle_ == nullptr) return;
  handle_->data = nullptr;
  close_and_delete(handle_);
  handle_ = nullptr;
}

}  // namespace punch::io
