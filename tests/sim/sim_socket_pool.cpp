#include "sim/sim_socket_pool.hpp"

#include <algorithm>

namespace punch::sim {

SimSocketPool::SimSocketPool(Network& net, HostId host, Receiver receiver)
    : net_(net), host_(host), receiver_(std::move(receiver)) {}

SimSocketPool::~SimSocketPool() {
  for (const auto& [id, host] : open_) net_.close_socket(host);
}

void SimSocketPool::Port::on_datagram(const util::Address& from, util::ByteView data,
                                      util::TimePoint now) {
  ++owner_.stats_.received;
  owner_.receiver_(from, data, now, id_);
}

std::optional<std::uint16_t> SimSocketPool::free_port() {
  // As the kernel's ephemeral ports: the next free one of the range, wrapping.
  constexpr int kSpan = kLastLocalPort - kFirstLocalPort + 1;
  util::Address candidate = net_.address(host_);
  for (int i = 0; i < kSpan; ++i) {
    candidate.port = next_port_;
    next_port_ =
        next_port_ == kLastLocalPort ? kFirstLocalPort : static_cast<std::uint16_t>(next_port_ + 1);
    if (!net_.bound(candidate)) return candidate.port;
  }
  return std::nullopt;
}

std::optional<util::SocketId> SimSocketPool::open() {
  if (open_.size() >= limit_) {
    ++stats_.refused;
    return std::nullopt;
  }
  const auto port = free_port();
  if (!port) {
    ++stats_.refused;
    return std::nullopt;
  }
  const util::SocketId id = next_id_++;  // Never reused: a stale id stays detectable.
  const HostId host = net_.add_socket(host_, *port);
  Socket& s = sockets_[id];
  s.host = host;
  s.port = std::make_unique<Port>(*this, id);
  net_.attach(host, *s.port);
  open_[id] = host;
  by_host_[host] = id;
  ++stats_.opened;
  stats_.max_open = std::max(stats_.max_open, open_.size());
  return id;
}

void SimSocketPool::close(util::SocketId id) {
  const auto it = open_.find(id);
  if (it == open_.end()) {
    ++stats_.bad_closes;
    return;
  }
  net_.close_socket(it->second);
  open_.erase(it);
  ++stats_.closed;
}

util::DatagramSink& SimSocketPool::sink(util::SocketId id) {
  const auto it = open_.find(id);
  if (it == open_.end()) {
    ++stats_.bad_sinks;
    return bad_sink_;
  }
  return net_.sink(it->second);
}

std::vector<util::SocketId> SimSocketPool::open_ids() const {
  std::vector<util::SocketId> out;
  out.reserve(open_.size());
  for (const auto& [id, host] : open_) out.push_back(id);
  return out;
}

std::optional<HostId> SimSocketPool::host_of(util::SocketId id) const {
  const auto it = sockets_.find(id);
  if (it == sockets_.end()) return std::nullopt;
  return it->second.host;
}

std::optional<util::SocketId> SimSocketPool::id_of(HostId host) const {
  const auto it = by_host_.find(host);
  if (it == by_host_.end()) return std::nullopt;
  return it->second;
}

util::Address SimSocketPool::address_of(util::SocketId id) const {
  const auto host = host_of(id);
  return host ? net_.address(*host) : util::Address{};
}

}  // namespace punch::sim
