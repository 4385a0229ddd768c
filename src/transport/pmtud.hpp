// Path MTU discovery (RFC 8899 DPLPMTUD, simplified; sizes are UDP payload bytes):
// which size to probe next, when a probe may go, what an acknowledged or lost probe
// means, black-hole fallback and the validated size packets may fill. It sends
// nothing and arms no timer: the connection asks probe_due() whenever it could send,
// so the raise interval and the black-hole holdoff are "not before" times, not timers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "util/time.hpp"

namespace punch::transport {

/// What the connection knows about the path that gates a probe.
struct ProbeGate {
  bool probing_loss = false;  ///< PTO probes are pending or the PTO is backing off.
  bool rtt_measured = false;  ///< The RTT estimator has a sample.
  util::Duration smoothed_rtt{};
};

/// The path MTU search of one connection.
class PathMtuDiscovery {
 public:
  /// The validated datagram size: packets may be this big.
  std::size_t datagram_size() const { return datagram_size_; }
  /// What the session adds to every payload (header and AEAD tag).
  std::size_t overhead() const { return overhead_; }
  /// Sets what the session adds to every payload.
  void set_overhead(std::size_t bytes) { overhead_ = bytes; }
  /// The payload of a datagram of `datagram` bytes (0 if the overhead does not fit).
  std::size_t payload_for(std::size_t datagram) const {
    return datagram > overhead_ ? datagram - overhead_ : 0;
  }
  /// Payload a packet may fill now: the validated size, within what the caller can protect.
  std::size_t packet_payload(std::size_t max_payload) const;

  /// The datagram size to probe now, or 0 when no probe is due: one is due once the path
  /// has an RTT sample, is not in PTO recovery and lost nothing lately (so a lost probe
  /// most likely means a size the path refuses), and the next size of the table neither
  /// failed lately nor exceeds `max_payload`.
  std::size_t probe_due(util::TimePoint now, std::size_t max_payload, const ProbeGate& gate) const;
  /// A probe of packet number `pn` was sent.
  void on_probe_sent(std::uint64_t pn);
  /// The probe `pn` of `bytes` payload was acknowledged; true if the validated size grew.
  bool on_probe_acked(std::uint64_t pn, std::size_t bytes);
  /// The probe `pn` of `bytes` payload was lost at `now`.
  void on_probe_lost(std::uint64_t pn, std::size_t bytes, util::TimePoint now);
  /// A packet other than a probe was lost at `now`: probes wait for a quiet path.
  void on_other_loss(util::TimePoint now) { last_loss_ = now; }
  /// A PTO fired, the `pto_count`th in a row: after kBlackHolePtos above the base size the
  /// path may have stopped carrying big packets (RFC 8899 4.3), so fall back to the base.
  /// True if the validated size changed.
  bool on_pto(unsigned pto_count, util::TimePoint now);
  /// A new path: back to the base size; probes sent before `next_pn` are ignored.
  void reset(util::TimePoint now, std::uint64_t next_pn);

 private:
  std::size_t next_probe_size(util::TimePoint now, std::size_t max_payload) const;
  bool failed(std::size_t size, util::TimePoint now) const {
    return now < failed_until_ && size >= failed_size_;
  }

  std::size_t overhead_ = 0;
  std::size_t datagram_size_ = 1200;  // kBaseDatagramSize; checked in pmtud.cpp.
  // The smallest size given up on, until failed_until_ (RFC 8899's PMTU_RAISE_TIMER).
  std::size_t failed_size_ = SIZE_MAX;
  util::TimePoint failed_until_ = util::kNever;
  unsigned probe_failures_ = 0;  // Lost probes of the size being searched.
  bool probe_in_flight_ = false;
  std::uint64_t probe_pn_ = 0;       // Packet number of the probe in flight.
  std::uint64_t path_first_pn_ = 0;  // Probes sent before this went over an older path.
  util::TimePoint holdoff_{};        // No probe before this (after a black hole).
  util::TimePoint last_loss_{};      // Latest loss of a packet other than a probe.
};

}  // namespace punch::transport
