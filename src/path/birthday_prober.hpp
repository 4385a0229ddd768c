// Port guessing against one hard NAT, for one session (sans-I/O apart from the
// socket pool it opens sockets from). The side behind the endpoint-dependent NAT
// opens many sockets, each of which its NAT maps to a new random outside port once
// primed towards the peer; the other side sends guesses to random ports of that
// NAT's address until one lands on a mapping (../shared/essay.txt, "birthday
// paradox"; docs/birthday.md has the procedure and the numbers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "crypto/random.hpp"
#include "path/birthday_budget.hpp"
#include "util/address.hpp"
#include "util/socket_pool.hpp"
#include "util/time.hpp"

namespace punch::path {

struct BirthdayConfig;

/// One session's share of the birthday paradox: the hard side's sockets, or the easy
/// side's guesses.
class BirthdayProber {
 public:
  /// `pool` (may be null: no extra sockets), `budget` and `rng` must outlive the prober.
  BirthdayProber(const BirthdayConfig& config, util::SocketPool* pool, BirthdayBudget& budget,
                 crypto::RandomSource& rng);
  ~BirthdayProber();
  BirthdayProber(const BirthdayProber&) = delete;
  BirthdayProber& operator=(const BirthdayProber&) = delete;

  // --- The side behind the hard NAT ---

  /// Opens a fresh set of sockets (closing any from before, except `keep`): as many as
  /// the config, the process-wide budget and the system allow. Returns them.
  const std::vector<util::SocketId>& open_sockets(
      std::optional<util::SocketId> keep = std::nullopt);
  /// Closes every socket but `keep` (the one a path goes through), or all of them.
  void close_sockets(std::optional<util::SocketId> keep = std::nullopt);
  /// True if `socket` is one of ours and open.
  bool owns(util::SocketId socket) const;
  /// Our open sockets.
  const std::vector<util::SocketId>& sockets() const { return sockets_; }

  // --- The other side ---

  /// Starts a round of guesses at ports of `target`'s IP (its port is ignored).
  void start_guessing(const util::Address& target, util::TimePoint now);
  /// Stops guessing (a path validated, or the round is over).
  void stop_guessing();
  /// The next guess, if one is due at `now` and the budget lets it leave; call until
  /// nullopt.
  std::optional<util::Address> next_guess(util::TimePoint now);
  /// When next_guess() may next return one (kNever when not guessing).
  util::TimePoint next_deadline() const;
  /// True while a round of guesses runs (not all sent yet).
  bool guessing() const { return guessing_; }
  /// Guesses sent in the current (or last) round.
  std::uint64_t guesses() const { return guesses_; }
  /// When the guess to `to` left in this round, if it was one of ours.
  std::optional<util::TimePoint> guessed_at(const util::Address& to) const;
  /// When this round's last guess left (the round's answers are due after it).
  util::TimePoint last_guess_at() const { return last_guess_at_; }

 private:
  std::size_t max_sockets_;
  std::uint32_t max_guesses_;
  util::SocketPool* pool_;
  BirthdayBudget* budget_;
  crypto::RandomSource* rng_;
  std::vector<util::SocketId> sockets_;

  bool guessing_ = false;
  util::Address target_;
  std::uint64_t guesses_ = 0;
  util::TimePoint last_guess_at_{};
  // When each port guessed this round was; ports are never guessed twice in a round,
  // which beats drawing with repetition a little.
  std::unordered_map<std::uint16_t, util::TimePoint> guessed_;
};

}  // namespace punch::path
