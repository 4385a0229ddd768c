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

bool Link::send(util::Bytes datagram, util::TimePoint now, std::size_t to) {
  ++stats_.offered;
  if (blackhole_) {
    ++stats_.dropped_blackhole;
    return false;
  }
  // Draw every variate for every datagram, so that one impairment's pattern does not
  // depend on another's (or on queue drops).
  const bool lost = uniform() < config_.loss;
  const bool burst_starts = uniform() < config_.burst_loss;
  const bool held_back = uniform() < config_.reorder;
  const bool duplicated = uniform() < config_.duplicate;
  const bool corrupted = uniform() < config_.corrupt;
  const std::uint64_t corrupt_at = rng_();
  const double jitter_fraction = uniform();
  const double wire_bytes = static_cast<double>(datagram.size() + config_.overhead_bytes);
  // Drawn above even when dropped here, so the MTU does not shift other patterns.
  if (config_.mtu != 0 && datagram.size() + config_.overhead_bytes > config_.mtu) {
    ++stats_.dropped_mtu;
    return false;
  }
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
  // Losses happen behind the bottleneck queue: the datagram used its serialization time.
  if (burst_left_ == 0 && burst_starts) burst_left_ = config_.burst_length;
  if (burst_left_ > 0) {
    --burst_left_;
    ++stats_.dropped_burst;
    return false;
  }
  if (lost) {
    ++stats_.dropped_random;
    return false;
  }
  util::TimePoint arrival = start + serialize + config_.delay;
  if (config_.jitter > util::Duration{0}) {
    arrival += util::Duration{static_cast<util::Duration::rep>(
        jitter_fraction * static_cast<double>(config_.jitter.count()))};
    arrival = std::max(arrival, last_arrival_);
    last_arrival_ = arrival;
  }
  if (held_back) {
    ++stats_.reordered;
    arrival += config_.reorder_delay;
  }
  if (corrupted && !datagram.empty()) {
    ++stats_.corrupted;
    datagram[corrupt_at % datagram.size()] ^=
        static_cast<std::uint8_t>(1 + (corrupt_at >> 32) % 255);
  }
  if (duplicated) {
    ++stats_.duplicated;
    in_transit_.push(InTransit{arrival + std::chrono::microseconds(1), seq_++,
                               Delivery{datagram, to, corrupted}});
  }
  in_transit_.push(InTransit{arrival, seq_++, Delivery{std::move(datagram), to, corrupted}});
  return true;
}

util::TimePoint Link::next_arrival() const {
  return in_transit_.empty() ? util::kNever : in_transit_.top().arrival;
}

std::optional<Delivery> Link::receive(util::TimePoint now) {
  if (in_transit_.empty() || in_transit_.top().arrival > now) return std::nullopt;
  // priority_queue::top() is const; the element is popped right after, so moving is safe.
  Delivery d = std::move(const_cast<InTransit&>(in_transit_.top()).d);
  in_transit_.pop();
  ++stats_.delivered;
  stats_.bytes_delivered += d.data.size();
  return d;
}

}  // namespace punch::sim
