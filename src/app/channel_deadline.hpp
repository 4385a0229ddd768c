// When a forwarded connection is given up, without any I/O: after --idle-timeout
// with no byte either way, or after waiting kStreamCreditWait for the peer's stream
// credit (docs/security.md, "Idle forwarded connections"). The Channel reports
// activity and the credit wait; the Forwarder asks for the deadline and the verdict.
#pragma once

#include "util/time.hpp"

namespace punch::app {

/// The deadlines of one forwarded connection.
class ChannelDeadline {
 public:
  /// Why a connection is given up.
  enum class Expiry {
    kNone,            ///< Not (yet): keep it.
    kIdle,            ///< No byte moved either way for the idle timeout.
    kNoStreamCredit,  ///< Waited kStreamCreditWait for stream credit in vain.
  };

  /// A connection that starts at `now`; `idle_timeout` zero means none.
  ChannelDeadline(util::Duration idle_timeout, util::TimePoint now)
      : idle_timeout_(idle_timeout), last_activity_(now) {}

  /// Bytes moved at `now` (either way); the idle timeout starts over.
  void on_activity(util::TimePoint now) { last_activity_ = now; }
  /// The connection needs a stream and the peer's credit is used up; the wait started at
  /// the first call and lasts until on_stream_opened().
  void on_credit_wait(util::TimePoint now);
  /// The connection got its stream: no credit wait any more.
  void on_stream_opened() { credit_wait_since_ = util::kNever; }
  /// The connection is being given up: no deadline applies any more.
  void stop() {
    idle_timeout_ = util::Duration::zero();
    credit_wait_since_ = util::kNever;
  }
  /// The idle timeout does not apply (stdio, a -R forward's control stream).
  void exempt_from_idle() { idle_timeout_ = util::Duration::zero(); }
  /// True while waiting for stream credit.
  bool waiting_for_credit() const { return credit_wait_since_ != util::kNever; }

  /// The earliest time check() may report an expiry; kNever if none can come.
  util::TimePoint deadline() const;
  /// What has expired at `now`: a credit wait before an idle timeout.
  Expiry check(util::TimePoint now) const;

 private:
  util::Duration idle_timeout_;
  util::TimePoint last_activity_;
  util::TimePoint credit_wait_since_ = util::kNever;
};

}  // namespace punch::app
