// Connection-level flow control and send-buffer budget (RFC 9000 section 4): the
// peer's MAX_DATA credit we send against, the credit we grant and when to raise it
// (MAX_DATA), and how much of the shared send budget one stream's write() may use.
// Per-stream credit lives in SendStream/RecvStream; this class adds the streams up.
#pragma once

#include <cstddef>
#include <cstdint>

#include "transport/recv_stream.hpp"
#include "transport/send_stream.hpp"

namespace punch::transport {

/// The connection's flow-control counters over all its streams.
class FlowControl {
 public:
  /// Both ends start from kConnectionReceiveWindow (no transport parameters).
  FlowControl();

  /// A stream's receive-side counters before a change, for account().
  struct RecvSnapshot {
    std::uint64_t highest;
    std::uint64_t consumed;
    std::size_t fragments;
  };
  /// Takes the counters of `recv` before a change.
  static RecvSnapshot snapshot(const RecvStream& recv) {
    return {recv.highest(), recv.consumed(), recv.fragments()};
  }

  // --- Sending: the peer's credit and our buffers ---

  /// New stream bytes the peer's MAX_DATA still allows.
  std::uint64_t send_credit() const { return peer_max_data_ - sent_data_; }
  /// The peer's MAX_DATA; true if it raised the limit.
  bool on_max_data(std::uint64_t maximum);
  /// `bytes` new (not retransmitted) stream bytes were sent.
  void on_new_data_sent(std::uint64_t bytes) { sent_data_ += bytes; }
  /// Bytes written by the app and not yet acknowledged, over all streams.
  std::uint64_t send_buffered() const { return send_buffered_; }
  /// The app wrote `bytes` more.
  void on_buffered(std::uint64_t bytes) { send_buffered_ += bytes; }
  /// `bytes` left the send buffers (acknowledged, reset, or the stream forgotten).
  void on_released(std::uint64_t bytes) { send_buffered_ -= bytes; }
  /// What write() may add to `send` now: its own free space, limited beyond its reserve
  /// (kStreamSendReserve) by what the whole connection still has room for.
  std::uint64_t write_room(const SendStream& send) const;
  /// True when a writer whose write() came up short should get kWritable: a
  /// kWritableThreshold of room, or half its reserve while the connection budget is full.
  bool writable_again(const SendStream& send) const;

  // --- Receiving: the credit we grant ---

  /// New stream bytes the peer may still send under our MAX_DATA.
  std::uint64_t recv_credit() const { return recv_max_data_ - recv_highest_; }
  /// Folds a stream's receive-side change since `before` into the connection's counters;
  /// a MAX_DATA becomes due once the app consumed a 1/kWindowUpdateDivisor of the window.
  /// Returns true when the stream itself should announce more credit (MAX_STREAM_DATA).
  bool account(const RecvStream& recv, const RecvSnapshot& before);
  /// True when the received data is in more pieces than kMaxReceiveFragments allows.
  bool too_fragmented() const;
  /// A stream is forgotten: its pieces and buffered bytes no longer count.
  void on_stream_forgotten(const RecvStream& recv, const SendStream& send);
  /// True while a MAX_DATA must be sent.
  bool max_data_pending() const { return max_data_pending_; }
  /// Slides our limit forward to consumed + window and returns it for a MAX_DATA frame.
  std::uint64_t take_max_data();
  /// A MAX_DATA was lost: send the current value again.
  void on_max_data_lost() { max_data_pending_ = true; }

 private:
  std::uint64_t peer_max_data_;
  std::uint64_t sent_data_ = 0;  // New stream bytes sent, counted against peer_max_data_.
  std::uint64_t send_buffered_ = 0;
  std::uint64_t recv_highest_ = 0;
  std::uint64_t recv_consumed_ = 0;
  std::uint64_t recv_max_data_;
  bool max_data_pending_ = false;
  std::size_t recv_fragments_ = 0;  // Sum of RecvStream::fragments() over live streams.
};

}  // namespace punch::transport
