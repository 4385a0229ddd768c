#include "transport/closing.hpp"

#include <string_view>
#include <utility>

#include "transport/constants.hpp"

namespace punch::transport {
namespace {

// Reason phrases come from the peer and end up in logs: keep them short and printable.
std::string printable(std::string_view s) {
  std::string out(s.substr(0, kMaxReasonLength));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

}  // namespace

bool Closing::close_application(std::uint64_t code, const std::string& reason,
                                util::TimePoint now) {
  ConnectionCloseFrame f;
  f.application = true;
  f.error_code = code;
  f.reason = reason.substr(0, kMaxReasonLength);
  return close({CloseOrigin::kLocal, CloseKind::kApplication, code, reason}, f, now);
}

bool Closing::close_violation(const std::string& detail, util::TimePoint now) {
  ConnectionCloseFrame f;
  f.error_code = kProtocolViolation;
  f.reason = "protocol violation: " + detail;
  return close({CloseOrigin::kLocal, CloseKind::kTransport, f.error_code, f.reason}, f, now);
}

bool Closing::close_idle() {
  return drain({CloseOrigin::kLocal, CloseKind::kIdle, 0, "idle timeout: peer stopped answering"});
}

bool Closing::on_peer_close(const ConnectionCloseFrame& f) {
  const CloseKind kind = f.application ? CloseKind::kApplication : CloseKind::kTransport;
  return drain({CloseOrigin::kPeer, kind, f.error_code, printable(f.reason)});
}

bool Closing::drain(CloseReason reason) {
  if (closed()) return false;
  state_ = State::kDraining;
  reason_ = std::move(reason);
  return true;
}

bool Closing::close(CloseReason reason, const ConnectionCloseFrame& frame, util::TimePoint now) {
  if (closed()) return false;
  state_ = State::kClosing;
  reason_ = std::move(reason);
  frame_ = frame;
  send_pending_ = true;
  close_time_ = now;
  return true;
}

void Closing::on_packet_received() {
  if (state_ == State::kClosing && !send_pending_ && sends_ < kMaxCloseSends) {
    send_pending_ = true;
  }
}

std::optional<ConnectionCloseFrame> Closing::take_frame(std::size_t max_payload) {
  if (!send_pending_) return std::nullopt;
  send_pending_ = false;
  ++sends_;
  // Type, code, frame type and length take at most 1 + 8 + 8 + 8 bytes.
  if (max_payload < 32) return std::nullopt;
  ConnectionCloseFrame f = frame_;
  if (f.reason.size() > max_payload - 25) f.reason.resize(max_payload - 25);
  return f;
}

}  // namespace punch::transport
