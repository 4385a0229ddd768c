#include "sim/sim_server_node.hpp"

namespace punch::sim {

ServerNode::ServerNode(Network& net, HostId host, std::uint64_t seed, std::uint16_t probe_port)
    : net_(net), host_(host), rng_(seed), server_(rng_, net.sink(host), nullptr, net.now()) {
  net_.attach(host_, *this);
  if (probe_port != 0) {
    probe_host_ = net_.add_public_socket(host_, probe_port);
    probe_ = std::make_unique<ProbePort>(*this, *probe_host_);
    net_.attach(*probe_host_, *probe_);
    server_.set_probe_port(probe_port);
  }
}

ServerNode::~ServerNode() {
  if (probe_host_) net_.detach(*probe_host_);
  net_.detach(host_);
}

void ServerNode::on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now) {
  server_.on_datagram(from, data, now);
}

void ServerNode::on_timeout(util::TimePoint now) { server_.on_timeout(now); }

util::TimePoint ServerNode::next_deadline() const { return server_.next_deadline(); }

// The server answers inside on_datagram() and on_timeout(); it keeps nothing to flush.
void ServerNode::flush(util::TimePoint) {}

}  // namespace punch::sim
