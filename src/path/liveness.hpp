// Keeping a direct path alive and noticing its death (sans-I/O): keepalives on the
// direct path and on the relay, the one challenge that makes a new flow a "stream"
// for Linux conntrack, and the dead-path rule: the first send that expected an
// answer since the peer was last heard directly stays unanswered for the dead
// timeout (docs/direct_path.md, "Keeping it alive, and falling back").
#pragma once

#include <cstdint>
#include <optional>

#include "util/time.hpp"
#include "util/timer_table.hpp"

namespace punch::path {

/// The timers of a direct path in use; all stopped while on the relay.
enum class LivenessTimer {
  kDead,        ///< An answer expected since the last packet from the peer is overdue.
  kDirectIdle,  ///< Nothing that expects an answer went over the direct path lately.
  kPromotion,   ///< The one challenge kStreamPromotionDelay after a switch.
  kRelayIdle,   ///< The relay leg, needed for falling back, has been quiet.
  kCount,
};

/// What is due on the direct path at a timeout, in the order it must be done.
struct LivenessDue {
  bool dead = false;             ///< Fall back: the path stopped answering (nothing else then).
  bool promotion = false;        ///< Send the promotion challenge on the path.
  bool relay_keepalive = false;  ///< Send a challenge to the relay.
};

/// Liveness of the path in use.
class Liveness {
 public:
  /// The session moved to a direct path (`direct`) or to the relay at `now`; `dead_timeout`
  /// as dead_timeout_for() the new path's RTT.
  void on_switch(bool direct, util::Duration dead_timeout, util::TimePoint now);
  /// The RTT of the path in use changed: the dead timeout follows it.
  void set_dead_timeout(util::Duration dead_timeout);
  /// Something expecting an answer left on the direct path in use at `now`.
  void on_answerable_sent(util::TimePoint now);
  /// Something went to the relay at `now` (it keeps the relay leg alive).
  void on_relay_sent(util::TimePoint now);
  /// The peer was heard directly (on the path in use, or another validated one): the
  /// direct paths work, and it is not falling back.
  void on_direct_heard();
  /// An answer to a challenge on the path in use came.
  void on_answer();
  /// A transport packet numbered `packet_number` came through the relay at `now`. If the
  /// peer numbered it after its last direct one, it gave the direct path up (or has not
  /// validated it yet): the dead timer starts, and our packets go to the relay too.
  void on_relay_packet(std::uint64_t packet_number, util::TimePoint now);
  /// A transport packet numbered `packet_number` came on a direct path.
  void on_direct_packet(std::uint64_t packet_number);
  /// What is due at `now`; takes the one-shot timers (call once per timeout, and send
  /// the keepalive, which calls on_answerable_sent(), before asking keepalive_due()).
  LivenessDue on_timeout(util::TimePoint now);
  /// True if the direct path carried nothing expecting an answer for kDirectKeepalive.
  bool keepalive_due(util::TimePoint now) const;
  /// When on_timeout() must next run.
  util::TimePoint next_deadline() const { return timers_.next(); }
  /// True while our packets should go to the relay as well (see on_relay_packet()).
  bool mirror_to_relay() const { return direct_ && relay_hint_; }

  /// max(kMinDeadTimeout, kDeadRttFactor x `rtt` + kDeadSlack).
  static util::Duration dead_timeout_for(util::Duration rtt);

 private:
  void expect_answer(util::TimePoint now);
  void rearm();

  bool direct_ = false;
  bool relay_hint_ = false;  // the peer's transport packets came through the relay
  util::Duration dead_timeout_{};
  util::TimePoint awaiting_since_ = util::kNever;  // first unanswered send on the direct path
  util::TimePoint last_answerable_sent_{};
  util::TimePoint last_relay_sent_{};
  util::TimePoint promote_at_ = util::kNever;
  std::optional<std::uint64_t> highest_direct_pn_;  // of the peer's packets on direct paths
  util::TimerTable<LivenessTimer> timers_;
};

}  // namespace punch::path
