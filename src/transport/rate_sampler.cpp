#include "transport/rate_sampler.hpp"

#include <algorithm>
#include <chrono>

namespace punch::transport {

DeliveryState RateSampler::on_packet_sent(util::TimePoint now, std::uint64_t bytes_in_flight) {
  // After a quiet period the next interval starts now, not at the last ACK long ago.
  if (bytes_in_flight == 0) {
    first_sent_time_ = now;
    delivered_time_ = now;
  }
  return DeliveryState{delivered_, delivered_time_, first_sent_time_, app_limited_until_ != 0};
}

void RateSampler::on_app_limited(std::uint64_t bytes_in_flight) {
  app_limited_until_ = std::max<std::uint64_t>(delivered_ + bytes_in_flight, 1);
}

void RateSampler::begin_ack(std::uint64_t prior_in_flight) {
  rs_ = RateSample{};
  rs_.prior_in_flight = prior_in_flight;
  have_packet_ = false;
}

void RateSampler::on_packet_delivered(const DeliveryState& state, util::TimePoint time_sent,
                                      std::uint64_t bytes, util::TimePoint now) {
  delivered_ += bytes;
  delivered_time_ = now;
  rs_.newly_acked += bytes;
  ++rs_.acked_packets;
  // The packet sent last carries the most recent delivery state: sample over its flight.
  if (!have_packet_ || state.delivered > rs_.prior_delivered ||
      (state.delivered == rs_.prior_delivered && time_sent > newest_sent_)) {
    have_packet_ = true;
    rs_.prior_delivered = state.delivered;
    rs_.app_limited = state.app_limited;
    send_elapsed_ = time_sent - state.first_sent_time;
    ack_elapsed_ = now - state.delivered_time;
    newest_sent_ = time_sent;
    first_sent_time_ = time_sent;
  }
}

void RateSampler::on_packet_lost(std::uint64_t bytes) {
  lost_ += bytes;
  ++lost_packets_;
}

RateSample RateSampler::end_ack(util::TimePoint now, util::Duration min_rtt,
                                std::uint64_t bytes_in_flight) {
  if (app_limited_until_ != 0 && delivered_ > app_limited_until_) app_limited_until_ = 0;
  rs_.total_delivered = delivered_;
  rs_.bytes_in_flight = bytes_in_flight;
  rs_.newly_lost = lost_;
  rs_.lost_packets = lost_packets_;
  lost_ = 0;
  lost_packets_ = 0;
  if (!have_packet_) return rs_;
  rs_.rtt = now - newest_sent_;
  rs_.delivered = delivered_ - rs_.prior_delivered;
  // The slower of sending and acknowledging bounds the rate the path really sustained.
  rs_.interval = std::max(send_elapsed_, ack_elapsed_);
  if (rs_.interval >= min_rtt && rs_.interval > util::Duration{0}) {
    rs_.delivery_rate =
        static_cast<double>(rs_.delivered) / std::chrono::duration<double>(rs_.interval).count();
  }
  return rs_;
}

}  // namespace punch::transport
