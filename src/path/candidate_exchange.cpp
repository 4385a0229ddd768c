#include "path/candidate_exchange.hpp"

#include <algorithm>
#include <utility>

#include "path/constants.hpp"

namespace punch::path {

bool CandidateExchange::set_local(std::vector<wire::Candidate> candidates) {
  if (candidates == local_) return false;
  local_ = std::move(candidates);
  ++local_seq_;
  return true;
}

void CandidateExchange::send_from(util::TimePoint now) {
  timers_.set(ExchangeTimer::kResend, now);
  resend_gap_ = kCandidatesResend;
}

bool CandidateExchange::on_frame(const wire::PathCandidates& f, util::TimePoint now) {
  if (f.acknowledged > peer_acked_ && f.acknowledged <= local_seq_) peer_acked_ = f.acknowledged;
  if (f.sequence <= remote_seq_) return false;
  remote_seq_ = f.sequence;
  // Acknowledged by the next frame we send, which need not wait for anything.
  timers_.set(ExchangeTimer::kAck, now);
  return true;
}

std::optional<wire::PathCandidates> CandidateExchange::on_timeout(util::TimePoint now,
                                                                  Mapping mapping) {
  std::optional<wire::PathCandidates> out;
  if (timers_.take_expired(ExchangeTimer::kResend, now) && local_seq_ > peer_acked_) {
    out = frame(mapping);
    timers_.set(ExchangeTimer::kResend, now + resend_gap_);
    resend_gap_ = std::min(resend_gap_ * 2, kMaxCandidatesResend);
  }
  if (timers_.take_expired(ExchangeTimer::kAck, now)) out = frame(mapping);
  return out;
}

wire::PathCandidates CandidateExchange::frame(Mapping mapping) {
  wire::PathCandidates f;
  f.sequence = local_seq_;
  f.acknowledged = remote_seq_;
  f.mapping = static_cast<wire::MappingCode>(mapping);
  f.candidates = local_;
  // Any frame acknowledges the peer's latest list.
  timers_.stop(ExchangeTimer::kAck);
  return f;
}

}  // namespace punch::path
