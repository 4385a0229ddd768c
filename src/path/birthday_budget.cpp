#include "path/birthday_budget.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <chrono>
#include <cstring>

#include "path/config.hpp"

namespace punch::path {

std::uint64_t uniform_below(crypto::RandomSource& rng, std::uint64_t n) {
  assert(n > 0);
  // Rejection sampling: the top of the 64-bit range that is not a whole multiple of
  // n would favour small values.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (;;) {
    std::array<std::uint8_t, 8> raw{};
    rng.fill(raw);
    std::uint64_t v = 0;
    std::memcpy(&v, raw.data(), raw.size());
    if (v < limit) return v % n;
  }
}

BirthdayBudget::BirthdayBudget(const BirthdayConfig& config, crypto::RandomSource& rng)
    : max_sockets_(config.sockets), rate_(std::max<std::uint32_t>(config.rate, 1)), rng_(&rng) {}

std::size_t BirthdayBudget::take_sockets(std::size_t wanted) {
  const std::size_t granted = std::min(wanted, max_sockets_ - sockets_in_use_);
  sockets_in_use_ += granted;
  return granted;
}

void BirthdayBudget::give_back_sockets(std::size_t count) {
  assert(count <= sockets_in_use_);
  sockets_in_use_ -= std::min(count, sockets_in_use_);
}

bool BirthdayBudget::take_guess(util::TimePoint now) {
  if (now < next_guess_) return false;
  // A gap in [1/rate, 2/rate]: never faster than the rate, on average 2/3 of it, and
  // irregular enough not to look like a scan with a fixed clock.
  const auto period = std::chrono::duration_cast<util::Duration>(std::chrono::seconds(1)) / rate_;
  const auto jitter =
      util::Duration(uniform_below(*rng_, static_cast<std::uint64_t>(period.count()) + 1));
  next_guess_ = now + period + jitter;
  ++granted_;
  return true;
}

}  // namespace punch::path
