#include "path/birthday_round.hpp"

#include <algorithm>
#include <chrono>

#include "path/constants.hpp"

namespace punch::path {
namespace {

BirthdayBudget& budget_or(std::unique_ptr<BirthdayBudget>& own, BirthdayBudget* given,
                          const BirthdayConfig& config, crypto::RandomSource& rng) {
  if (given != nullptr) return *given;
  own = std::make_unique<BirthdayBudget>(config, rng);
  return *own;
}

}  // namespace

BirthdayRound::BirthdayRound(const BirthdayConfig& config, crypto::RandomSource& rng,
                             util::SocketPool* pool, BirthdayBudget* budget)
    : config_(config),
      rng_(&rng),
      prober_(std::make_unique<BirthdayProber>(config, pool,
                                               budget_or(own_budget_, budget, config, rng), rng)) {}

void BirthdayRound::new_round(bool peer_primed) {
  token_ = {};
  hit_ = false;
  prober_->stop_guessing();
  pending_ = true;                      // the strategy may still turn out to be kBirthday
  if (!peer_primed) peer_sockets_ = 0;  // the peer has not primed for this round yet
}

// A fresh set of sockets each round (their mappings are new); the caller primes them
// with low TTL towards the peer's public side, like the main socket's candidates.
std::vector<util::SocketId> BirthdayRound::open_sockets(std::optional<util::SocketId> keep,
                                                        util::TimePoint now) {
  std::vector<util::SocketId> fresh;
  for (const util::SocketId socket : prober_->open_sockets(keep)) {
    if (!keep || socket != *keep) fresh.push_back(socket);
  }
  // The peer may guess for this long after our ROUND: its whole budget at the slowest
  // pace, plus the time an answer may take.
  const auto slowest_gap = 2 * std::chrono::duration_cast<util::Duration>(std::chrono::seconds(1)) /
                           std::max<std::uint32_t>(config_.rate, 1);
  timers_.set(BirthdayTimer::kSocketsClose,
              now + slowest_gap * config_.guesses + kChallengeAnswerTimeout);
  return fresh;
}

bool BirthdayRound::start_guessing(const util::Address& target, util::TimePoint now) {
  // Only against primed sockets: without them every guess would miss.
  if (!pending_ || peer_sockets_ == 0) return false;
  pending_ = false;
  rng_->fill(token_);
  prober_->start_guessing(target, now);
  return true;
}

// One hit per round: a second guess may have hit another socket before the first
// one's answer came back, and the hard side keeps only the socket it validates first.
// Its challenges from there tell us which one that is.
GuessAnswer BirthdayRound::on_answer(const wire::PathToken& token, util::SocketId socket,
                                     bool acceptable) {
  if (token_ == wire::PathToken{} || token != token_) return GuessAnswer::kNotAGuess;
  if (socket != util::kMainSocket || !acceptable || hit_) return GuessAnswer::kIgnored;
  hit_ = true;
  return GuessAnswer::kHit;
}

std::optional<util::Duration> BirthdayRound::hit_rtt(const util::Address& from,
                                                     util::TimePoint now) const {
  const auto sent = prober_->guessed_at(from);
  if (!sent) return std::nullopt;
  return now - *sent;
}

void BirthdayRound::end_guessing() {
  prober_->stop_guessing();
  pending_ = false;
}

void BirthdayRound::close_sockets(std::optional<util::SocketId> keep) {
  prober_->close_sockets(keep);
  timers_.stop(BirthdayTimer::kSocketsClose);
}

bool BirthdayRound::take_sockets_expired(util::TimePoint now) {
  return timers_.take_expired(BirthdayTimer::kSocketsClose, now);
}

util::TimePoint BirthdayRound::next_deadline() const {
  return std::min(timers_.next(), prober_->next_deadline());
}

}  // namespace punch::path
