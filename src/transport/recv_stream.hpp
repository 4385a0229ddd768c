// The receiving half of a stream: reassembles STREAM frames that arrive out of
// order or twice, enforces the stream's flow-control limit and final size, and
// tells the connection when to extend the peer's credit.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "transport/range_set.hpp"
#include "transport/stream_buffer.hpp"
#include "util/bytes.hpp"
#include "util/result.hpp"

namespace punch::transport {

/// Reassembly buffer, flow-control window, FIN and reset state of one stream.
class RecvStream {
 public:
  /// Starts with `window` bytes of credit granted to the peer.
  explicit RecvStream(std::uint64_t window) : window_(window), max_data_(window) {}

  /// Takes a STREAM frame's `data` at `offset` (ending the stream if `fin`); `conn_credit` is
  /// how many bytes beyond highest() the connection still allows. Returns true when new bytes
  /// or the FIN arrived; an error (nothing stored) on a flow-control or final-size violation.
  util::Result<bool> on_data(std::uint64_t offset, util::ByteView data, bool fin,
                             std::uint64_t conn_credit);
  /// Takes the peer's RESET_STREAM with `final_size`; same checks as on_data().
  util::Status on_reset(std::uint64_t final_size, std::uint64_t conn_credit);
  /// Copies up to `out.size()` in-order bytes; returns how many (0 after a reset or stop()).
  std::size_t read(std::span<std::uint8_t> out);
  /// True when read() would return bytes, or the FIN is all that is left.
  bool readable() const;
  /// True once the FIN arrived and every byte before it was read.
  bool finished() const {
    return final_size_ && !reset_ && !discarding_ && read_offset_ == *final_size_;
  }
  /// True after the peer's RESET_STREAM.
  bool is_reset() const { return reset_; }

  /// The app abandons the stream: buffered and future bytes are discarded, and a
  /// STOP_SENDING becomes due unless the final size is already known.
  void stop(std::uint64_t error_code);
  /// True while a STOP_SENDING must be (re)sent.
  bool stop_pending() const { return stop_pending_; }
  /// The STOP_SENDING's error code.
  std::uint64_t stop_code() const { return stop_code_; }
  /// The STOP_SENDING went out.
  void on_stop_sent() { stop_pending_ = false; }
  /// The STOP_SENDING was lost.
  void on_stop_lost() { stop_pending_ = discarding_ && !final_size_; }

  /// Highest offset received: what the peer's data counts against flow control.
  std::uint64_t highest() const { return highest_; }
  /// Bytes read by the app or discarded: what frees flow-control credit.
  std::uint64_t consumed() const { return consumed_; }
  /// Limit currently granted to the peer.
  std::uint64_t max_data() const { return max_data_; }
  /// True while more credit may matter to the peer (final size unknown).
  bool needs_credit() const { return !final_size_; }
  /// True when enough was consumed that the peer should get more credit.
  bool wants_window_update() const;
  /// Extends the limit to consumed() + window and returns it.
  std::uint64_t take_window_update();
  /// True when nothing more can happen: final size known and every byte read or discarded.
  bool terminal() const;
  /// Bytes of memory the reassembly buffer holds.
  std::size_t allocated_bytes() const { return buffer_.allocated_bytes(); }
  /// Disjoint pieces of received data held (1 when everything arrived in order).
  std::size_t fragments() const { return received_.range_count(); }
  /// Bytes received but not yet read.
  std::uint64_t buffered() const { return consumed_ < highest_ ? highest_ - consumed_ : 0; }

 private:
  util::Status check_limits(std::uint64_t end, std::uint64_t conn_credit) const;

  StreamBuffer buffer_;  // base() == read_offset_
  RangeSet received_;
  std::uint64_t window_;
  std::uint64_t max_data_;
  std::uint64_t read_offset_ = 0;
  std::uint64_t consumed_ = 0;
  std::uint64_t highest_ = 0;
  std::optional<std::uint64_t> final_size_;
  bool reset_ = false;
  bool discarding_ = false;
  bool stop_pending_ = false;
  std::uint64_t stop_code_ = 0;
};

}  // namespace punch::transport
