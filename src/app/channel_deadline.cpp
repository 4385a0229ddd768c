#include "app/channel_deadline.hpp"

#include <algorithm>

#include "forward/constants.hpp"

namespace punch::app {

void ChannelDeadline::on_credit_wait(util::TimePoint now) {
  if (credit_wait_since_ == util::kNever) credit_wait_since_ = now;
}

util::TimePoint ChannelDeadline::deadline() const {
  util::TimePoint d = util::kNever;
  if (credit_wait_since_ != util::kNever) d = credit_wait_since_ + forward::kStreamCreditWait;
  if (idle_timeout_ > util::Duration::zero()) d = std::min(d, last_activity_ + idle_timeout_);
  return d;
}

ChannelDeadline::Expiry ChannelDeadline::check(util::TimePoint now) const {
  if (credit_wait_since_ != util::kNever &&
      now >= credit_wait_since_ + forward::kStreamCreditWait) {
    return Expiry::kNoStreamCredit;
  }
  if (idle_timeout_ > util::Duration::zero() && now >= last_activity_ + idle_timeout_) {
    return Expiry::kIdle;
  }
  return Expiry::kNone;
}

}  // namespace punch::app
