#include "io/udp_socket.hpp"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "io/handle.hpp"
#include "io/sockaddr.hpp"
#include "util/assert.hpp"

namespace punch::io {

namespace {
// libuv hands recvmmsg chunks of 64 KiB; 16 of them = up to 16 datagrams per syscall.
constexpr std::size_t kRecvChunk = 64 * 1024;
constexpr std::size_t kRecvChunks = 16;
// Bursts of a few thousand 1200-byte datagrams must not overflow the kernel queue.
constexpr int kSocketBuffer = 8 * 1024 * 1024;
// Datagrams (sent plus received) after which a lean socket counts as busy and gets
// the full buffers. The birthday prober's sockets each send a few primes and
// probes and receive a guess or two before most are closed; a bulk transfer passes
// 64 within milliseconds, and until then one 64 KiB chunk per recvmmsg suffices.
constexpr std::uint64_t kLeanDatagrams = 64;
// Datagrams a batch holds before it is sent early. One sendmmsg per 32 cuts the
// syscall cost per datagram by more than an order of magnitude, while sending
// early keeps the next hop (relay, peer) busy on another core: with 256 per
// batch the pipeline stalled and 30 MB each way through a loopback relay took
// 1.23-1.32 s, against 0.98-1.04 s with 32 and 1.5-2.3 s unbatched.
constexpr std::size_t kMaxBatch = 32;
// Messages per sendmmsg call (each may be a GSO run of several datagrams).
constexpr unsigned kMaxMessages = 64;
// The kernel accepts at most 64 segments per GSO send (UDP_MAX_SEGMENTS)...
constexpr std::size_t kMaxSegments = 64;
// ...and at most one UDP payload's worth of bytes (65,507 for IPv4).
constexpr std::size_t kMaxGsoBytes = 65000;
#ifndef UDP_SEGMENT
constexpr int UDP_SEGMENT = 103;  // Linux 4.18+; older headers lack the name
#endif
// The highest TTL an IP header carries; the kernel rejects anything else.
constexpr int kMaxTtl = 255;

// An IPv4-mapped destination leaves as IPv4, so its TTL is IP_TTL even on an
// IPv6 socket; only real IPv6 destinations take a hop limit.
bool uses_hop_limit(const sockaddr_storage& to) {
  if (to.ss_family != AF_INET6) return false;
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&to);
  return !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr);
}
}  // namespace

struct UdpSocket::Pending {
  uv_udp_send_t req{};
  UdpSocket* owner = nullptr;  // null once the socket closed under an in-flight send
  sockaddr_storage to{};
  util::Bytes data;
  int ttl = 0;  // 0: the socket's default
};

UdpSocket::UdpSocket(uv_loop_t* loop) : handle_(new uv_udp_t), prepare_(new uv_prepare_t) {
  PUNCH_ASSERT(uv_udp_init_ex(loop, handle_, AF_UNSPEC | UV_UDP_RECVMMSG) == 0);
  handle_->data = this;
  // Whatever the cores sent during this loop iteration leaves in one batch
  // before the loop blocks for I/O; unreferenced, so it keeps no loop alive.
  PUNCH_ASSERT(uv_prepare_init(loop, prepare_) == 0);
  prepare_->data = this;
  uv_prepare_start(prepare_, [](uv_prepare_t* p) { static_cast<UdpSocket*>(p->data)->flush(); });
  uv_unref(reinterpret_cast<uv_handle_t*>(prepare_));
}

UdpSocket::~UdpSocket() { close(); }

util::Status UdpSocket::bind(const util::Address& local, ReceiveFn on_receive, UdpBuffers buffers) {
  sockaddr_storage ss;
  to_sockaddr(local, ss);
  int rc = uv_udp_bind(handle_, reinterpret_cast<const sockaddr*>(&ss), 0);
  if (rc != 0) return util::Error{"cannot bind UDP " + local.to_string() + ": " + uv_strerror(rc)};
  set_dont_fragment(ss.ss_family);
  lean_ = buffers == UdpBuffers::kLean;
  if (!lean_) set_socket_buffers();
  on_receive_ = std::move(on_receive);
  rc = uv_udp_recv_start(
      handle_,
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        // Called before each recvmmsg, once the previous batch was delivered, so
        // the buffer may grow here.
        auto* self = static_cast<UdpSocket*>(h->data);
        self->prepare_receive_buffer();
        buf->base = reinterpret_cast<char*>(self->recv_buffer_.get());
        buf->len = self->recv_buffer_size_;
      },
      [](uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr, unsigned flags) {
        // The buffer is ours for the socket's life, so UV_UDP_MMSG_FREE needs nothing.
        (void)flags;
        if (nread <= 0 || addr == nullptr) return;
        auto* self = static_cast<UdpSocket*>(h->data);
        ++self->stats_.received;
        self->on_receive_(from_sockaddr(addr),
                          util::ByteView(reinterpret_cast<const std::uint8_t*>(buf->base),
                                         static_cast<std::size_t>(nread)));
      });
  if (rc != 0) return util::Error{std::string("cannot receive on UDP socket: ") + uv_strerror(rc)};
  return util::ok_status();
}

void UdpSocket::set_socket_buffers() {
  int size = kSocketBuffer;
  uv_send_buffer_size(reinterpret_cast<uv_handle_t*>(handle_), &size);
  size = kSocketBuffer;
  uv_recv_buffer_size(reinterpret_cast<uv_handle_t*>(handle_), &size);
}

// A lean socket that carries traffic becomes a full one: it may be the session's
// direct path now, moving Gbit/s.
void UdpSocket::grow_if_busy() {
  if (!lean_ || stats_.sent + stats_.received < kLeanDatagrams) return;
  lean_ = false;
  set_socket_buffers();
}

void UdpSocket::prepare_receive_buffer() {
  grow_if_busy();
  const std::size_t wanted = lean_ ? kRecvChunk : kRecvChunk * kRecvChunks;
  if (recv_buffer_size_ >= wanted) return;
  // Default-initialised: zero-filling would make every page resident at once.
  recv_buffer_.reset(new std::uint8_t[wanted]);
  recv_buffer_size_ = wanted;
}

void UdpSocket::set_dont_fragment(int family) {
  int fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(handle_), &fd) != 0) return;
  // PROBE: set DF and never fragment locally, yet ignore the kernel's cached path MTU, so a
  // path MTU probe the path cannot carry is dropped (or fails with EMSGSIZE) and the
  // transport's own discovery decides the size; failures leave the kernel default.
  if (family == AF_INET6) {
    const int v = IPV6_PMTUDISC_PROBE;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof v);
    // A dual-stack socket sends IPv4 too (to mapped addresses); set both.
  }
  const int v = IP_PMTUDISC_PROBE;
  ::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v);
}

util::Address UdpSocket::local_address() const {
  if (handle_ == nullptr) return {};
  sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_udp_getsockname(handle_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
}

void UdpSocket::send(const util::Address& to, util::ByteView data) { add(to, data, 0); }

void UdpSocket::send_with_ttl(const util::Address& to, util::ByteView data, int ttl) {
  PUNCH_ASSERT(ttl >= 1 && ttl <= kMaxTtl);
  add(to, data, ttl);
}

void UdpSocket::add(const util::Address& to, util::ByteView data, int ttl) {
  if (handle_ == nullptr) return;
  Batched b{};
  b.to_len = to_sockaddr(to, b.to);
  if (!queue_.empty()) {  // the kernel is full: keep the order behind the backlog
    enqueue(b.to, data, ttl);
    return;
  }
  b.offset = batch_bytes_.size();
  b.size = data.size();
  b.ttl = ttl;
  batch_bytes_.insert(batch_bytes_.end(), data.begin(), data.end());
  batch_.push_back(b);
  if (batch_.size() >= kMaxBatch) flush();
}

void UdpSocket::flush() {
  if (batch_.empty() || handle_ == nullptr) return;
  grow_if_busy();
  std::size_t next = 0;
  while (next < batch_.size()) {
    const std::size_t after = send_groups(next);
    if (after == next) break;  // EAGAIN: the rest waits in the queue
    next = after;
  }
  for (; next < batch_.size(); ++next) {
    enqueue(batch_[next].to,
            util::ByteView(batch_bytes_.data() + batch_[next].offset, batch_[next].size),
            batch_[next].ttl);
  }
  batch_.clear();
  batch_bytes_.clear();
}

// Sends batch_[first..] as up to kMaxMessages messages in one sendmmsg; runs of
// datagrams to one address with one size (the last may be shorter) go as one
// GSO message. Returns the index after the last datagram handed to the kernel
// or dropped for an error; `first` itself means EAGAIN. `single` sends each
// datagram as its own message. A datagram with its own TTL is always a message of
// its own: a GSO run shares one IP header template, so it cannot mix TTLs.
std::size_t UdpSocket::send_groups(std::size_t first, bool single) {
  int fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(handle_), &fd) != 0) return batch_.size();
  mmsghdr msgs[kMaxMessages];
  iovec iovs[kMaxMessages];
  // Room for one control message: a GSO segment size (u16) or a TTL (int).
  alignas(cmsghdr) char control[kMaxMessages][CMSG_SPACE(sizeof(int))];
  std::size_t counts[kMaxMessages];
  unsigned n = 0;
  std::size_t i = first;
  while (i < batch_.size() && n < kMaxMessages) {
    const Batched& head = batch_[i];
    std::size_t count = 1;
    std::size_t bytes = head.size;
    if (gso_ && !single && head.ttl == 0) {
      // Consecutive entries are contiguous in batch_bytes_, so a run is one iovec.
      while (i + count < batch_.size() && count < kMaxSegments) {
        const Batched& b = batch_[i + count];
        if (b.ttl != 0 || b.size > head.size || b.to_len != head.to_len ||
            std::memcmp(&b.to, &head.to, head.to_len) != 0 || bytes + b.size > kMaxGsoBytes) {
          break;
        }
        bytes += b.size;
        ++count;
        if (b.size < head.size) break;  // a shorter datagram can only end a run
      }
    }
    mmsghdr& m = msgs[n];
    std::memset(&m, 0, sizeof m);
    iovs[n].iov_base = batch_bytes_.data() + head.offset;
    iovs[n].iov_len = bytes;
    m.msg_hdr.msg_name = const_cast<sockaddr_storage*>(&head.to);
    m.msg_hdr.msg_namelen = head.to_len;
    m.msg_hdr.msg_iov = &iovs[n];
    m.msg_hdr.msg_iovlen = 1;
    if (count > 1) {
      m.msg_hdr.msg_control = control[n];
      m.msg_hdr.msg_controllen = sizeof control[n];
      cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
      const auto segment = static_cast<std::uint16_t>(head.size);
      std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
    } else if (head.ttl != 0) {
      m.msg_hdr.msg_control = control[n];
      m.msg_hdr.msg_controllen = sizeof control[n];
      cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr);
      const bool v6 = uses_hop_limit(head.to);
      c->cmsg_level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
      c->cmsg_type = v6 ? IPV6_HOPLIMIT : IP_TTL;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &head.ttl, sizeof head.ttl);
    }
    counts[n] = count;
    i += count;
    ++n;
  }
  ++stats_.send_calls;
  const int rc = ::sendmmsg(fd, msgs, n, 0);
  too_big_ = rc < 0 && errno == EMSGSIZE;
  if (rc < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return first;
    if (counts[0] > 1 &&
        (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EMSGSIZE)) {
      // Either no UDP GSO here (old kernel, or the device refuses), or the run's segment
      // size exceeds the interface MTU: a path MTU probe heads it (the datagram after a
      // probe is smaller, so it joins the run). Sending one by one tells which: a head
      // too big for the interface fails alone with EMSGSIZE and is dropped as any lost
      // probe, and GSO stays on; otherwise GSO goes for good.
      const std::size_t after = send_groups(first, true);
      if (!too_big_ && after != first) gso_ = false;
      return after;
    }
    stats_.send_errors += counts[0];  // e.g. no route: UDP drops that message
    return first + counts[0];
  }
  std::size_t sent = 0;
  for (int k = 0; k < rc; ++k) sent += counts[k];
  stats_.sent += sent;
  return first + sent;
}

void UdpSocket::enqueue(const sockaddr_storage& to, util::ByteView data, int ttl) {
  if (queue_.size() >= kMaxQueued) {
    ++stats_.dropped_full;
    return;
  }
  auto p = std::make_unique<Pending>();
  p->to = to;
  p->data.assign(data.begin(), data.end());
  p->ttl = ttl;
  queue_.push_back(std::move(p));
  ++stats_.queued;
  send_queued();
}

void UdpSocket::send_queued() {
  if (in_flight_ || queue_.empty() || handle_ == nullptr) return;
  Pending* p = queue_.front().get();
  p->req.data = p;
  p->owner = this;
  uv_buf_t buf =
      uv_buf_init(reinterpret_cast<char*>(p->data.data()), static_cast<unsigned>(p->data.size()));
  // uv_udp_send takes no control messages, so the TTL goes on the socket instead. It
  // applies to this datagram only: it is the one send in flight, nothing bypasses the
  // queue while it is not empty, and the callback restores the default.
  if (p->ttl != 0) set_socket_ttl(p->to, p->ttl);
  const int rc = uv_udp_send(&p->req, handle_, &buf, 1, reinterpret_cast<sockaddr*>(&p->to),
                             [](uv_udp_send_t* req, int status) {
                               auto* pending = static_cast<Pending*>(req->data);
                               auto* self = pending->owner;
                               if (self == nullptr) {
                                 delete pending;
                                 return;
                               }
                               self->in_flight_ = false;
                               if (pending->ttl != 0) self->set_socket_ttl(pending->to, -1);
                               if (status == 0) {
                                 ++self->stats_.sent;
                               } else {
                                 ++self->stats_.send_errors;
                               }
                               self->queue_.pop_front();
                               self->send_queued();
                             });
  if (rc != 0) {
    if (p->ttl != 0) set_socket_ttl(p->to, -1);
    ++stats_.send_errors;
    queue_.pop_front();
    return;
  }
  in_flight_ = true;
}

// Sets the socket's unicast TTL (hop limit) for datagrams to `to`'s family; -1 restores
// the kernel default. A failure leaves the default, so the datagram just travels further.
void UdpSocket::set_socket_ttl(const sockaddr_storage& to, int ttl) {
  int fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(handle_), &fd) != 0) return;
  if (uses_hop_limit(to)) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
  } else {
    ::setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
  }
}

void UdpSocket::close() {
  if (handle_ == nullptr) return;
  flush();  // what the cores already sent still leaves
  close_and_delete(prepare_);
  prepare_ = nullptr;
  uv_udp_recv_stop(handle_);
  // A send still in flight is cancelled by uv_close; its callback must not touch
  // this object, and its request (inside Pending) must outlive the callback.
  if (in_flight_) {
    queue_.front()->owner = nullptr;
    queue_.front().release();  // deleted by its send callback
  }
  queue_.clear();
  close_and_delete(handle_);
  handle_ = nullptr;
}

}  // namespace punch::io
