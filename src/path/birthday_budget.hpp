// The birthday paradox's limits for a whole process (sans-I/O): how fast guesses
// may leave across every session, and how many extra sockets may be open at once.
// One budget per endpoint, shared by its sessions, so a listener with many hard-NAT
// peers paces its guesses as if it had one (docs/birthday.md, "Budget").
#pragma once

#include <cstddef>
#include <cstdint>

#include "crypto/random.hpp"
#include "util/time.hpp"

namespace punch::path {

struct BirthdayConfig;

/// Draws a uniform integer in [0, n) from `rng`; n > 0.
std::uint64_t uniform_below(crypto::RandomSource& rng, std::uint64_t n);

/// Pacing and socket limits shared by every session of one endpoint.
class BirthdayBudget {
 public:
  /// Guesses leave at most `config.rate` per second (each gap drawn from [1/rate,
  /// 2/rate]); at most `config.sockets` extra sockets are open at once. `rng` must
  /// outlive the budget.
  BirthdayBudget(const BirthdayConfig& config, crypto::RandomSource& rng);

  /// Takes up to `wanted` sockets from the budget; returns how many were granted.
  std::size_t take_sockets(std::size_t wanted);
  /// Gives back `count` sockets taken before (they were closed).
  void give_back_sockets(std::size_t count);
  /// Sockets taken and not given back, across all sessions.
  std::size_t sockets_in_use() const { return sockets_in_use_; }

  /// True if one guess may leave at `now`; the next then waits a fresh gap.
  bool take_guess(util::TimePoint now);
  /// The earliest time take_guess() can succeed.
  util::TimePoint next_guess_at() const { return next_guess_; }
  /// Guesses granted so far, across all sessions.
  std::uint64_t guesses_granted() const { return granted_; }

 private:
  std::size_t max_sockets_;
  std::uint32_t rate_;
  crypto::RandomSource* rng_;
  std::size_t sockets_in_use_ = 0;
  util::TimePoint next_guess_{};
  std::uint64_t granted_ = 0;
};

}  // namespace punch::path
