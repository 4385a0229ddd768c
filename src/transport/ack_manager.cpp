#include "transport/ack_manager.hpp"

#include "transport/constants.hpp"

namespace punch::transport {

void AckManager::on_received(std::uint64_t pn, util::TimePoint now, bool eliciting,
                             std::optional<std::uint64_t> largest_before) {
  received_.add(pn, now);
  if (!eliciting) return;
  ++eliciting_since_ack_;
  // Reordering or loss shows as a gap: tell the sender at once so it can recover.
  const bool in_order = !largest_before || pn == *largest_before + 1;
  if (eliciting_since_ack_ >= kPacketsBeforeAck || !in_order) {
    owed_ = Owed::kImmediate;
  } else if (owed_ == Owed::kNothing) {
    owed_ = Owed::kDelayed;
    delay_deadline_ = now + kMaxAckDelay;
  }
}

void AckManager::on_timeout(util::TimePoint now) {
  if (owed_ == Owed::kDelayed && now >= delay_deadline_) owed_ = Owed::kImmediate;
}

util::TimePoint AckManager::deadline(util::TimePoint last_received) const {
  switch (owed_) {
    case Owed::kNothing:
      return util::kNever;
    case Owed::kDelayed:
      return delay_deadline_;
    case Owed::kImmediate:
      return last_received;
  }
  return util::kNever;
}

std::optional<std::uint64_t> AckManager::write(util::ByteWriter& w, util::TimePoint now,
                                               std::size_t max_payload) {
  if (!pending()) return std::nullopt;
  if (!received_.build_ack(now, kMaxAckRangesPerFrame, scratch_)) {
    // Everything owed was forgotten (the peer confirmed an ACK covering it): owe nothing,
    // or an ACK that can never be built would keep its deadline in the past.
    clear();
    return std::nullopt;
  }
  while (encoded_size(scratch_) > max_payload && scratch_.ranges.size() > 1) {
    scratch_.ranges.pop_back();
  }
  if (encoded_size(scratch_) > max_payload) return std::nullopt;
  encode(w, scratch_);
  return scratch_.ranges.front().largest;
}

bool AckManager::ack_only_needs_ping() const { return ack_only_in_row_ + 1 >= kAckOnlyBeforePing; }

void AckManager::on_packet_sent(bool eliciting, bool carried_ack) {
  if (eliciting) {
    ack_only_in_row_ = 0;
  } else {
    ++ack_only_in_row_;
  }
  if (carried_ack) clear();
}

void AckManager::clear() {
  owed_ = Owed::kNothing;
  eliciting_since_ack_ = 0;
  delay_deadline_ = util::kNever;
}

}  // namespace punch::transport
