// The interface loss recovery drives (NewReno, BBR). Bytes in flight are counted
// by the SentPacketTracker; the controller only decides how many may be (window)
// and how fast they may leave (pacing rate). Loss-based controllers listen to
// per-packet acknowledgements and congestion events, model-based ones to the
// per-ACK delivery-rate samples.
#pragma once

#include <algorithm>
#include <cstdint>

#include "transport/constants.hpp"
#include "transport/rate_sampler.hpp"
#include "transport/rtt_estimator.hpp"
#include "util/time.hpp"

namespace punch::transport {

/// A congestion control algorithm fed by loss recovery.
class CongestionController {
 public:
  virtual ~CongestionController() = default;

  /// Accounts a packet of `bytes` put in flight at `now`.
  virtual void on_packet_sent(util::TimePoint now, std::uint64_t bytes) = 0;
  /// A packet of `bytes` sent at `time_sent` was acknowledged at `now`; `prior_in_flight` is
  /// the bytes in flight before the ACK holding it was processed (to spot an idle sender).
  virtual void on_packet_acked(util::TimePoint time_sent, std::uint64_t bytes,
                               std::uint64_t prior_in_flight, util::TimePoint now) = 0;
  /// Called once per ACK frame at `now`, after on_packet_acked() for each packet it
  /// acknowledged and any loss it revealed, with the delivery-rate sample `rs`.
  virtual void on_ack_sample(const RateSample& rs, util::TimePoint now) = 0;
  /// Packets were declared lost at `now`; the newest of them was sent at `latest_lost_sent`.
  virtual void on_congestion_event(util::TimePoint latest_lost_sent, util::TimePoint now) = 0;
  /// Losses spanned more than the persistent congestion duration (RFC 9002 7.6).
  virtual void on_persistent_congestion() = 0;
  /// Bytes allowed in flight.
  virtual std::uint64_t window() const = 0;
  /// Bytes per second to pace at given `rtt`.
  virtual double pacing_rate(const RttEstimator& rtt) const = 0;
  /// Returns to the initial state (a new path); the datagram size stays.
  virtual void reset() = 0;

  /// Sets the largest datagram now sent (`bytes`, never below kMaxDatagramSize), which the
  /// windows kept in packets (minimum, quanta, increase) scale with.
  void set_max_datagram(std::uint64_t bytes) { max_datagram_ = std::max(bytes, kMaxDatagramSize); }
  /// Largest datagram now sent, in bytes.
  std::uint64_t max_datagram() const { return max_datagram_; }

 protected:
  /// `base_bytes`, a window given at kMaxDatagramSize, for the current datagram size.
  std::uint64_t scaled(std::uint64_t base_bytes) const {
    return base_bytes / kMaxDatagramSize * max_datagram_;
  }
  /// Initial window (RFC 9002 7.2): kInitialWindow, but at least two datagrams, so that
  /// the receiver acknowledges at once instead of after its ACK delay.
  std::uint64_t initial_window() const { return std::max(kInitialWindow, 2 * max_datagram_); }

 private:
  std::uint64_t max_datagram_ = kMaxDatagramSize;
};

}  // namespace punch::transport
