// One TCP connection on libuv as a Duplex, for port forwards (-L/-R/-D): an
// asynchronous connect by name or IP literal, reads with back-pressure, queued
// writes, half-close (FIN) and abort (RST).
//
// libuv writes with write(2), so a write to a connection the peer has reset
// raises SIGPIPE: the process must ignore SIGPIPE (the error then arrives as EPIPE).
#pragma once

#include <netdb.h>
#include <sys/socket.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/duplex.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"

namespace punch::io {

class TcpListener;

/// Why connect() failed, for forwarding protocols that report the reason (SOCKS5 replies).
enum class ConnectError {
  kNone,                ///< Connected.
  kNameNotFound,        ///< The host name did not resolve.
  kRefused,             ///< The host answered with RST: nothing listens on the port.
  kNetworkUnreachable,  ///< No route to the host's network.
  kHostUnreachable,     ///< The host did not answer ARP/ND or a router said so.
  kTimedOut,            ///< kConnectTimeout passed, or the kernel gave up.
  kOther,               ///< Anything else; the message says what.
};

/// A TCP connection: connected by connect() or accepted by a TcpListener.
class TcpConnection final : public Duplex {
 public:
  /// Called once when connect() finished: kNone and "" on success, else the reason
  /// and a user-facing message such as "connection refused by 127.0.0.1:9".
  using ConnectFn = std::function<void(ConnectError error, const std::string& message)>;

  /// Bound on resolving plus connecting, so a black-holed address fails within
  /// the time a user waits for an ssh prompt instead of the kernel's ~2 minutes.
  static constexpr std::chrono::seconds kConnectTimeout{10};

  /// Creates an unconnected TCP handle on `loop`.
  explicit TcpConnection(uv_loop_t* loop);
  ~TcpConnection() override;
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  /// Resolves `host` (DNS name or IP literal, IPv6 without brackets) and connects to
  /// `port` on each address in turn until one answers; calls `done` exactly once,
  /// never from inside connect() and never after close(); call at most once.
  void connect(const std::string& host, std::uint16_t port, ConnectFn done);

  /// Starts reading into `on_data`; `on_end` gets "" at the peer's FIN, else an error
  /// ("connection reset by peer", or a write error such as "broken pipe"); reading
  /// starts once connected if called earlier. Any callback may destroy the connection.
  void start(DataFn on_data, EndFn on_end) override;
  /// Stops reading until resume(); the kernel window then pushes back on the peer.
  void pause() override;
  /// Continues reading after pause().
  void resume() override;
  /// Queues a copy of `data`; ignored after finish(), abort(), close() or a write error.
  void write(util::ByteView data) override;
  /// Bytes queued and not yet accepted by the kernel.
  std::size_t queued() const override { return queued_; }
  /// Sets the callback for the queue falling below kLowWater after reaching kHighWater.
  void on_drain(DrainFn fn) override { on_drain_ = std::move(fn); }
  /// After the queued bytes, sends FIN (shutdown) and calls `done` ("" or the write
  /// or shutdown error; "not connected" at once after a failed connect); reading
  /// continues until the peer's own FIN.
  void finish(DoneFn done) override;
  /// Sends RST now and drops the queue; no callback runs afterwards.
  void abort() override;
  /// Closes now (queued bytes are dropped, no RST); idempotent, no callback afterwards.
  void close() override;

  /// The remote address; empty when not connected.
  util::Address peer_address() const;
  /// The local address; empty when not connected.
  util::Address local_address() const;

 private:
  friend class TcpListener;
  struct Resolve;
  enum class State { kIdle, kResolving, kConnecting, kConnected, kFailed, kClosed };

  // Takes the pending connection of `server` (TcpListener's accept); 0 or a uv error.
  int accept_from(uv_stream_t* server);
  void on_resolved(int status, const addrinfo* res);
  void try_next();
  void on_connected(int status);
  void on_timer();
  void fail(ConnectError error, const std::string& message);
  void stop_connecting();
  void connected();
  void start_reading();
  void end_input(const std::string& error);
  void submit(util::Bytes data);
  void on_written(std::size_t n, int status);
  void write_failed(int status);
  void send_shutdown();
  void on_shutdown(int status);
  void release_handle();

  uv_loop_t* loop_;
  uv_tcp_t* handle_ = nullptr;
  uv_timer_t* timer_ = nullptr;  // connect timeout, or a deferred failure
  Resolve* resolve_ = nullptr;   // in flight; its callback frees it
  State state_ = State::kIdle;
  bool handle_used_ = false;  // a connect was tried on handle_, so the next needs a fresh one

  // One outgoing connect: the name, its addresses tried in turn, and how it failed.
  struct Dial {
    std::string host;
    std::uint16_t port = 0;
    std::vector<sockaddr_storage> addresses;
    std::size_t next_address = 0;
    util::Address attempt;        // the address being connected to
    int last_status = UV_EINVAL;  // why the last attempt failed
    ConnectError pending_error = ConnectError::kNone;
    std::string pending_message;
  };
  Dial dial_;
  ConnectFn on_connect_;

  bool started_ = false;
  bool paused_ = false;
  bool reading_ = false;
  bool ended_ = false;
  DataFn on_data_;
  EndFn on_end_;

  std::deque<util::Bytes> pending_writes_;  // written before the connection existed
  std::size_t queued_ = 0;
  bool above_high_ = false;
  bool finishing_ = false;
  bool shutdown_sent_ = false;
  std::string write_error_;
  DrainFn on_drain_;
  DoneFn on_done_;

  // Expires when the object is destroyed, so code that ran a user callback can
  // tell whether the callback destroyed it.
  std::shared_ptr<int> life_ = std::make_shared<int>(0);
};

}  // namespace punch::io
