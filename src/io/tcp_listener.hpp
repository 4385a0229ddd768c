// A listening TCP socket on libuv that hands each accepted connection over as a
// TcpConnection: the local end of -L and -D forwards, and the far end of -R.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>

#include "io/tcp_connection.hpp"
#include "util/address.hpp"
#include "util/result.hpp"

namespace punch::io {

/// Accepts TCP connections on one local address.
class TcpListener {
 public:
  /// Called with each accepted, connected connection (TCP_NODELAY set, not yet reading).
  using AcceptFn = std::function<void(std::unique_ptr<TcpConnection>)>;

  /// Pending connections the kernel queues before accept(): the common default.
  static constexpr int kBacklog = 128;

  /// Creates a listener on `loop` that listens nowhere yet.
  explicit TcpListener(uv_loop_t* loop);
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  /// Binds to `bind` (port 0 picks one; IPv6 binds v6-only, so [::1] and 127.0.0.1
  /// are separate) and hands connections to `on_accept`; the error names the address,
  /// as in "cannot listen on 127.0.0.1:22: address already in use".
  util::Status listen(const util::Address& bind, AcceptFn on_accept);
  /// The bound address with the kernel's port; empty when not listening.
  util::Address local_address() const;
  /// Stops listening; idempotent, and no callback runs afterwards.
  void close();

 private:
  void on_connection(int status);

  uv_loop_t* loop_;
  uv_tcp_t* handle_ = nullptr;
  util::Address bound_;
  AcceptFn on_accept_;
};

}  // namespace punch::io
