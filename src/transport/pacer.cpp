#include "transport/pacer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "transport/constants.hpp"

namespace punch::transport {

void Pacer::set_rate(double bytes_per_second) {
  if (!(bytes_per_second > 0) || std::isinf(bytes_per_second)) {
    rate_ = std::numeric_limits<double>::infinity();
    capacity_ = min_capacity();
    return;
  }
  rate_ = bytes_per_second;
  const double burst_seconds = std::chrono::duration<double>(kPacingBurstInterval).count();
  capacity_ = std::max(min_capacity(), rate_ * burst_seconds);
}

void Pacer::set_max_packet(std::uint64_t bytes) {
  max_packet_ = bytes;
  capacity_ = std::max(capacity_, min_capacity());
}

double Pacer::min_capacity() const {
  return static_cast<double>(std::max<std::uint64_t>(kMinPacingBurst, max_packet_));
}

void Pacer::refill(util::TimePoint now) {
  if (!started_) {
    started_ = true;
    last_ = now;
    tokens_ = capacity_;
    return;
  }
  if (now > last_) {
    if (std::isinf(rate_)) {
      tokens_ = capacity_;
    } else {
      const double elapsed = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min(capacity_, tokens_ + elapsed * rate_);
    }
    last_ = now;
  }
  tokens_ = std::min(tokens_, capacity_);
}

bool Pacer::can_send(util::TimePoint now, std::uint64_t bytes) {
  if (std::isinf(rate_)) return true;
  refill(now);
  return tokens_ >= static_cast<double>(bytes);
}

util::TimePoint Pacer::next_send_time(std::uint64_t bytes) const {
  const double missing = static_cast<double>(bytes) - tokens_;
  if (std::isinf(rate_) || missing <= 0) return last_;
  // Round up so that the bucket really holds `bytes` when the timer fires.
  const double nanos = std::ceil(missing / rate_ * 1e9);
  return last_ + util::Duration{static_cast<util::Duration::rep>(nanos)};
}

void Pacer::on_sent(util::TimePoint now, std::uint64_t bytes) {
  if (std::isinf(rate_)) return;
  refill(now);
  // Probes and packets bigger than the amount asked of can_send() may overdraw the bucket;
  // the debt delays the packets after them (the floor only matters for PTO probes).
  tokens_ = std::max(tokens_ - static_cast<double>(bytes), -capacity_);
}

void Pacer::reset() {
  rate_ = std::numeric_limits<double>::infinity();
  capacity_ = min_capacity();
  tokens_ = capacity_;
  started_ = false;
  last_ = util::TimePoint{};
}

}  // namespace punch::transport
