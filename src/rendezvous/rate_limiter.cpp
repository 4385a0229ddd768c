#include "rendezvous/rate_limiter.hpp"

#include <algorithm>

#include "rendezvous/constants.hpp"
#include "util/assert.hpp"

namespace punch::rendezvous {

RateLimiter::RateLimiter(std::uint32_t rate_per_second, std::uint32_t burst,
                         std::size_t max_sources)
    : RateLimiter(
          util::Duration(std::chrono::seconds(1)) / std::max<std::uint32_t>(rate_per_second, 1),
          burst, max_sources) {
  PUNCH_ASSERT(rate_per_second > 0);
}

RateLimiter::RateLimiter(util::Duration interval, std::uint32_t burst, std::size_t max_sources)
    : interval_(interval), tolerance_(interval * (burst - 1)), max_sources_(max_sources) {
  PUNCH_ASSERT(interval > util::Duration::zero() && burst > 0 && max_sources > 0);
}

bool RateLimiter::allow(const util::Address& from, util::TimePoint now) {
  auto it = tat_.find(from);
  if (it == tat_.end()) {
    if (tat_.size() >= max_sources_) {
      sweep(now);
      if (tat_.size() >= max_sources_) return false;
    }
    tat_.emplace(from, now + interval_);
    return true;
  }
  // The bucket is empty when the next conforming time lies more than the burst
  // tolerance in the future.
  const util::TimePoint tat = std::max(it->second, now);
  if (tat - now > tolerance_) return false;
  it->second = tat + interval_;
  return true;
}

void RateLimiter::refund(const util::Address& from) {
  auto it = tat_.find(from);
  // The arrival time only moves back by what allow() added, so a refund never gives
  // a source more than a full bucket.
  if (it != tat_.end()) it->second -= interval_;
}

void RateLimiter::sweep(util::TimePoint now) {
  if (last_sweep_ != util::TimePoint::min() && now - last_sweep_ < kRateSweepInterval) return;
  last_sweep_ = now;
  // A source whose arrival time has passed has a full bucket: forgetting it changes
  // nothing it is allowed to do.
  std::erase_if(tat_, [now](const auto& entry) { return entry.second <= now; });
}

}  // namespace punch::rendezvous
