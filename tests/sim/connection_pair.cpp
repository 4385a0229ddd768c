#include "sim/connection_pair.hpp"

#include <algorithm>

namespace punch::sim {

namespace {
// The datagram carries the packet number in front of the payload, standing in for the
// session header; the link's overhead_bytes accounts for the real header and AEAD tag.
constexpr std::size_t kPnBytes = 8;
}  // namespace

ConnectionPair::ConnectionPair(const PairConfig& config)
    : config_(config),
      a_(transport::Role::kClient, kSimEpoch),
      b_(transport::Role::kServer, kSimEpoch),
      ab_(config.a_to_b, config.seed * 2 + 1),
      ba_(config.b_to_a, config.seed * 2 + 2) {}

void ConnectionPair::drain(transport::Connection& from, Link& link) {
  while (auto p = from.poll_send(now_, config_.max_payload)) {
    util::Bytes datagram;
    datagram.reserve(kPnBytes + p->payload.size());
    util::ByteWriter w(datagram);
    w.u64(p->packet_number);
    w.bytes(p->payload);
    link.send(std::move(datagram), now_);
  }
}

void ConnectionPair::deliver(Link& link, transport::Connection& to) {
  while (auto d = link.receive(now_)) {
    util::ByteReader r(*d);
    const std::uint64_t pn = r.u64();
    to.on_packet(pn, r.rest(), now_);
  }
}

void ConnectionPair::flush() {
  drain(a_, ab_);
  drain(b_, ba_);
}

bool ConnectionPair::run_until(const std::function<bool()>& done, util::Duration limit) {
  const util::TimePoint end = now_ + limit;
  flush();
  while (!done()) {
    if (++events_ > config_.event_cap) {
      cap_hit_ = true;
      return false;
    }
    const util::TimePoint next =
        std::min({a_.next_deadline(), b_.next_deadline(), ab_.next_arrival(), ba_.next_arrival()});
    if (next == util::kNever) return false;
    if (next > end) {
      now_ = end;
      return false;
    }
    now_ = std::max(now_, next);
    deliver(ab_, b_);
    deliver(ba_, a_);
    if (a_.next_deadline() <= now_) a_.on_timeout(now_);
    if (b_.next_deadline() <= now_) b_.on_timeout(now_);
    if (app_) app_();
    flush();
  }
  return true;
}

void ConnectionPair::run_for(util::Duration span) {
  run_until([] { return false; }, span);
}

}  // namespace punch::sim
