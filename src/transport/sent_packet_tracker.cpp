#include "transport/sent_packet_tracker.hpp"

#include <algorithm>
#include <string>

#include "transport/constants.hpp"
#include "util/assert.hpp"

namespace punch::transport {

void SentPacketTracker::on_packet_sent(SentPacket p) {
  PUNCH_ASSERT(p.packet_number == next_pn_);
  if (packets_.empty()) first_pn_ = next_pn_;
  ++next_pn_;
  const State state = p.ack_eliciting ? State::kInFlight : State::kNotInFlight;
  if (p.ack_eliciting) {
    p.delivery = sampler_.on_packet_sent(p.time_sent, bytes_in_flight_);
    bytes_in_flight_ += p.bytes;
    ++ack_eliciting_in_flight_;
    last_ack_eliciting_sent_ = p.time_sent;
    cc_.on_packet_sent(p.time_sent, p.bytes);
  }
  const util::TimePoint now = p.time_sent;
  packets_.push_back(Entry{std::move(p), state});
  pop_resolved(now);
}

util::Status SentPacketTracker::on_ack_received(const AckFrame& ack, util::Duration ack_delay,
                                                util::TimePoint now, LossListener& listener) {
  if (ack.ranges.empty()) return util::Error{"ACK frame without ranges"};
  const std::uint64_t largest = ack.ranges.front().largest;
  if (largest >= next_pn_) {
    return util::Error{"ACK of packet " + std::to_string(largest) + " which was never sent"};
  }
  const std::uint64_t prior_in_flight = bytes_in_flight_;
  sampler_.begin_ack(prior_in_flight);
  acked_scratch_.clear();
  bool any_newly_acked = false;
  bool eliciting_newly_acked = false;
  bool largest_newly_acked = false;
  util::TimePoint largest_sent{};
  for (const AckRange& range : ack.ranges) {
    // Ranges descend, so once one lies below the tracked packets all the rest do too.
    if (range.largest < first_pn_ || packets_.empty()) break;
    const std::uint64_t low = std::max(range.smallest, first_pn_);
    for (std::uint64_t pn = low; pn <= range.largest; ++pn) {
      Entry& e = packets_[pn - first_pn_];
      switch (e.state) {
        case State::kAcked:
          continue;
        case State::kInFlight:
          bytes_in_flight_ -= e.packet.bytes;
          --ack_eliciting_in_flight_;
          acked_scratch_.push_back({e.packet.time_sent, e.packet.bytes});
          sampler_.on_packet_delivered(e.packet.delivery, e.packet.time_sent, e.packet.bytes, now);
          eliciting_newly_acked = true;
          break;
        case State::kLost:
          // Delivered after all: it counts towards the delivery rate, not towards in flight,
          // and the path reorders this much, so wait that long before declaring loss.
          // A late probe was slow to serialize, if anything: no lesson about reordering.
          if (!e.packet.mtu_probe) {
            ++spurious_losses_;
            packet_threshold_ = std::min(std::max(packet_threshold_, e.lost_at_largest - pn + 1),
                                         kMaxPacketThreshold);
            time_threshold_ = std::min(time_threshold_ + 1, kMaxTimeThresholdNumerator);
          }
          sampler_.on_packet_delivered(e.packet.delivery, e.packet.time_sent, e.packet.bytes, now);
          break;
        case State::kNotInFlight:
          break;
      }
      const bool was_lost = e.state == State::kLost;
      e.state = State::kAcked;
      any_newly_acked = true;
      if (pn == largest && !was_lost) {
        largest_newly_acked = true;
        largest_sent = e.packet.time_sent;
      }
      listener.on_packet_acked(e.packet);
    }
  }
  if (!largest_acked_ || largest > *largest_acked_) largest_acked_ = largest;
  if (largest_newly_acked && eliciting_newly_acked) {
    rtt_.update(now - largest_sent, std::min<util::Duration>(ack_delay, kMaxAckDelay), now);
  }
  // Loss first, so a recovery period starting now excludes the packets acknowledged now.
  detect_lost(now, listener);
  for (const Acked& a : acked_scratch_)
    cc_.on_packet_acked(a.time_sent, a.bytes, prior_in_flight, now);
  cc_.on_ack_sample(sampler_.end_ack(now, rtt_.min(), bytes_in_flight_), now);
  if (any_newly_acked) pto_count_ = 0;
  pop_resolved(now);
  return util::ok_status();
}

void SentPacketTracker::detect_lost(util::TimePoint now, LossListener& listener) {
  loss_time_ = util::kNever;
  if (!largest_acked_) return;
  const std::uint64_t largest = *largest_acked_;
  const util::Duration loss_delay = std::max<util::Duration>(
      std::max(rtt_.smoothed(), rtt_.latest()) * time_threshold_ / kTimeThresholdDenominator,
      kGranularity);
  const util::TimePoint lost_send_time = now - loss_delay;
  const util::Duration congestion_period =
      (rtt_.pto_base() + kMaxAckDelay) * kPersistentCongestionThreshold;
  bool any_lost = false;
  bool persistent = false;
  util::TimePoint latest_lost{};
  bool in_run = false;  // A run of losses with nothing acknowledged between them.
  util::TimePoint run_start{};
  std::uint64_t next_scan = largest;
  for (std::uint64_t pn = std::max(scan_from_, first_pn_); pn < largest; ++pn) {
    Entry& e = packets_[pn - first_pn_];
    if (e.state == State::kAcked) {
      in_run = false;
      continue;
    }
    if (e.state != State::kInFlight) continue;
    const util::TimePoint sent = e.packet.time_sent;
    if (pn + packet_threshold_ <= largest || sent <= lost_send_time) {
      declare_lost(e, now, listener);
      // A lost MTU probe says nothing about congestion, nor does it end a run of losses.
      if (e.packet.mtu_probe) continue;
      any_lost = true;
      latest_lost = std::max(latest_lost, sent);
      if (!in_run) {
        in_run = true;
        run_start = sent;
      } else if (sent - run_start > congestion_period && rtt_.has_sample() &&
                 run_start > rtt_.first_sample_time()) {
        persistent = true;
      }
    } else {
      loss_time_ = std::min(loss_time_, sent + loss_delay);
      next_scan = std::min(next_scan, pn);
    }
  }
  scan_from_ = std::max(scan_from_, next_scan);
  if (any_lost) {
    cc_.on_congestion_event(latest_lost, now);
    if (persistent) cc_.on_persistent_congestion();
  }
}

void SentPacketTracker::declare_lost(Entry& e, util::TimePoint now, LossListener& listener) {
  e.state = State::kLost;
  e.lost_at_largest = largest_acked_.value_or(0);
  e.lost_time = now;
  bytes_in_flight_ -= e.packet.bytes;
  --ack_eliciting_in_flight_;
  if (e.packet.mtu_probe) {
    ++probes_lost_;
  } else {
    ++packets_lost_;
    sampler_.on_packet_lost(e.packet.bytes);
  }
  listener.on_packet_lost(e.packet);
}

void SentPacketTracker::abandon_in_flight(util::TimePoint now, LossListener& listener) {
  for (Entry& e : packets_) {
    if (e.state == State::kInFlight) declare_lost(e, now, listener);
  }
  loss_time_ = util::kNever;
  pop_resolved(now);
}

util::TimePoint SentPacketTracker::deadline() const {
  if (loss_time_ != util::kNever) return loss_time_;
  if (ack_eliciting_in_flight_ == 0) return util::kNever;
  const util::Duration base = pto_period();
  const util::Duration backed_off = base * (1 << std::min(pto_count_, kMaxPtoBackoff));
  return last_ack_eliciting_sent_ + std::min(backed_off, std::max(base, kMaxPtoPeriod));
}

SentPacketTracker::TimeoutResult SentPacketTracker::on_timeout(util::TimePoint now,
                                                               LossListener& listener) {
  if (loss_time_ != util::kNever) {
    if (loss_time_ > now) return TimeoutResult::kNone;
    detect_lost(now, listener);
    pop_resolved(now);
    return TimeoutResult::kLossDetected;
  }
  if (ack_eliciting_in_flight_ == 0 || deadline() > now) return TimeoutResult::kNone;
  ++pto_count_;
  return TimeoutResult::kProbe;
}

std::vector<SentFrame> SentPacketTracker::take_frame_vector() {
  if (spare_frames_.empty()) return {};
  std::vector<SentFrame> v = std::move(spare_frames_.back());
  spare_frames_.pop_back();
  return v;
}

void SentPacketTracker::pop_resolved(util::TimePoint now) {
  // ACK-only packets are resolved when sent: nobody waits for their acknowledgement, and
  // one still tracked when acknowledged only lets the receiver forget old ranges sooner.
  // Lost packets stay for a PTO period, so that a late ACK reveals reordering.
  const util::Duration keep_lost = pto_period();
  while (!packets_.empty()) {
    const Entry& e = packets_.front();
    if (e.state == State::kInFlight) break;
    if (e.state == State::kLost && now < e.lost_time + keep_lost) break;
    std::vector<SentFrame>& frames = packets_.front().packet.frames;
    if (frames.capacity() != 0 && spare_frames_.size() < 64) {
      frames.clear();
      spare_frames_.push_back(std::move(frames));
    }
    packets_.pop_front();
    ++first_pn_;
  }
}

util::Duration SentPacketTracker::pto_period() const { return rtt_.pto_base() + kMaxAckDelay; }

}  // namespace punch::transport
