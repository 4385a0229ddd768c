// The endpoint's one UDP socket (per address family) on libuv: batched receive
// (recvmmsg), immediate sends with an ordered fallback queue when the kernel
// buffer is full, and large socket buffers for Gbit/s bursts.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

#include "util/address.hpp"
#include "util/bytes.hpp"
#include "util/datagram_sink.hpp"
#include "util/result.hpp"

namespace punch::io {

/// Counters for logs and tests.
struct UdpStats {
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t queued = 0;        ///< Sends that waited for buffer space.
  std::uint64_t dropped_full = 0;  ///< Sends dropped because the queue was full.
  std::uint64_t send_errors = 0;   ///< Other send failures (unreachable, ...).
};

/// A bound UDP socket that is also the cores' DatagramSink.
class UdpSocket final : public util::DatagramSink {
 public:
  /// Called for each received datagram; the view is valid only during the call.
  using ReceiveFn = std::function<void(const util::Address& from, util::ByteView data)>;

  /// Creates an unbound socket on `loop`.
  explicit UdpSocket(uv_loop_t* loop);
  ~UdpSocket() override;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  /// Binds to `local` (port 0 picks one) and starts receiving into `on_receive`.
  util::Status bind(const util::Address& local, ReceiveFn on_receive);
  /// The bound address (with the port the kernel picked).
  util::Address local_address() const;
  /// Sends now, or queues in order when the kernel buffer is full; drops (and
  /// counts) once the queue holds kMaxQueued datagrams, as a full router would.
  void send(const util::Address& to, util::ByteView data) override;
  /// Counters.
  const UdpStats& stats() const { return stats_; }
  /// Stops receiving and closes the socket.
  void close();

 private:
  struct Pending;
  static constexpr std::size_t kMaxQueued = 8192;
  void send_queued();

  uv_udp_t* handle_ = nullptr;
  ReceiveFn on_receive_;
  util::Bytes recv_buffer_;
  std::deque<std::unique_ptr<Pending>> queue_;
  bool in_flight_ = false;
  UdpStats stats_;
};

}  // namespace punch::io
