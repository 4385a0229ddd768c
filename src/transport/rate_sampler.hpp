// Delivery-rate estimation as draft-cheng-iccrg-delivery-rate-estimation: every
// packet remembers how much had been delivered when it left, so its ACK yields
// the rate at which the path delivered data over that packet's flight. BBR's
// bandwidth model is built from these samples; loss-based controllers ignore them.
#pragma once

#include <cstdint>

#include "util/time.hpp"

namespace punch::transport {

/// The sampler's state copied into a packet when it is sent.
struct DeliveryState {
  std::uint64_t delivered = 0;        ///< Bytes delivered before the packet left.
  util::TimePoint delivered_time{};   ///< When `delivered` was last increased.
  util::TimePoint first_sent_time{};  ///< Send time of the packet that began the interval.
  bool app_limited = false;           ///< The sender had nothing to send when it left.
};

/// What one ACK frame told the congestion controller.
struct RateSample {
  double delivery_rate = 0;           ///< Bytes per second; 0 when there is no valid sample.
  util::Duration interval{};          ///< Time the rate was measured over.
  std::uint64_t delivered = 0;        ///< Bytes delivered over `interval`.
  std::uint64_t prior_delivered = 0;  ///< Total delivered when the sampled packet left.
  std::uint64_t total_delivered = 0;  ///< Total delivered after this ACK.
  bool app_limited = false;           ///< The sampled packet left while app-limited.
  util::Duration rtt{};               ///< RTT of the newest packet acknowledged (0: none).
  std::uint64_t newly_acked = 0;      ///< Ack-eliciting bytes acknowledged by this ACK.
  std::uint64_t newly_lost = 0;       ///< Bytes declared lost since the previous sample.
  std::uint64_t lost_packets = 0;     ///< Packets declared lost since the previous sample.
  std::uint64_t acked_packets = 0;    ///< Ack-eliciting packets acknowledged by this ACK.
  std::uint64_t prior_in_flight = 0;  ///< Bytes in flight before the ACK was processed.
  std::uint64_t bytes_in_flight = 0;  ///< Bytes in flight after it.
};

/// Tracks bytes delivered over time and turns acknowledgements into rate samples.
class RateSampler {
 public:
  /// Returns the state to stamp on a packet sent at `now` with `bytes_in_flight` before it.
  DeliveryState on_packet_sent(util::TimePoint now, std::uint64_t bytes_in_flight);
  /// Notes that the sender ran out of data with `bytes_in_flight` outstanding: samples until
  /// that much more is delivered measure the application, not the path.
  void on_app_limited(std::uint64_t bytes_in_flight);
  /// Starts collecting the sample of one ACK frame; `prior_in_flight` is the bytes in flight.
  void begin_ack(std::uint64_t prior_in_flight);
  /// Accounts a packet of `bytes` sent at `time_sent` with `state`, acknowledged at `now`.
  void on_packet_delivered(const DeliveryState& state, util::TimePoint time_sent,
                           std::uint64_t bytes, util::TimePoint now);
  /// Accounts a packet of `bytes` declared lost.
  void on_packet_lost(std::uint64_t bytes);
  /// Finishes the sample begun by begin_ack() at `now` with `bytes_in_flight` left; intervals
  /// shorter than `min_rtt` are not trusted (ACK compression) and yield no rate.
  RateSample end_ack(util::TimePoint now, util::Duration min_rtt, std::uint64_t bytes_in_flight);
  /// Total bytes delivered so far.
  std::uint64_t delivered() const { return delivered_; }
  /// True while samples are marked application-limited.
  bool app_limited() const { return app_limited_until_ != 0; }

 private:
  std::uint64_t delivered_ = 0;
  util::TimePoint delivered_time_{};
  util::TimePoint first_sent_time_{};
  std::uint64_t app_limited_until_ = 0;  // Delivered count ending the app-limited phase.
  std::uint64_t lost_ = 0;
  std::uint64_t lost_packets_ = 0;
  // The sample under construction.
  RateSample rs_;
  bool have_packet_ = false;
  util::TimePoint newest_sent_{};
  util::Duration send_elapsed_{};
  util::Duration ack_elapsed_{};
};

}  // namespace punch::transport
