#include "transport/bbr.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace punch::transport {
namespace {

double seconds(util::Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

void Bbr::reset() {
  mode_ = Mode::kStartup;
  pacing_gain_ = kBbrHighGain;
  cwnd_gain_ = kBbrHighGain;
  cwnd_ = initial_window();
  prior_cwnd_ = 0;
  bw_rounds_ = {};
  pacing_rate_ = 0;
  min_rtt_ = util::Duration{0};
  min_rtt_stamp_ = util::TimePoint{};
  probe_rtt_timing_ = false;
  probe_rtt_done_ = util::TimePoint{};
  probe_rtt_round_done_ = false;
  round_count_ = 0;
  next_round_delivered_ = 0;
  round_start_ = false;
  full_bw_ = 0;
  full_bw_count_ = 0;
  filled_pipe_ = false;
  cycle_index_ = 0;
  cycle_stamp_ = util::TimePoint{};
  round_lost_packets_ = 0;
  round_acked_packets_ = 0;
  round_max_in_flight_ = 0;
  inflight_cap_ = kNoCap;
  heavy_rounds_ = 0;
  extra_acked_ = {};
  extra_acked_index_ = 0;
  extra_acked_rounds_ = 0;
  ack_epoch_start_ = util::TimePoint{};
  ack_epoch_acked_ = 0;
}

void Bbr::on_packet_sent(util::TimePoint, std::uint64_t) {}

void Bbr::on_packet_acked(util::TimePoint, std::uint64_t, std::uint64_t, util::TimePoint) {}

// Loss is judged per round trip in update_loss(), from the rate samples.
void Bbr::on_congestion_event(util::TimePoint, util::TimePoint) {}

void Bbr::on_persistent_congestion() {
  // Nothing got through for several PTOs (a blackhole, a dead path): restart ACK clocking
  // from the minimum window. The model survives; the window regrows by what gets acked.
  cwnd_ = scaled(kBbrMinWindow);
}

double Bbr::bandwidth() const {
  double best = 0;
  for (const RoundMax& r : bw_rounds_) {
    if (r.round + kBbrBandwidthWindowRounds > round_count_) best = std::max(best, r.bw);
  }
  return best;
}

std::uint64_t Bbr::bdp() const {
  const double bw = bandwidth();
  if (bw <= 0 || min_rtt_ <= util::Duration{0}) return initial_window();
  return static_cast<std::uint64_t>(bw * seconds(min_rtt_));
}

std::uint64_t Bbr::target_window(double gain) const {
  if (bandwidth() <= 0 || min_rtt_ <= util::Duration{0}) return initial_window();
  return static_cast<std::uint64_t>(gain * static_cast<double>(bdp())) + scaled(kBbrWindowQuanta);
}

std::uint64_t Bbr::window() const {
  std::uint64_t w = std::min(cwnd_, inflight_cap_);
  if (mode_ == Mode::kProbeRtt) w = std::min(w, scaled(kBbrMinWindow));
  return std::max(w, scaled(kBbrMinWindow));
}

double Bbr::pacing_rate(const RttEstimator& rtt) const {
  if (pacing_rate_ > 0) return pacing_rate_;
  // No bandwidth sample yet: the initial window per (smoothed) RTT, at Startup gain.
  const double s = seconds(rtt.has_sample() ? rtt.smoothed() : kInitialRtt);
  return kBbrHighGain * static_cast<double>(initial_window()) / std::max(s, 1e-3);
}

void Bbr::on_ack_sample(const RateSample& rs, util::TimePoint now) {
  update_round(rs);
  update_bandwidth(rs);
  update_loss(rs);
  update_cycle_phase(rs, now);
  check_full_pipe(rs);
  check_drain(rs, now);
  update_min_rtt(rs, now);
  update_ack_aggregation(rs, now);
  // Pacing: gain x bandwidth; during Startup never slower than before (samples are noisy).
  const double rate = pacing_gain_ * bandwidth();
  if (rate > 0 && (filled_pipe_ || rate > pacing_rate_)) pacing_rate_ = rate;
  update_window(rs);
}

void Bbr::update_round(const RateSample& rs) {
  round_start_ = false;
  if (rs.acked_packets > 0 && rs.prior_delivered >= next_round_delivered_) {
    next_round_delivered_ = rs.total_delivered;
    ++round_count_;
    round_start_ = true;
  }
}

void Bbr::update_bandwidth(const RateSample& rs) {
  if (rs.delivery_rate <= 0) return;
  // App-limited samples understate the path unless they beat the estimate anyway.
  if (rs.app_limited && rs.delivery_rate < bandwidth()) return;
  RoundMax& slot = bw_rounds_[round_count_ % kBbrBandwidthWindowRounds];
  if (slot.round != round_count_) slot = RoundMax{round_count_, 0};
  slot.bw = std::max(slot.bw, rs.delivery_rate);
}

void Bbr::update_loss(const RateSample& rs) {
  round_lost_packets_ += rs.lost_packets;
  round_acked_packets_ += rs.acked_packets;
  round_max_in_flight_ = std::max(round_max_in_flight_, rs.prior_in_flight);
  if (!round_start_) return;
  const std::uint64_t total = round_lost_packets_ + round_acked_packets_;
  const bool heavy =
      round_lost_packets_ >= kBbrHeavyLossMinPackets &&
      static_cast<double>(round_lost_packets_) > kBbrHeavyLossRate * static_cast<double>(total);
  heavy_rounds_ = heavy ? heavy_rounds_ + 1 : 0;
  if (heavy_rounds_ >= kBbrHeavyLossRounds) {
    // Round after round, most of what was in flight vanished: that is no random loss, the
    // path cannot carry it (its rate fell, or it is shared with far more traffic than the
    // model believes). Stay well below it until rounds are clean again.
    const auto in_flight = std::min(round_max_in_flight_, inflight_cap_);
    inflight_cap_ =
        std::max(scaled(kBbrMinWindow),
                 static_cast<std::uint64_t>(kBbrInflightCapBeta * static_cast<double>(in_flight)));
    // Startup that meets such loss has found the ceiling (BBRv2 exits Startup on loss too).
    filled_pipe_ = true;
  } else if (!heavy && inflight_cap_ != kNoCap) {
    // Additive regrowth, one packet per clean round, as after any multiplicative decrease.
    inflight_cap_ += max_datagram();
    // Once the cap no longer binds the model it is pointless: lift it.
    if (inflight_cap_ >= 2 * target_window(kBbrCwndGain)) inflight_cap_ = kNoCap;
  }
  round_lost_packets_ = 0;
  round_acked_packets_ = 0;
  round_max_in_flight_ = rs.bytes_in_flight;
}

void Bbr::check_full_pipe(const RateSample& rs) {
  if (filled_pipe_ || !round_start_ || rs.app_limited) return;
  const double bw = bandwidth();
  if (bw >= full_bw_ * kBbrFullBandwidthGrowth) {
    full_bw_ = bw;
    full_bw_count_ = 0;
    return;
  }
  if (++full_bw_count_ >= kBbrFullBandwidthRounds) filled_pipe_ = true;
}

void Bbr::enter_probe_bw(util::TimePoint now) {
  mode_ = Mode::kProbeBw;
  cwnd_gain_ = kBbrCwndGain;
  // Start anywhere but the draining phase, varied so that flows do not probe in lockstep.
  constexpr std::size_t kPhases = std::size(kBbrPacingGainCycle);
  cycle_index_ = 2 + static_cast<std::size_t>(round_count_ % (kPhases - 2));
  cycle_stamp_ = now;
  pacing_gain_ = kBbrPacingGainCycle[cycle_index_];
}

void Bbr::update_cycle_phase(const RateSample& rs, util::TimePoint now) {
  if (mode_ != Mode::kProbeBw) return;
  const bool full_length = now - cycle_stamp_ > min_rtt_;
  bool advance = false;
  if (pacing_gain_ > 1.0) {
    // Probe until the extra data is really in flight (or loss says the queue is full).
    advance =
        full_length && (rs.lost_packets > 0 || rs.prior_in_flight >= target_window(pacing_gain_));
  } else if (pacing_gain_ < 1.0) {
    advance = full_length || rs.prior_in_flight <= target_window(1.0);
  } else {
    advance = full_length;
  }
  if (!advance) return;
  cycle_index_ = (cycle_index_ + 1) % std::size(kBbrPacingGainCycle);
  cycle_stamp_ = now;
  pacing_gain_ = kBbrPacingGainCycle[cycle_index_];
}

void Bbr::check_drain(const RateSample& rs, util::TimePoint now) {
  if (mode_ == Mode::kStartup && filled_pipe_) {
    mode_ = Mode::kDrain;
    pacing_gain_ = kBbrDrainGain;
    cwnd_gain_ = kBbrHighGain;
  }
  if (mode_ == Mode::kDrain && rs.bytes_in_flight <= target_window(1.0)) enter_probe_bw(now);
}

void Bbr::update_min_rtt(const RateSample& rs, util::TimePoint now) {
  const bool expired = min_rtt_ > util::Duration{0} && now > min_rtt_stamp_ + kBbrMinRttWindow;
  if (rs.rtt > util::Duration{0} &&
      (min_rtt_ <= util::Duration{0} || rs.rtt <= min_rtt_ || expired)) {
    min_rtt_ = rs.rtt;
    min_rtt_stamp_ = now;
  }
  if (expired && mode_ != Mode::kProbeRtt) {
    mode_ = Mode::kProbeRtt;
    pacing_gain_ = 1.0;
    prior_cwnd_ = std::max(prior_cwnd_, cwnd_);
    probe_rtt_timing_ = false;
  }
  if (mode_ != Mode::kProbeRtt) return;
  if (!probe_rtt_timing_) {
    // Dwell once the queue we built is gone: in flight at the minimum window.
    if (rs.bytes_in_flight <= scaled(kBbrMinWindow)) {
      probe_rtt_timing_ = true;
      probe_rtt_done_ = now + kBbrProbeRttDuration;
      probe_rtt_round_done_ = false;
      next_round_delivered_ = rs.total_delivered;
    }
    return;
  }
  if (round_start_) probe_rtt_round_done_ = true;
  if (probe_rtt_round_done_ && now >= probe_rtt_done_) {
    min_rtt_stamp_ = now;
    cwnd_ = std::max(cwnd_, prior_cwnd_);
    prior_cwnd_ = 0;
    if (filled_pipe_) {
      enter_probe_bw(now);
    } else {
      mode_ = Mode::kStartup;
      pacing_gain_ = kBbrHighGain;
      cwnd_gain_ = kBbrHighGain;
    }
  }
}

// Linux's bbr_update_ack_aggregation(): measures how far acknowledgements run
// ahead of the bandwidth estimate within an epoch, and keeps the windowed max.
void Bbr::update_ack_aggregation(const RateSample& rs, util::TimePoint now) {
  if (rs.newly_acked == 0) return;
  if (round_start_ && ++extra_acked_rounds_ >= kBbrExtraAckedRounds) {
    extra_acked_rounds_ = 0;
    extra_acked_index_ ^= 1;
    extra_acked_[extra_acked_index_] = 0;
  }
  const double epoch = seconds(now - ack_epoch_start_);
  auto expected = static_cast<std::uint64_t>(bandwidth() * epoch);
  // An epoch ends when acknowledgements fell behind the bandwidth (no burst) or
  // when it grew old enough that its count says nothing any more.
  if (ack_epoch_acked_ <= expected || ack_epoch_acked_ >= kBbrExtraAckedEpochReset) {
    ack_epoch_acked_ = 0;
    ack_epoch_start_ = now;
    expected = 0;
  }
  ack_epoch_acked_ += rs.newly_acked;
  const std::uint64_t extra = std::min(ack_epoch_acked_ - expected, cwnd_);
  extra_acked_[extra_acked_index_] = std::max(extra_acked_[extra_acked_index_], extra);
}

std::uint64_t Bbr::aggregation_window() const {
  if (!filled_pipe_) return 0;
  const auto cap = static_cast<std::uint64_t>(bandwidth() * seconds(kBbrExtraAckedMax));
  return std::min(std::max(extra_acked_[0], extra_acked_[1]), cap);
}

void Bbr::update_window(const RateSample& rs) {
  if (rs.newly_acked == 0) return;
  const std::uint64_t target = target_window(cwnd_gain_) + aggregation_window();
  if (filled_pipe_) {
    cwnd_ = std::min(cwnd_ + rs.newly_acked, target);
  } else if (cwnd_ < target || rs.total_delivered < initial_window()) {
    cwnd_ += rs.newly_acked;
  }
  cwnd_ = std::max(cwnd_, scaled(kBbrMinWindow));
}

}  // namespace punch::transport
