// The endpoint's one UDP socket (per address family) on libuv: batched receive
// (recvmmsg), batched sends (one sendmmsg per loop iteration, with UDP GSO for
// runs of equal-size datagrams to one address), an ordered fallback queue when
// the kernel buffer is full, per-datagram TTL for NAT priming, and large socket
// buffers for Gbit/s bursts. The birthday prober's extra sockets (UdpSocketPool)
// are UdpSockets too, lean until they carry traffic.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

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
  std::uint64_t send_calls = 0;    ///< sendmmsg system calls made for batches.
};

/// How much memory a socket commits before it carries traffic.
enum class UdpBuffers {
  kFull,  ///< Large kernel buffers and a 1 MiB receive area: the endpoint's main socket.
  kLean,  ///< Kernel default buffers and one 64 KiB receive chunk until 64 datagrams
          ///< were sent or received, then as kFull.
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

  /// Binds to `local` (port 0 picks one) and starts receiving into `on_receive`;
  /// `buffers` says how much memory it commits before it carries traffic.
  util::Status bind(const util::Address& local, ReceiveFn on_receive,
                    UdpBuffers buffers = UdpBuffers::kFull);
  /// The bound address (with the port the kernel picked); empty once closed.
  util::Address local_address() const;
  /// Adds a copy of `data` to this loop iteration's batch, which leaves in one
  /// sendmmsg before the loop next waits for I/O (or when it is full); when the
  /// kernel buffer is full the rest waits in order in a queue, which drops (and
  /// counts) once it holds kMaxQueued datagrams, as a full router would.
  void send(const util::Address& to, util::ByteView data) override;
  /// Like send(), but the datagram leaves with IP TTL (IPv6 hop limit) `ttl`, 1 to 255,
  /// alone rather than in a GSO run, in order with the datagrams around it.
  void send_with_ttl(const util::Address& to, util::ByteView data, int ttl) override;
  /// Sends the batch now (the loop does it by itself before waiting for I/O).
  void flush();
  /// Counters.
  const UdpStats& stats() const { return stats_; }
  /// Stops receiving and closes the socket.
  void close();

 private:
  struct Pending;
  struct Batched {
    sockaddr_storage to;
    socklen_t to_len;
    std::size_t offset;
    std::size_t size;
    int ttl;  // 0: the socket's default
  };
  static constexpr std::size_t kMaxQueued = 8192;
  void add(const util::Address& to, util::ByteView data, int ttl);
  void send_queued();
  void enqueue(const sockaddr_storage& to, util::ByteView data, int ttl);
  void set_socket_ttl(const sockaddr_storage& to, int ttl);
  std::size_t send_groups(std::size_t first, bool single = false);
  void set_dont_fragment(int family);
  void grow_if_busy();
  void set_socket_buffers();
  void prepare_receive_buffer();

  uv_udp_t* handle_ = nullptr;
  uv_prepare_t* prepare_ = nullptr;  // flushes the batch before the loop blocks
  std::vector<Batched> batch_;
  util::Bytes batch_bytes_;
  bool gso_ = true;       // cleared when the kernel refuses UDP_SEGMENT
  bool too_big_ = false;  // the last sendmmsg failed with EMSGSIZE
  ReceiveFn on_receive_;
  bool lean_ = false;  // UdpBuffers::kLean and not yet busy
  // Allocated at the first receive and never zero-filled, so the kernel maps only
  // the pages recvmmsg writes into; its size never shrinks.
  std::unique_ptr<std::uint8_t[]> recv_buffer_;
  std::size_t recv_buffer_size_ = 0;
  std::deque<std::unique_ptr<Pending>> queue_;
  bool in_flight_ = false;
  UdpStats stats_;
};

}  // namespace punch::io
