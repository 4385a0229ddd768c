// Loss detection as RFC 9002, section 6 for a single packet number space:
// remembers what every sent packet carried, processes ACK frames, declares
// packets lost by packet threshold and time threshold, runs the PTO timer,
// feeds the RTT estimator, the delivery-rate sampler and the congestion controller.
//
// A packet declared lost and then acknowledged was reordered, not lost: the packet and
// time thresholds grow to what was seen (RFC 9002 6.1.1 and 6.1.2 allow adapting them),
// so a path that reorders stops causing spurious retransmissions.
//
// Packet numbers are consecutive, so packets live in a deque indexed by
// (pn - first tracked pn): lookups are O(1), and resolved packets leave from
// the front. Loss scanning resumes where it stopped, so each packet is
// examined O(1) times overall, whatever the window.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "transport/congestion_controller.hpp"
#include "transport/constants.hpp"
#include "transport/frame.hpp"
#include "transport/rate_sampler.hpp"
#include "transport/rtt_estimator.hpp"
#include "transport/stream_id.hpp"
#include "util/result.hpp"
#include "util/time.hpp"

namespace punch::transport {

/// What kind of retransmittable information a sent packet carried.
enum class SentFrameKind : std::uint8_t {
  kStream,         ///< Bytes [offset, offset + length) of `stream`, plus FIN if `fin`.
  kMaxData,        ///< MAX_DATA with limit `offset`.
  kMaxStreamData,  ///< MAX_STREAM_DATA for `stream` with limit `offset`.
  kMaxStreams,     ///< MAX_STREAMS with limit `offset`.
  kResetStream,    ///< RESET_STREAM for `stream`.
  kStopSending,    ///< STOP_SENDING for `stream`.
};

/// A frame's worth of retransmittable information, kept until its packet is resolved.
struct SentFrame {
  SentFrameKind kind = SentFrameKind::kStream;
  bool fin = false;
  StreamId stream = 0;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

/// One sent packet as loss detection sees it.
struct SentPacket {
  std::uint64_t packet_number = 0;
  util::TimePoint time_sent{};
  std::uint32_t bytes = 0;
  bool ack_eliciting = false;  ///< Ack-eliciting packets are the ones counted in flight.
  /// A path MTU probe: its loss says the path refuses the size, not that it is congested,
  /// so it feeds neither the controller nor the loss counters (RFC 9000 14.4).
  bool mtu_probe = false;
  std::optional<std::uint64_t> largest_acked;  ///< Largest Acknowledged of an ACK it carried.
  DeliveryState delivery;  ///< Rate sampler state when sent (set by the tracker).
  std::vector<SentFrame> frames;
};

/// Told what happened to the frames of sent packets.
class LossListener {
 public:
  virtual ~LossListener() = default;
  /// `p` was acknowledged (possibly after having been declared lost: a spurious loss).
  virtual void on_packet_acked(const SentPacket& p) = 0;
  /// `p` is considered lost; its frames need resending (an MTU probe carries none).
  virtual void on_packet_lost(const SentPacket& p) = 0;
};

/// Sent packets, acknowledgements, loss and PTO for one connection.
class SentPacketTracker {
 public:
  /// What on_timeout() did.
  enum class TimeoutResult { kNone, kLossDetected, kProbe };

  /// Feeds `rtt` and `cc`, which must outlive the tracker.
  SentPacketTracker(RttEstimator& rtt, CongestionController& cc) : rtt_(rtt), cc_(cc) {}

  /// Packet number the next sent packet must carry.
  std::uint64_t next_packet_number() const { return next_pn_; }
  /// Records `p` (its number must be next_packet_number()); ack-eliciting packets go in flight.
  void on_packet_sent(SentPacket p);
  /// Processes an ACK frame received at `now` whose decoded delay is `ack_delay`; fails when
  /// it acknowledges a packet never sent.
  util::Status on_ack_received(const AckFrame& ack, util::Duration ack_delay, util::TimePoint now,
                               LossListener& listener);
  /// When on_timeout() must run: the loss time, else the PTO; kNever with nothing in flight.
  util::TimePoint deadline() const;
  /// Declares packets lost by time threshold or fires the PTO (the caller then sends probes).
  TimeoutResult on_timeout(util::TimePoint now, LossListener& listener);
  /// Calls `f(const SentPacket&)` for up to `count` oldest packets still in flight.
  template <typename F>
  void for_oldest_in_flight(std::size_t count, F&& f) const;
  /// Declares every packet in flight lost at once, without a congestion signal: they were
  /// sent on a path that died, and waiting for loss detection on the new path (whose RTT
  /// is not known yet) would stall the session for a PTO or more.
  void abandon_in_flight(util::TimePoint now, LossListener& listener);
  /// Restarts the PTO backoff (a new path).
  void reset_backoff() { pto_count_ = 0; }
  /// Returns the reordering thresholds to their RFC defaults (a new path).
  void reset_reordering() {
    packet_threshold_ = kPacketThreshold;
    time_threshold_ = kTimeThresholdNumerator;
  }
  /// Packets a later acknowledged one must lead by for an earlier one to be lost: starts at
  /// kPacketThreshold and grows to the reordering seen in spurious losses.
  std::uint64_t packet_threshold() const { return packet_threshold_; }
  /// Time threshold numerator over kTimeThresholdDenominator: starts at 9 (9/8 RTT) and grows
  /// by one per spurious loss, up to kMaxTimeThresholdNumerator.
  std::int64_t time_threshold() const { return time_threshold_; }
  /// Notes that the sender has nothing to send: rate samples until the bytes now in flight
  /// are delivered measure the application, not the path.
  void on_app_limited() { sampler_.on_app_limited(bytes_in_flight_); }

  /// Bytes of ack-eliciting packets neither acknowledged nor declared lost.
  std::uint64_t bytes_in_flight() const { return bytes_in_flight_; }
  /// Consecutive PTOs without an acknowledgement.
  unsigned pto_count() const { return pto_count_; }
  /// Packets declared lost so far, MTU probes not included.
  std::uint64_t packets_lost() const { return packets_lost_; }
  /// MTU probes declared lost so far.
  std::uint64_t probes_lost() const { return probes_lost_; }
  /// Packets declared lost and acknowledged later.
  std::uint64_t spurious_losses() const { return spurious_losses_; }
  /// Packets still remembered (bounded by the window, plus ACK-only packets of one RTT and
  /// lost packets of one PTO period).
  std::size_t tracked_packets() const { return packets_.size(); }
  /// Takes a cleared frame vector with spare capacity, to spare an allocation per packet.
  std::vector<SentFrame> take_frame_vector();

 private:
  enum class State : std::uint8_t { kInFlight, kAcked, kLost, kNotInFlight };
  struct Entry {
    SentPacket packet;
    State state;
    std::uint64_t lost_at_largest = 0;  // Largest acknowledged when declared lost.
    util::TimePoint lost_time{};        // When declared lost.
  };

  void detect_lost(util::TimePoint now, LossListener& listener);
  void declare_lost(Entry& e, util::TimePoint now, LossListener& listener);
  void pop_resolved(util::TimePoint now);
  util::Duration pto_period() const;

  RttEstimator& rtt_;
  CongestionController& cc_;
  RateSampler sampler_;
  std::deque<Entry> packets_;
  std::uint64_t first_pn_ = 0;  // Packet number of packets_.front().
  std::uint64_t next_pn_ = 0;
  std::optional<std::uint64_t> largest_acked_;
  std::uint64_t scan_from_ = 0;  // Loss detection examined everything below this.
  std::uint64_t bytes_in_flight_ = 0;
  std::uint64_t ack_eliciting_in_flight_ = 0;
  util::TimePoint loss_time_ = util::kNever;
  util::TimePoint last_ack_eliciting_sent_{};
  unsigned pto_count_ = 0;
  std::uint64_t packet_threshold_ = kPacketThreshold;
  std::int64_t time_threshold_ = kTimeThresholdNumerator;
  std::uint64_t packets_lost_ = 0;
  std::uint64_t probes_lost_ = 0;
  std::uint64_t spurious_losses_ = 0;
  struct Acked {
    util::TimePoint time_sent;
    std::uint64_t bytes;
  };
  std::vector<Acked> acked_scratch_;
  std::vector<std::vector<SentFrame>> spare_frames_;
};

template <typename F>
void SentPacketTracker::for_oldest_in_flight(std::size_t count, F&& f) const {
  for (const Entry& e : packets_) {
    if (count == 0) return;
    if (e.state == State::kInFlight) {
      f(e.packet);
      --count;
    }
  }
}

}  // namespace punch::transport
