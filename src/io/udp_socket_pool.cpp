#include "io/udp_socket_pool.hpp"

#include <string>
#include <utility>

#include "util/log.hpp"

namespace punch::io {

UdpSocketPool::UdpSocketPool(uv_loop_t* loop, const UdpSocket& main, ReceiveFn on_receive)
    : loop_(loop), main_(main), on_receive_(std::move(on_receive)) {}

UdpSocketPool::~UdpSocketPool() { close_all(); }

std::optional<util::SocketId> UdpSocketPool::open() {
  if (shut_) return std::nullopt;
  util::Address local = main_.local_address();
  if (!local.valid()) return std::nullopt;  // the main socket is not bound (or closed)
  local.port = 0;
  const util::SocketId id = next_free_id();
  auto socket = std::make_unique<UdpSocket>(loop_);
  // Lean until it carries traffic: most sockets of a round only send a few probes
  // before they are closed, and the full buffers of hundreds would cost hundreds of MB.
  const util::Status bound = socket->bind(
      local,
      [this, id](const util::Address& from, util::ByteView data) { deliver(id, from, data); },
      UdpBuffers::kLean);
  if (!bound) {
    // EMFILE and friends: the prober goes on with the sockets it has.
    util::log_debug("extra UDP socket: " + bound.error().message);
    socket->close();
    return std::nullopt;
  }
  last_id_ = id;
  sockets_.emplace(id, std::move(socket));
  return id;
}

void UdpSocketPool::close(util::SocketId id) {
  const auto it = sockets_.find(id);
  if (it == sockets_.end()) return;
  std::unique_ptr<UdpSocket> socket = std::move(it->second);
  sockets_.erase(it);
  socket->close();  // libuv frees the handles in their close callbacks
  if (delivering_ > 0) closed_.push_back(std::move(socket));
}

util::DatagramSink& UdpSocketPool::sink(util::SocketId id) {
  const auto it = sockets_.find(id);
  if (it == sockets_.end()) return drop_;
  return *it->second;
}

void UdpSocketPool::close_all() {
  shut_ = true;
  while (!sockets_.empty()) close(sockets_.begin()->first);
}

const UdpSocket* UdpSocketPool::socket(util::SocketId id) const {
  const auto it = sockets_.find(id);
  return it == sockets_.end() ? nullptr : it->second.get();
}

void UdpSocketPool::deliver(util::SocketId id, const util::Address& from, util::ByteView data) {
  ++delivering_;
  on_receive_(id, from, data);
  if (--delivering_ == 0) closed_.clear();
}

// Ids only grow, so a late packet or call naming a closed socket never reaches a
// newer one; after 2^32 - 1 opens they wrap, skipping kMainSocket and open ids.
util::SocketId UdpSocketPool::next_free_id() {
  util::SocketId id = last_id_;
  do {
    ++id;
  } while (id == util::kMainSocket || sockets_.count(id) != 0);
  return id;
}

}  // namespace punch::io
