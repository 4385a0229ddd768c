// Round-trip time estimation as RFC 9002, section 5: min, smoothed and variance,
// with the peer's reported ACK delay subtracted where that stays plausible.
#pragma once

#include "util/time.hpp"

namespace punch::transport {

/// RTT samples folded into the estimates loss detection and PTO use.
class RttEstimator {
 public:
  /// Starts with kInitialRtt and no sample.
  RttEstimator() { reset(); }

  /// Folds in `latest_rtt` measured at `now`; `ack_delay` is the peer's reported delay,
  /// already capped at kMaxAckDelay by the caller.
  void update(util::Duration latest_rtt, util::Duration ack_delay, util::TimePoint now);
  /// Forgets every sample (a new path).
  void reset();

  /// Exponentially smoothed RTT (kInitialRtt before the first sample).
  util::Duration smoothed() const { return smoothed_; }
  /// Mean deviation of the RTT.
  util::Duration variance() const { return variance_; }
  /// Most recent sample (zero before the first).
  util::Duration latest() const { return latest_; }
  /// Lowest sample seen (zero before the first).
  util::Duration min() const { return min_; }
  /// True once a sample was taken.
  bool has_sample() const { return has_sample_; }
  /// When the first sample was taken (meaningful only with has_sample()).
  util::TimePoint first_sample_time() const { return first_sample_time_; }
  /// smoothed + max(4 * variance, kGranularity): the PTO period before max_ack_delay.
  util::Duration pto_base() const;
  /// How long after a later packet was acknowledged an earlier one counts as lost:
  /// 9/8 * max(smoothed, latest), at least kGranularity.
  util::Duration loss_delay() const;

 private:
  util::Duration smoothed_{};
  util::Duration variance_{};
  util::Duration latest_{};
  util::Duration min_{};
  bool has_sample_ = false;
  util::TimePoint first_sample_time_{};
};

}  // namespace punch::transport
