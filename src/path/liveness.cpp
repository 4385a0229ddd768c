#include "path/liveness.hpp"

#include <algorithm>

#include "path/constants.hpp"

namespace punch::path {

util::Duration Liveness::dead_timeout_for(util::Duration rtt) {
  return std::max<util::Duration>(kMinDeadTimeout, kDeadRttFactor * rtt + kDeadSlack);
}

void Liveness::on_switch(bool direct, util::Duration dead_timeout, util::TimePoint now) {
  direct_ = direct;
  dead_timeout_ = dead_timeout;
  awaiting_since_ = util::kNever;
  relay_hint_ = false;
  last_answerable_sent_ = now;
  last_relay_sent_ = now;
  promote_at_ = direct ? now + kStreamPromotionDelay : util::kNever;
  rearm();
}

void Liveness::set_dead_timeout(util::Duration dead_timeout) {
  dead_timeout_ = dead_timeout;
  rearm();
}

void Liveness::expect_answer(util::TimePoint now) {
  last_answerable_sent_ = now;
  if (awaiting_since_ == util::kNever) awaiting_since_ = now;
}

void Liveness::on_answerable_sent(util::TimePoint now) {
  if (!direct_) return;
  expect_answer(now);
  rearm();
}

void Liveness::on_relay_sent(util::TimePoint now) {
  last_relay_sent_ = now;
  rearm();
}

void Liveness::on_direct_heard() {
  if (!direct_) return;
  awaiting_since_ = util::kNever;
  relay_hint_ = false;
  rearm();
}

void Liveness::on_answer() {
  awaiting_since_ = util::kNever;
  rearm();
}

void Liveness::on_relay_packet(std::uint64_t packet_number, util::TimePoint now) {
  // Copies the peer mirrors to the relay carry numbers it also sent directly: they
  // say nothing about the direct path.
  const bool newer = !highest_direct_pn_ || packet_number > *highest_direct_pn_;
  if (!direct_ || !newer) return;
  if (awaiting_since_ == util::kNever) awaiting_since_ = now;
  relay_hint_ = true;
  rearm();
}

void Liveness::on_direct_packet(std::uint64_t packet_number) {
  highest_direct_pn_ = std::max(highest_direct_pn_.value_or(0), packet_number);
}

LivenessDue Liveness::on_timeout(util::TimePoint now) {
  LivenessDue due;
  if (!direct_) return due;
  if (timers_.expired(LivenessTimer::kDead, now)) {
    due.dead = true;
    return due;
  }
  if (timers_.expired(LivenessTimer::kPromotion, now)) {
    promote_at_ = util::kNever;
    due.promotion = true;
  }
  if (timers_.expired(LivenessTimer::kRelayIdle, now)) {
    due.relay_keepalive = true;
    last_relay_sent_ = now;
  }
  rearm();
  return due;
}

bool Liveness::keepalive_due(util::TimePoint now) const {
  return direct_ && now - last_answerable_sent_ >= kDirectKeepalive;
}

// Every timer follows from the facts above; nothing runs on the relay.
void Liveness::rearm() {
  timers_.clear();
  if (!direct_) return;
  if (awaiting_since_ != util::kNever)
    timers_.set(LivenessTimer::kDead, awaiting_since_ + dead_timeout_);
  timers_.set(LivenessTimer::kDirectIdle, last_answerable_sent_ + kDirectKeepalive);
  timers_.set(LivenessTimer::kPromotion, promote_at_);
  timers_.set(LivenessTimer::kRelayIdle, last_relay_sent_ + kRelayKeepalive);
}

}  // namespace punch::path
