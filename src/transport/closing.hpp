// The end of a connection (RFC 9000 section 10): open or closed, why (CloseReason),
// and the CONNECTION_CLOSE this end owes: sent once, then repeated for stray packets
// from the peer (at most kMaxCloseSends in all), since ours may have been lost.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "transport/close_reason.hpp"
#include "transport/frame.hpp"
#include "util/time.hpp"

namespace punch::transport {

/// Whether a connection is closed, why, and the CONNECTION_CLOSE it sends.
class Closing {
 public:
  /// Where the connection is in its end.
  enum class State {
    kOpen,      ///< Not closed.
    kDraining,  ///< Closed without sending anything (idle timeout, the peer's close).
    kClosing,   ///< Closed by this end with a CONNECTION_CLOSE, repeated for stray packets.
  };

  /// Current state.
  State state() const { return state_; }
  /// True once closed for any reason.
  bool closed() const { return state_ != State::kOpen; }
  /// Why it closed; meaningful once closed() (an empty local reason before).
  const CloseReason& reason() const { return reason_; }

  /// The app closes at `now` with application code `code` and `reason`, both told to the
  /// peer; false if already closed.
  bool close_application(std::uint64_t code, const std::string& reason, util::TimePoint now);
  /// The peer broke the protocol (`detail` says how): close at `now` and tell it, with
  /// transport error kProtocolViolation; false if already closed.
  bool close_violation(const std::string& detail, util::TimePoint now);
  /// Nothing arrived for kIdleTimeout: close without a packet; false if already closed.
  bool close_idle();
  /// The peer's CONNECTION_CLOSE: close without answering; false if already closed.
  bool on_peer_close(const ConnectionCloseFrame& f);
  /// A packet arrived after the close: answer it with our CONNECTION_CLOSE again, if any
  /// and fewer than kMaxCloseSends went out.
  void on_packet_received();
  /// True while a CONNECTION_CLOSE waits to be sent.
  bool send_pending() const { return send_pending_; }
  /// When the pending CONNECTION_CLOSE became due (kNever if none is pending).
  util::TimePoint send_deadline() const { return send_pending_ ? close_time_ : util::kNever; }
  /// Takes the pending CONNECTION_CLOSE, its reason cut to fit `max_payload` bytes; nullopt
  /// if none is pending or it cannot fit (it then counts as sent all the same).
  std::optional<ConnectionCloseFrame> take_frame(std::size_t max_payload);

 private:
  bool drain(CloseReason reason);
  bool close(CloseReason reason, const ConnectionCloseFrame& frame, util::TimePoint now);

  State state_ = State::kOpen;
  CloseReason reason_;
  ConnectionCloseFrame frame_;
  bool send_pending_ = false;
  unsigned sends_ = 0;
  util::TimePoint close_time_{};
};

}  // namespace punch::transport
