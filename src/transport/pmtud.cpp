#include "transport/pmtud.hpp"

#include <algorithm>

#include "transport/constants.hpp"

namespace punch::transport {

static_assert(kBaseDatagramSize == 1200, "PathMtuDiscovery starts at the base size");

std::size_t PathMtuDiscovery::packet_payload(std::size_t max_payload) const {
  return std::min(max_payload, payload_for(datagram_size_));
}

std::size_t PathMtuDiscovery::next_probe_size(util::TimePoint now, std::size_t max_payload) const {
  for (const std::size_t size : kProbeDatagramSizes) {
    if (size <= datagram_size_) continue;
    if (failed(size, now) || payload_for(size) > max_payload) return 0;
    return size;
  }
  return 0;
}

std::size_t PathMtuDiscovery::probe_due(util::TimePoint now, std::size_t max_payload,
                                        const ProbeGate& gate) const {
  if (probe_in_flight_ || gate.probing_loss) return 0;
  if (!gate.rtt_measured || now < holdoff_) return 0;
  if (now < last_loss_ + gate.smoothed_rtt * kProbeQuietRtts) return 0;
  return next_probe_size(now, max_payload);
}

void PathMtuDiscovery::on_probe_sent(std::uint64_t pn) {
  probe_in_flight_ = true;
  probe_pn_ = pn;
}

bool PathMtuDiscovery::on_probe_acked(std::uint64_t pn, std::size_t bytes) {
  if (pn == probe_pn_) probe_in_flight_ = false;
  if (pn < path_first_pn_) return false;
  const std::size_t size = bytes + overhead_;
  if (size <= datagram_size_) return false;
  datagram_size_ = size;
  probe_failures_ = 0;
  return true;
}

void PathMtuDiscovery::on_probe_lost(std::uint64_t pn, std::size_t bytes, util::TimePoint now) {
  if (pn == probe_pn_) probe_in_flight_ = false;
  if (pn < path_first_pn_) return;
  const std::size_t size = bytes + overhead_;
  if (size <= datagram_size_ || failed(size, now)) return;
  if (++probe_failures_ < kMaxProbeAttempts) return;
  // The path refuses this size: stay at the last good one until the raise time.
  probe_failures_ = 0;
  failed_size_ = size;
  failed_until_ = now + kProbeRaiseInterval;
}

bool PathMtuDiscovery::on_pto(unsigned pto_count, util::TimePoint now) {
  if (pto_count < kBlackHolePtos || datagram_size_ <= kBaseDatagramSize) return false;
  datagram_size_ = kBaseDatagramSize;
  probe_failures_ = 0;
  holdoff_ = now + kBlackHoleHoldoff;
  return true;
}

void PathMtuDiscovery::reset(util::TimePoint now, std::uint64_t next_pn) {
  datagram_size_ = kBaseDatagramSize;
  failed_size_ = SIZE_MAX;
  failed_until_ = util::kNever;
  probe_failures_ = 0;
  holdoff_ = now;
  path_first_pn_ = next_pn;
}

}  // namespace punch::transport
