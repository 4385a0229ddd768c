#include "transport/new_reno.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

#include "transport/constants.hpp"

namespace punch::transport {

void NewReno::on_packet_sent(util::TimePoint, std::uint64_t) {}

void NewReno::on_packet_acked(util::TimePoint time_sent, std::uint64_t bytes,
                              std::uint64_t prior_in_flight, util::TimePoint) {
  if (in_recovery(time_sent)) return;
  // An application-limited sender never tested the window, so must not grow it (RFC 9002
  // 7.8); a flight of at least half the window counts as having used it.
  if (prior_in_flight * 2 < window_) return;
  if (in_slow_start()) {
    window_ += bytes;
    return;
  }
  // Additive increase of one datagram per window acknowledged, counted exactly in bytes.
  acked_in_avoidance_ += bytes;
  if (acked_in_avoidance_ >= window_) {
    acked_in_avoidance_ -= window_;
    window_ += max_datagram();
  }
}

void NewReno::on_congestion_event(util::TimePoint latest_lost_sent, util::TimePoint now) {
  // One reduction per round trip: losses of packets sent before recovery began are the
  // same congestion event.
  if (in_recovery(latest_lost_sent)) return;
  recovery_start_ = now;
  ssthresh_ = std::max(window_ / 2, scaled(kMinimumWindow));
  window_ = ssthresh_;
  acked_in_avoidance_ = 0;
}

void NewReno::on_persistent_congestion() {
  window_ = scaled(kMinimumWindow);
  recovery_start_.reset();
  acked_in_avoidance_ = 0;
}

double NewReno::pacing_rate(const RttEstimator& rtt) const {
  const double seconds = std::chrono::duration<double>(rtt.smoothed()).count();
  const double gain = in_slow_start() ? kPacingGainSlowStart : kPacingGainAvoidance;
  if (seconds <= 0) return std::numeric_limits<double>::infinity();
  return gain * static_cast<double>(window_) / seconds;
}

void NewReno::reset() {
  window_ = initial_window();
  ssthresh_ = std::numeric_limits<std::uint64_t>::max();
  acked_in_avoidance_ = 0;
  recovery_start_.reset();
}

}  // namespace punch::transport
