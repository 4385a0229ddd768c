#include "transport/rtt_estimator.hpp"

#include <algorithm>

#include "transport/constants.hpp"

namespace punch::transport {

void RttEstimator::update(util::Duration latest_rtt, util::Duration ack_delay,
                          util::TimePoint now) {
  // A clock step or a broken peer can yield a negative sample; it carries no information.
  if (latest_rtt <= util::Duration{0}) latest_rtt = util::Duration{1};
  latest_ = latest_rtt;
  if (!has_sample_) {
    has_sample_ = true;
    first_sample_time_ = now;
    min_ = latest_rtt;
    smoothed_ = latest_rtt;
    variance_ = latest_rtt / 2;
    return;
  }
  min_ = std::min(min_, latest_rtt);
  // Subtracting the ACK delay must not push the sample below the minimum RTT (RFC 9002 5.3).
  util::Duration adjusted = latest_rtt;
  if (latest_rtt >= min_ + ack_delay) adjusted = latest_rtt - ack_delay;
  const util::Duration deviation =
      smoothed_ > adjusted ? smoothed_ - adjusted : adjusted - smoothed_;
  variance_ = (3 * variance_ + deviation) / 4;
  smoothed_ = (7 * smoothed_ + adjusted) / 8;
}

void RttEstimator::reset() {
  smoothed_ = kInitialRtt;
  variance_ = kInitialRtt / 2;
  latest_ = util::Duration{0};
  min_ = util::Duration{0};
  has_sample_ = false;
  first_sample_time_ = util::TimePoint{};
}

util::Duration RttEstimator::pto_base() const {
  return smoothed_ + std::max<util::Duration>(4 * variance_, kGranularity);
}

util::Duration RttEstimator::loss_delay() const {
  const util::Duration base = std::max(smoothed_, latest_);
  return std::max<util::Duration>(base * kTimeThresholdNumerator / kTimeThresholdDenominator,
                                  kGranularity);
}

}  // namespace punch::transport
