// NewReno congestion control as RFC 9002, section 7 and Appendix B: slow start,
// one window halving per recovery period, additive increase, persistent congestion.
#pragma once

#include <optional>

#include "transport/congestion_controller.hpp"

namespace punch::transport {

/// The RFC 9002 congestion controller.
class NewReno final : public CongestionController {
 public:
  /// Starts in slow start with kInitialWindow.
  NewReno() { reset(); }

  void on_packet_sent(util::TimePoint now, std::uint64_t bytes) override;
  void on_packet_acked(util::TimePoint time_sent, std::uint64_t bytes,
                       std::uint64_t prior_in_flight, util::TimePoint now) override;
  void on_ack_sample(const RateSample&, util::TimePoint) override {}
  void on_congestion_event(util::TimePoint latest_lost_sent, util::TimePoint now) override;
  void on_persistent_congestion() override;
  std::uint64_t window() const override { return std::max(window_, scaled(kMinimumWindow)); }
  double pacing_rate(const RttEstimator& rtt) const override;
  void reset() override;

  /// Slow start threshold in bytes (UINT64_MAX until the first loss).
  std::uint64_t ssthresh() const { return ssthresh_; }
  /// True while the window grows exponentially.
  bool in_slow_start() const { return window_ < ssthresh_; }
  /// True when a packet sent at `time_sent` belongs to the current recovery period.
  bool in_recovery(util::TimePoint time_sent) const {
    return recovery_start_ && time_sent <= *recovery_start_;
  }

 private:
  std::uint64_t window_ = 0;
  std::uint64_t ssthresh_ = 0;
  std::uint64_t acked_in_avoidance_ = 0;  // Bytes acked toward the next +1 datagram.
  std::optional<util::TimePoint> recovery_start_;
};

}  // namespace punch::transport
