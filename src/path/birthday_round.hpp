// One session's rounds of the birthday paradox (docs/birthday.md), between the path
// manager and the BirthdayProber: when the hard side opens and closes its sockets,
// when the guesser starts (only once the peer's ROUND names primed sockets), the
// token every guess of a round carries, and which answer is the round's hit.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "crypto/random.hpp"
#include "path/birthday_budget.hpp"
#include "path/birthday_prober.hpp"
#include "path/config.hpp"
#include "util/address.hpp"
#include "util/socket_pool.hpp"
#include "util/time.hpp"
#include "util/timer_table.hpp"
#include "wire/path_frame.hpp"

namespace punch::path {

/// The timers of the birthday rounds (the guesses' pacing is the prober's).
enum class BirthdayTimer {
  kSocketsClose,  ///< Hard side: the peer's guesses for this round are over.
  kCount,
};

/// What an answer to a challenge means for the guesser.
enum class GuessAnswer {
  kNotAGuess,  ///< Not this round's token: an ordinary answer.
  kIgnored,    ///< A guess's answer, but not one to act upon.
  kHit,        ///< This round's first hit: validate the address it came from.
};

/// The birthday paradox for one session.
class BirthdayRound {
 public:
  /// `pool` may be null (no extra sockets); without a `budget` the session paces its
  /// guesses on its own. `rng`, `pool` and `budget` must outlive the round.
  BirthdayRound(const BirthdayConfig& config, crypto::RandomSource& rng, util::SocketPool* pool,
                BirthdayBudget* budget);

  /// A round of ours starts; `peer_primed` if it joins a ROUND of the peer's.
  void new_round(bool peer_primed);
  /// The peer's ROUND said it primed `sockets` sockets for its round.
  void on_peer_round(std::uint64_t sockets) { peer_sockets_ = sockets; }
  /// Hard side: opens a fresh set of sockets (keeping `keep`, the one in use) at `now`,
  /// and keeps them for as long as the peer may guess. Returns the sockets to prime.
  std::vector<util::SocketId> open_sockets(std::optional<util::SocketId> keep, util::TimePoint now);
  /// Guesser: starts guessing at `target`'s IP, if the peer primed sockets and this
  /// round has not guessed yet. True if it started.
  bool start_guessing(const util::Address& target, util::TimePoint now);
  /// The next guess due at `now`, if any (call until nullopt); carries token().
  std::optional<util::Address> next_guess(util::TimePoint now) { return prober_->next_guess(now); }
  /// The token every guess of this round carries.
  const wire::PathToken& token() const { return token_; }
  /// Classifies an answer with `token` that came to our `socket`; `acceptable` if the
  /// address it came from may be a path at all.
  GuessAnswer on_answer(const wire::PathToken& token, util::SocketId socket, bool acceptable);
  /// The RTT of a hit from `from` at `now` (the time since the guess to it).
  std::optional<util::Duration> hit_rtt(const util::Address& from, util::TimePoint now) const;
  /// Stops guessing (a path validated); a new round may guess again.
  void stop_guessing() { prober_->stop_guessing(); }
  /// Stops guessing for good this round (a path validated, or the round is over).
  void end_guessing();
  /// Closes every socket but `keep`.
  void close_sockets(std::optional<util::SocketId> keep);
  /// Hard side: true if the peer's guesses for this round are over at `now`.
  bool take_sockets_expired(util::TimePoint now);
  /// True while guesses go out or the hard side's sockets wait for them.
  bool busy() const { return prober_->guessing() || timers_.armed(BirthdayTimer::kSocketsClose); }
  /// True if `socket` is one of our open extra sockets.
  bool owns(util::SocketId socket) const { return prober_->owns(socket); }
  /// Our open extra sockets.
  std::size_t socket_count() const { return prober_->sockets().size(); }
  /// Guesses sent in the current (or last) round.
  std::uint64_t guesses() const { return prober_->guesses(); }
  /// When a guess or the sockets' end is next due.
  util::TimePoint next_deadline() const;

 private:
  BirthdayConfig config_;
  crypto::RandomSource* rng_;
  std::unique_ptr<BirthdayBudget> own_budget_;
  std::unique_ptr<BirthdayProber> prober_;  // on the heap: the round (and manager) can move
  wire::PathToken token_{};
  bool pending_ = false;            // guesser: wait for the peer's ROUND
  bool hit_ = false;                // guesser: this round's first hit was taken
  std::uint64_t peer_sockets_ = 0;  // sockets the peer primed for its round
  util::TimerTable<BirthdayTimer> timers_;
};

}  // namespace punch::path
