#include "transport/flow_control.hpp"

#include <algorithm>

#include "transport/constants.hpp"

namespace punch::transport {

FlowControl::FlowControl()
    : peer_max_data_(kConnectionReceiveWindow), recv_max_data_(kConnectionReceiveWindow) {}

bool FlowControl::on_max_data(std::uint64_t maximum) {
  if (maximum <= peer_max_data_) return false;
  peer_max_data_ = maximum;
  return true;
}

std::uint64_t FlowControl::write_room(const SendStream& send) const {
  const std::uint64_t own = send.free_space();
  const std::uint64_t held = send.buffered();
  const std::uint64_t reserve = held < kStreamSendReserve ? kStreamSendReserve - held : 0;
  const std::uint64_t shared =
      send_buffered_ < kConnectionSendBuffer ? kConnectionSendBuffer - send_buffered_ : 0;
  return std::min(own, std::max(reserve, shared));
}

bool FlowControl::writable_again(const SendStream& send) const {
  // Under a full connection budget a stream's room tops out at its reserve,
  // so it is woken once half of that is free rather than never.
  const std::uint64_t room = write_room(send);
  const bool budget_full = send_buffered_ + kWritableThreshold > kConnectionSendBuffer;
  return room >= kWritableThreshold || (budget_full && room >= kStreamSendReserve / 2);
}

bool FlowControl::account(const RecvStream& recv, const RecvSnapshot& before) {
  recv_highest_ += recv.highest() - before.highest;
  recv_consumed_ += recv.consumed() - before.consumed;
  recv_fragments_ = recv_fragments_ + recv.fragments() - before.fragments;
  if (recv_consumed_ + kConnectionReceiveWindow - recv_max_data_ >=
      kConnectionReceiveWindow / kWindowUpdateDivisor) {
    max_data_pending_ = true;
  }
  return recv.wants_window_update();
}

bool FlowControl::too_fragmented() const { return recv_fragments_ > kMaxReceiveFragments; }

void FlowControl::on_stream_forgotten(const RecvStream& recv, const SendStream& send) {
  recv_fragments_ -= recv.fragments();
  send_buffered_ -= send.buffered();
}

std::uint64_t FlowControl::take_max_data() {
  recv_max_data_ = std::max(recv_max_data_, recv_consumed_ + kConnectionReceiveWindow);
  max_data_pending_ = false;
  return recv_max_data_;
}

}  // namespace punch::transport
