#include "sim/simulator.hpp"

#include <algorithm>

namespace punch::sim {

namespace {
// The datagram carries the packet number in front of the payload, standing in for the
// session header; the link's overhead_bytes accounts for the real header and AEAD tag.
constexpr std::size_t kPnBytes = 8;
}  // namespace

Simulator::Simulator(const SimConfig& config)
    : config_(config),
      // An idle network keeps its clock: every Connection has a deadline until it closes.
      loop_(LoopConfig{kSimEpoch, config.event_cap, false, false},
            LoopModel{[this] { return next_event(); }, [this] { step(); }, [this] { flush(); }}) {}

std::size_t Simulator::add_link(const LinkConfig& config) {
  const std::uint64_t seed = config_.seed * 0x9e3779b97f4a7c15ull + links_.size() + 1;
  links_.push_back(std::make_unique<Link>(config, seed));
  return links_.size() - 1;
}

std::size_t Simulator::add_node(transport::Role role, transport::CongestionAlgorithm algorithm) {
  nodes_.push_back(Node{std::make_unique<transport::Connection>(role, now(), algorithm)});
  nodes_.back().conn->set_datagram_overhead(config_.datagram_overhead);
  return nodes_.size() - 1;
}

void Simulator::route(std::size_t from, std::size_t link, std::size_t to) {
  nodes_[from].link = link;
  nodes_[from].peer = to;
  nodes_[from].routed = true;
}

void Simulator::drain(std::size_t from) {
  Node& n = nodes_[from];
  if (!n.routed) return;
  while (auto p = n.conn->poll_send(now(), config_.max_payload)) {
    if (observer_) observer_(Observed{from, n.peer, false, p->packet_number, p->payload, now()});
    util::Bytes datagram;
    datagram.reserve(kPnBytes + p->payload.size());
    util::ByteWriter w(datagram);
    w.u64(p->packet_number);
    w.bytes(p->payload);
    links_[n.link]->send(std::move(datagram), now(), n.peer);
  }
}

void Simulator::deliver(std::size_t link) {
  while (auto d = links_[link]->receive(now())) {
    if (d->corrupted && !config_.deliver_corrupted) {
      ++dropped_corrupt_;
      continue;
    }
    if (d->data.size() < kPnBytes) continue;
    util::ByteReader r(d->data);
    const std::uint64_t pn = r.u64();
    const util::ByteView payload = r.rest();
    // Who sent it: the node routed over this link to this destination.
    if (observer_) {
      std::size_t from = 0;
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        if (nodes_[i].routed && nodes_[i].link == link && nodes_[i].peer == d->to) from = i;
      }
      observer_(Observed{from, d->to, true, pn, payload, now()});
    }
    nodes_[d->to].conn->on_packet(pn, payload, now());
  }
}

void Simulator::flush() {
  for (std::size_t i = 0; i < nodes_.size(); ++i) drain(i);
}

util::TimePoint Simulator::next_event() const {
  util::TimePoint next = util::kNever;
  for (const Node& n : nodes_) next = std::min(next, n.conn->next_deadline());
  for (const auto& l : links_) next = std::min(next, l->next_arrival());
  return next;
}

void Simulator::step() {
  for (std::size_t l = 0; l < links_.size(); ++l) deliver(l);
  for (Node& n : nodes_) {
    if (n.conn->next_deadline() <= now()) n.conn->on_timeout(now());
  }
  if (app_) app_();
}

void Simulator::run_for(util::Duration span) {
  run_until([] { return false; }, span);
}

}  // namespace punch::sim
