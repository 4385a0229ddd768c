#include "path/birthday_prober.hpp"

#include <algorithm>

#include "path/config.hpp"
#include "path/constants.hpp"

namespace punch::path {
namespace {
constexpr std::uint32_t kGuessablePorts = 65536 - kBirthdayFirstPort;
}  // namespace

BirthdayProber::BirthdayProber(const BirthdayConfig& config, util::SocketPool* pool,
                               BirthdayBudget& budget, crypto::RandomSource& rng)
    : max_sockets_(config.sockets),
      max_guesses_(std::min(config.guesses, kGuessablePorts)),
      pool_(pool),
      budget_(&budget),
      rng_(&rng) {}

BirthdayProber::~BirthdayProber() { close_sockets(); }

const std::vector<util::SocketId>& BirthdayProber::open_sockets(
    std::optional<util::SocketId> keep) {
  close_sockets(keep);
  if (pool_ == nullptr) return sockets_;
  const std::size_t wanted = max_sockets_ > sockets_.size() ? max_sockets_ - sockets_.size() : 0;
  const std::size_t granted = budget_->take_sockets(wanted);
  std::size_t opened = 0;
  for (; opened < granted; ++opened) {
    const auto id = pool_->open();
    if (!id) break;  // out of descriptors: fewer sockets, lower odds, still a chance
    sockets_.push_back(*id);
  }
  budget_->give_back_sockets(granted - opened);
  return sockets_;
}

void BirthdayProber::close_sockets(std::optional<util::SocketId> keep) {
  std::size_t closed = 0;
  std::erase_if(sockets_, [&](util::SocketId id) {
    if (keep && id == *keep) return false;
    pool_->close(id);
    ++closed;
    return true;
  });
  budget_->give_back_sockets(closed);
}

bool BirthdayProber::owns(util::SocketId socket) const {
  return std::find(sockets_.begin(), sockets_.end(), socket) != sockets_.end();
}

void BirthdayProber::start_guessing(const util::Address& target, util::TimePoint now) {
  static_cast<void>(now);
  if (max_guesses_ == 0) return;
  guessing_ = true;
  target_ = target;
  guesses_ = 0;
  guessed_.clear();
  guessed_.reserve(max_guesses_);
}

void BirthdayProber::stop_guessing() { guessing_ = false; }

std::optional<util::Address> BirthdayProber::next_guess(util::TimePoint now) {
  if (!guessing_ || !budget_->take_guess(now)) return std::nullopt;
  // A port not guessed yet this round: max_guesses_ is at most the guessable range,
  // and far below it by default, so few draws are ever repeated.
  std::uint16_t port = 0;
  do {
    port = static_cast<std::uint16_t>(kBirthdayFirstPort + uniform_below(*rng_, kGuessablePorts));
  } while (guessed_.contains(port));
  guessed_.emplace(port, now);
  last_guess_at_ = now;
  if (++guesses_ >= max_guesses_) guessing_ = false;
  util::Address to = target_;
  to.port = port;
  return to;
}

util::TimePoint BirthdayProber::next_deadline() const {
  return guessing_ ? budget_->next_guess_at() : util::kNever;
}

std::optional<util::TimePoint> BirthdayProber::guessed_at(const util::Address& to) const {
  if (to.family != target_.family || to.ip != target_.ip) return std::nullopt;
  const auto it = guessed_.find(to.port);
  if (it == guessed_.end()) return std::nullopt;
  return it->second;
}

}  // namespace punch::path
