// The exchange of candidate lists through the relay (sans-I/O): our list goes out
// as a CANDIDATES frame with a version number and is resent, with a doubling gap,
// until the peer acknowledges that version; a new version of the peer's list is
// acknowledged by the next frame we send (docs/direct_path.md, "Candidates").
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "path/nat_classification.hpp"
#include "util/time.hpp"
#include "util/timer_table.hpp"
#include "wire/path_frame.hpp"

namespace punch::path {

/// The timers of the candidate exchange.
enum class ExchangeTimer {
  kResend,  ///< Our list is unacknowledged: (re)send it.
  kAck,     ///< A new list of the peer's awaits our acknowledgement.
  kCount,
};

/// Versioned sending of our candidates, and acknowledgement of the peer's.
class CandidateExchange {
 public:
  /// Our current list (already filtered by the path manager).
  const std::vector<wire::Candidate>& local() const { return local_; }
  /// Replaces our list; true if it changed (a new version, to be sent once started).
  bool set_local(std::vector<wire::Candidate> candidates);
  /// Something else our frame carries (our mapping) changed: a new version.
  void new_version() { ++local_seq_; }
  /// Sends the current version from `now` on, resent until acknowledged.
  void send_from(util::TimePoint now);
  /// Handles the peer's frame; true if it is a new version of its list (to be
  /// acknowledged, and acted upon), false for an old or duplicate one.
  bool on_frame(const wire::PathCandidates& f, util::TimePoint now);
  /// The frame due at `now`, if any (a resend, or an acknowledgement); `mapping` is
  /// our NAT's mapping behaviour, which the frame carries.
  std::optional<wire::PathCandidates> on_timeout(util::TimePoint now, Mapping mapping);
  /// When on_timeout() must next run.
  util::TimePoint next_deadline() const { return timers_.next(); }
  /// The version of our list the peer acknowledged (0: none yet).
  std::uint64_t peer_acked() const { return peer_acked_; }
  /// The latest version of the peer's list (0: none yet).
  std::uint64_t remote_seq() const { return remote_seq_; }

 private:
  wire::PathCandidates frame(Mapping mapping);

  std::vector<wire::Candidate> local_;
  std::uint64_t local_seq_ = 1;  // version of local_; the first list is 1
  std::uint64_t peer_acked_ = 0;
  std::uint64_t remote_seq_ = 0;
  util::Duration resend_gap_{};
  util::TimerTable<ExchangeTimer> timers_;
};

}  // namespace punch::path
