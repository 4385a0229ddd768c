#include "io/udp_socket.hpp"

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
}  // namespace

struct UdpSocket::Pending {
  uv_udp_send_t req{};
  UdpSocket* owner = nullptr;  // null once the socket closed under an in-flight send
  sockaddr_storage to{};
  util::Bytes data;
};

UdpSocket::UdpSocket(uv_loop_t* loop) : handle_(new uv_udp_t) {
  PUNCH_ASSERT(uv_udp_init_ex(loop, handle_, AF_UNSPEC | UV_UDP_RECVMMSG) == 0);
  handle_->data = this;
}

UdpSocket::~UdpSocket() { close(); }

util::Status UdpSocket::bind(const util::Address& local, ReceiveFn on_receive) {
  sockaddr_storage ss;
  to_sockaddr(local, ss);
  int rc = uv_udp_bind(handle_, reinterpret_cast<const sockaddr*>(&ss), 0);
  if (rc != 0) return util::Error{"cannot bind UDP " + local.to_string() + ": " + uv_strerror(rc)};
  int size = kSocketBuffer;
  uv_send_buffer_size(reinterpret_cast<uv_handle_t*>(handle_), &size);
  size = kSocketBuffer;
  uv_recv_buffer_size(reinterpret_cast<uv_handle_t*>(handle_), &size);
  on_receive_ = std::move(on_receive);
  recv_buffer_.resize(kRecvChunk * kRecvChunks);
  rc = uv_udp_recv_start(
      handle_,
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* self = static_cast<UdpSocket*>(h->data);
        buf->base = reinterpret_cast<char*>(self->recv_buffer_.data());
        buf->len = self->recv_buffer_.size();
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

util::Address UdpSocket::local_address() const {
  sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_udp_getsockname(handle_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
}

void UdpSocket::send(const util::Address& to, util::ByteView data) {
  if (handle_ == nullptr) return;
  if (queue_.empty()) {
    sockaddr_storage ss;
    to_sockaddr(to, ss);
    uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data.data())),
                               static_cast<unsigned>(data.size()));
    const int rc = uv_udp_try_send(handle_, &buf, 1, reinterpret_cast<const sockaddr*>(&ss));
    if (rc >= 0) {
      ++stats_.sent;
      return;
    }
    if (rc != UV_EAGAIN) {
      ++stats_.send_errors;  // e.g. ECONNREFUSED from an earlier ICMP: UDP drops it
      return;
    }
  }
  if (queue_.size() >= kMaxQueued) {
    ++stats_.dropped_full;
    return;
  }
  auto p = std::make_unique<Pending>();
  to_sockaddr(to, p->to);
  p->data.assign(data.begin(), data.end());
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
  const int rc = uv_udp_send(&p->req, handle_, &buf, 1, reinterpret_cast<sockaddr*>(&p->to),
                             [](uv_udp_send_t* req, int status) {
                               auto* pending = static_cast<Pending*>(req->data);
                               auto* self = pending->owner;
                               if (self == nullptr) {
                                 delete pending;
                                 return;
                               }
                               self->in_flight_ = false;
                               if (status == 0) {
                                 ++self->stats_.sent;
                               } else {
                                 ++self->stats_.send_errors;
                               }
                               self->queue_.pop_front();
                               self->send_queued();
                             });
  if (rc != 0) {
    ++stats_.send_errors;
    queue_.pop_front();
    return;
  }
  in_flight_ = true;
}

void UdpSocket::close() {
  if (handle_ == nullptr) return;
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
