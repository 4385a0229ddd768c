#include "sim/sim_server_node.hpp"

namespace punch::sim {

ServerNode::ServerNode(Network& net, HostId host, std::uint64_t seed)
    : net_(net), host_(host), rng_(seed), server_(rng_, net.sink(host), nullptr, net.now()) {
  net_.attach(host_, *this);
}

ServerNode::~ServerNode() { net_.detach(host_); }

void ServerNode::on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now) {
  server_.on_datagram(from, data, now);
}

void ServerNode::on_timeout(util::TimePoint now) { server_.on_timeout(now); }

util::TimePoint ServerNode::next_deadline() const { return server_.next_deadline(); }

// The server answers inside on_datagram() and on_timeout(); it keeps nothing to flush.
void ServerNode::flush(util::TimePoint) {}

}  // namespace punch::sim
