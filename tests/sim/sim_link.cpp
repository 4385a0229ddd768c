#include "sim/sim_link.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace punch::sim {

Link::Link(LinkConfig config, std::uint64_t seed) : config_(config), rng_(seed) {}

double Link::uniform() {
  // 53 random bits: identical on every standard library, unlike uniform_real_distribution.
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

bool Link::send(util::Bytes datagram, util::TimePoint now) {
  ++stats_.offered;
  if (blackhole_) {
    ++stats_.dropped_blackhole;
    return false;
  }
  // Draw for every datagram, so the loss pattern does not depend on queue drops.
  const bool lost = config_.loss > 0 && uniform() < config_.loss;
  const double wire_bytes = static_cast<double>(datagram.size() + config_.overhead_bytes);
  util::TimePoint start = now;
  util::Duration serialize{0};
  if (config_.rate_bytes_per_second > 0) {
    start = std::max(now, busy_until_);
    const double backlog =
        std::chrono::duration<double>(start - now).count() * config_.rate_bytes_per_second;
    if (backlog + wire_bytes > static_cast<double>(config_.queue_bytes)) {
      ++stats_.dropped_queue;
      return false;
    }
    serialize = util::Duration{static_cast<util::Duration::rep>(
        std::ceil(wire_bytes / config_.rate_bytes_per_second * 1e9))};
    busy_until_ = start + serialize;
  }
  if (lost) {
    ++stats_.dropped_random;
    return false;
  }
  in_transit_.push(InTransit{start + serialize + config_.delay, seq_++, std::move(datagram)});
  return true;
}

util::TimePoint Link::next_arrival() const {
  return in_transit_.empty() ? util::kNever : in_transit_.top().arrival;
}

std::optional<util::Bytes> Link::receive(util::TimePoint now) {
  if (in_transit_.empty() || in_transit_.top().arrival > now) return std::nullopt;
  // priority_queue::top() is const; the element is popped right after, so moving is safe.
  util::Bytes data = std::move(const_cast<InTransit&>(in_transit_.top()).data);
  in_transit_.pop();
  ++stats_.delivered;
  stats_.bytes_delivered += data.size();
  return data;
}

}  // namespace punch::sim
