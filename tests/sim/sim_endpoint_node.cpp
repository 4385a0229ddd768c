#include "sim/sim_endpoint_node.hpp"

#include <algorithm>

#include "util/assert.hpp"

namespace punch::sim {

crypto::Identity EndpointNode::make_identity(crypto::RandomSource& rng) {
  auto id = crypto::Identity::generate(rng);
  PUNCH_ASSERT(id.ok());
  return std::move(*id);
}

EndpointNode::EndpointNode(Network& net, HostId host, const util::Address& rendezvous,
                           bool listener, std::uint64_t seed, const path::PathConfig& path_config)
    : net_(net),
      host_(host),
      rng_(seed),
      identity_(make_identity(rng_)),
      pool_(net, host,
            [this](const util::Address& from, util::ByteView data, util::TimePoint now,
                   util::SocketId socket) { endpoint_.on_datagram(from, data, now, socket); }),
      endpoint_(identity_, rendezvous, listener, rng_, net.sink(host), path_config, &pool_),
      policy_(
          app::TunnelPolicy::Config{listener, std::nullopt, app::PeerPolicy{true, {}},
                                    identity_.id(), rendezvous.to_string()},
          [this](const app::TunnelCommand& c) { execute(c); },
          [](std::uint64_t) { return false; }) {  // no channels in the simulator
  net_.attach(host_, *this);
  // A simulated host has one interface; the app offers none with --relay-only.
  std::vector<util::Address> hosts;
  if (!path_config.relay_only) hosts.push_back(net_.address(host_));
  endpoint_.set_host_addresses(std::move(hosts), net_.now());
  endpoint_.start(net_.now());
}

EndpointNode::~EndpointNode() { net_.detach(host_); }

const TimedEvent* EndpointNode::first(session::EndpointEvent::Kind kind) const {
  for (const auto& e : events_)
    if (e.event.kind == kind) return &e;
  return nullptr;
}

const TimedEvent* EndpointNode::first_path(path::PathEvent::Kind kind, bool direct) const {
  for (const auto& e : events_) {
    if (e.event.kind != session::EndpointEvent::Kind::kPath) continue;
    const path::PathEvent& p = e.event.path_event;
    if (p.kind == kind && (kind != path::PathEvent::Kind::kSwitched || p.direct == direct))
      return &e;
  }
  return nullptr;
}

std::uint64_t EndpointNode::connect(const crypto::NodeId& target) {
  const std::uint64_t cid = endpoint_.connect(target, net_.now());
  policy_.connecting(cid, target);
  return cid;
}

void EndpointNode::execute(const app::TunnelCommand& c) {
  switch (c.kind) {
    case app::TunnelCommand::Kind::kAccept:
      endpoint_.accept(c.cid, c.peer, now_);
      break;
    case app::TunnelCommand::Kind::kRefuse:
      endpoint_.refuse(c.cid, c.reason, now_);
      break;
    case app::TunnelCommand::Kind::kConnect:
      policy_.connecting(endpoint_.connect(c.peer, now_), c.peer);
      break;
    case app::TunnelCommand::Kind::kClose:
      endpoint_.close(c.cid, c.close_code, c.reason, now_);
      break;
    default:
      break;  // no forwarder, event log or process here; the events are kept anyway
  }
}

void EndpointNode::on_datagram(const util::Address& from, util::ByteView data,
                               util::TimePoint now) {
  endpoint_.on_datagram(from, data, now);
}

void EndpointNode::on_timeout(util::TimePoint now) {
  endpoint_.on_timeout(now);
  now_ = now;
  policy_.on_timeout(now);
}

util::TimePoint EndpointNode::next_deadline() const {
  return std::min(endpoint_.next_deadline(), policy_.next_deadline());
}

void EndpointNode::flush(util::TimePoint now) {
  endpoint_.flush(now);
  // Reacting may create a session (accept) or queue bytes: flush once more so they
  // leave in this iteration, as the app layer does.
  now_ = now;
  bool reacted = false;
  while (auto e = endpoint_.poll_event()) {
    events_.push_back(TimedEvent{*e, now});
    policy_.on_event(*e, now_);
    if (reaction_) reaction_(*this, *e);
    reacted = true;
  }
  if (reacted) {
    policy_.forget_ended();
    endpoint_.flush(now);
  }
}

}  // namespace punch::sim
