// The extra UDP sockets of util::SocketPool on libuv, for the birthday prober
// (docs/birthday.md): each one is a full UdpSocket, because the socket whose port
// the peer guessed becomes the session's direct path and carries its bulk traffic
// with batching and GSO. Until a socket carries traffic it stays lean (kernel
// default buffers, one receive chunk), so a round of hundreds costs little memory.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "io/udp_socket.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"
#include "util/datagram_sink.hpp"
#include "util/socket_pool.hpp"

namespace punch::io {

/// Extra sockets beside the endpoint's main one, on the main socket's IP.
class UdpSocketPool final : public util::SocketPool {
 public:
  /// Called for each datagram an extra socket receives, with that socket's id; the
  /// view is valid only during the call, which may close any socket of the pool.
  using ReceiveFn =
      std::function<void(util::SocketId socket, const util::Address& from, util::ByteView data)>;

  /// Creates an empty pool on `loop`; sockets bind to `main`'s IP (read at each
  /// open(), so `main` may bind later) and must not outlive it.
  UdpSocketPool(uv_loop_t* loop, const UdpSocket& main, ReceiveFn on_receive);
  ~UdpSocketPool() override;
  UdpSocketPool(const UdpSocketPool&) = delete;
  UdpSocketPool& operator=(const UdpSocketPool&) = delete;

  /// Binds one more socket to the main socket's IP, port 0; nullopt (logged at
  /// debug level) when the system refuses, e.g. out of descriptors, or after close_all().
  std::optional<util::SocketId> open() override;
  /// Closes socket `id`; its batch still leaves and nothing more arrives. Unknown or
  /// already closed ids are ignored. Safe inside the receive callback, even for `id`.
  void close(util::SocketId id) override;
  /// The sink of open socket `id`; for a closed or unknown id, one that drops.
  util::DatagramSink& sink(util::SocketId id) override;
  /// How many sockets are open.
  std::size_t open_count() const override { return sockets_.size(); }

  /// Closes every socket and makes open() fail from then on: the shutdown path.
  void close_all();
  /// Socket `id` (for its address and counters), or null when it is not open.
  const UdpSocket* socket(util::SocketId id) const;

 private:
  // Drops what a core sends through a socket it already closed.
  class DropSink final : public util::DatagramSink {
   public:
    void send(const util::Address&, util::ByteView) override {}
  };

  void deliver(util::SocketId id, const util::Address& from, util::ByteView data);
  util::SocketId next_free_id();

  uv_loop_t* loop_;
  const UdpSocket& main_;
  ReceiveFn on_receive_;
  std::map<util::SocketId, std::unique_ptr<UdpSocket>> sockets_;
  // Sockets closed while a receive callback was running: one of them may be the
  // socket whose callback is on the stack, so they are destroyed when it returns.
  std::vector<std::unique_ptr<UdpSocket>> closed_;
  int delivering_ = 0;  // nesting depth of receive callbacks
  util::SocketId last_id_ = util::kMainSocket;
  bool shut_ = false;
  DropSink drop_;
};

}  // namespace punch::io
