// BBR congestion control, version 1 (draft-cardwell-iccrg-bbr-congestion-control-00):
// a model of the path (bottleneck bandwidth = windowed max of delivery-rate samples,
// propagation delay = windowed min RTT) instead of loss as the congestion signal. The
// sender paces at gain x bandwidth and keeps gain x BDP in flight, cycling the gain to
// probe for more bandwidth and periodically draining queues to re-measure the RTT.
//
// Random loss does not shrink the model, which is why BBR keeps a lossy path full where
// NewReno collapses. As a guard against flooding (BBRv2's inflight_hi, simplified):
// kBbrHeavyLossRounds round trips in a row that each lose more than kBbrHeavyLossRate of
// their packets cap the bytes in flight below what was in flight then (and again for each
// further such round); every clean round trip raises the cap by a packet until it no
// longer matters. The thresholds are high on purpose: a guard that fires on moderate loss
// squeezes the smaller of two flows sharing a drop-tail queue (it sees the higher loss
// rate) and breaks BBR's convergence to fair shares.
//
// ACK aggregation (Linux BBR's extra_acked): when acknowledgements arrive in bursts
// (delayed ACKs, a peer or relay that handles a batch of packets per event-loop pass,
// as every punch process does), gain x BDP from the *minimum* RTT leaves the sender
// idle between bursts. The windowed max of "bytes acknowledged in this burst beyond
// what the bandwidth explains" is added to the window. Without it, a loopback relay
// ran at 0.8 Gbit/s with every process half idle; with it, 1.4-1.5 Gbit/s.
#pragma once

#include <array>
#include <cstdint>
#include <limits>

#include "transport/congestion_controller.hpp"
#include "transport/constants.hpp"

namespace punch::transport {

/// The BBR v1 congestion controller with a heavy-loss in-flight cap.
class Bbr final : public CongestionController {
 public:
  /// BBR's state machine.
  enum class Mode { kStartup, kDrain, kProbeBw, kProbeRtt };

  /// Starts in Startup with kInitialWindow.
  Bbr() { reset(); }

  void on_packet_sent(util::TimePoint now, std::uint64_t bytes) override;
  void on_packet_acked(util::TimePoint time_sent, std::uint64_t bytes,
                       std::uint64_t prior_in_flight, util::TimePoint now) override;
  void on_ack_sample(const RateSample& rs, util::TimePoint now) override;
  void on_congestion_event(util::TimePoint latest_lost_sent, util::TimePoint now) override;
  void on_persistent_congestion() override;
  std::uint64_t window() const override;
  double pacing_rate(const RttEstimator& rtt) const override;
  void reset() override;

  /// Current state.
  Mode mode() const { return mode_; }
  /// Bottleneck bandwidth estimate in bytes per second (0 before the first sample).
  double bandwidth() const;
  /// Propagation delay estimate (zero before the first sample).
  util::Duration min_rtt() const { return min_rtt_; }
  /// Bandwidth-delay product in bytes (kInitialWindow before both estimates exist).
  std::uint64_t bdp() const;
  /// True once Startup found the bandwidth ceiling.
  bool filled_pipe() const { return filled_pipe_; }
  /// Round trips counted so far.
  std::uint64_t round_count() const { return round_count_; }
  /// Cap on bytes in flight set by heavy loss (UINT64_MAX: none).
  std::uint64_t inflight_cap() const { return inflight_cap_; }
  /// Current pacing gain.
  double pacing_gain() const { return pacing_gain_; }
  /// Window added for ACK aggregation, in bytes (0 until the pipe is full).
  std::uint64_t aggregation_window() const;

 private:
  static constexpr std::uint64_t kNoCap = std::numeric_limits<std::uint64_t>::max();

  std::uint64_t target_window(double gain) const;
  void update_round(const RateSample& rs);
  void update_bandwidth(const RateSample& rs);
  void update_loss(const RateSample& rs);
  void check_full_pipe(const RateSample& rs);
  void update_cycle_phase(const RateSample& rs, util::TimePoint now);
  void check_drain(const RateSample& rs, util::TimePoint now);
  void update_min_rtt(const RateSample& rs, util::TimePoint now);
  void enter_probe_bw(util::TimePoint now);
  void update_window(const RateSample& rs);
  void update_ack_aggregation(const RateSample& rs, util::TimePoint now);

  Mode mode_ = Mode::kStartup;
  double pacing_gain_ = kBbrHighGain;
  double cwnd_gain_ = kBbrHighGain;
  std::uint64_t cwnd_ = kInitialWindow;  // Set by reset().
  std::uint64_t prior_cwnd_ = 0;         // Saved on entering ProbeRTT.

  // Max filter: the best sample of each of the last kBbrBandwidthWindowRounds rounds.
  struct RoundMax {
    std::uint64_t round = 0;
    double bw = 0;
  };
  std::array<RoundMax, kBbrBandwidthWindowRounds> bw_rounds_{};
  double pacing_rate_ = 0;  // Only rises during Startup, to stay smooth.

  util::Duration min_rtt_{};
  util::TimePoint min_rtt_stamp_{};
  bool probe_rtt_timing_ = false;  // The ProbeRTT dwell time has started.
  util::TimePoint probe_rtt_done_{};
  bool probe_rtt_round_done_ = false;

  std::uint64_t round_count_ = 0;
  std::uint64_t next_round_delivered_ = 0;
  bool round_start_ = false;

  double full_bw_ = 0;
  std::uint64_t full_bw_count_ = 0;
  bool filled_pipe_ = false;

  std::size_t cycle_index_ = 0;
  util::TimePoint cycle_stamp_{};

  // Loss accounting per round trip, and the cap it sets.
  std::uint64_t round_lost_packets_ = 0;
  std::uint64_t round_acked_packets_ = 0;
  std::uint64_t round_max_in_flight_ = 0;
  std::uint64_t inflight_cap_ = kNoCap;
  std::uint64_t heavy_rounds_ = 0;  // Consecutive rounds with heavy loss.
  // ACK aggregation: a max filter in two halves of kBbrExtraAckedRounds round trips,
  // and the current epoch (acknowledged bytes since it started).
  std::array<std::uint64_t, 2> extra_acked_{};
  std::size_t extra_acked_index_ = 0;
  std::uint64_t extra_acked_rounds_ = 0;
  util::TimePoint ack_epoch_start_{};
  std::uint64_t ack_epoch_acked_ = 0;
};

}  // namespace punch::transport
