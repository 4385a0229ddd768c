// The sending half of a stream: bytes the app wrote, waiting to be sent,
// acknowledged or resent. Retransmission is by byte range, not by packet: a lost
// packet's STREAM frames put their ranges (less anything acknowledged since)
// back in a retransmit set, sent ahead of new data in fresh packets.
#pragma once

#include <cstdint>
#include <optional>

#include "transport/range_set.hpp"
#include "transport/stream_buffer.hpp"
#include "transport/stream_id.hpp"
#include "util/bytes.hpp"

namespace punch::transport {

/// Send buffer, flow-control credit, retransmission and FIN/reset state of one stream.
class SendStream {
 public:
  /// What the next STREAM frame should carry.
  struct Chunk {
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    bool fin = false;
    bool retransmit = false;  ///< Old bytes: they do not consume connection credit.
  };

  /// Starts with `max_data` bytes of credit from the peer and `buffer_limit` bytes of buffer.
  SendStream(std::uint64_t max_data, std::uint64_t buffer_limit)
      : max_data_(max_data), buffer_limit_(buffer_limit) {}

  /// Buffers as much of `data` as fits; returns the count (0 after finish() or reset()).
  std::size_t write(util::ByteView data);
  /// Marks the end of the stream after the bytes written so far.
  void finish();
  /// Buffer space write() would accept now (0 after finish() or reset()).
  std::uint64_t free_space() const;
  /// Bytes written but not yet acknowledged (memory held).
  std::uint64_t buffered() const { return reset_ ? 0 : write_offset_ - acked_prefix_; }
  /// Raises the peer's credit to `max_data`; returns true when it grew.
  bool raise_limit(std::uint64_t max_data);

  /// Plans the next frame for stream `id` in `room` bytes (header included), with
  /// `conn_credit` bytes of connection credit for new data; nullopt when nothing fits or
  /// nothing is due.
  std::optional<Chunk> next_chunk(StreamId id, std::size_t room, std::uint64_t conn_credit) const;
  /// Copies `c`'s bytes to `out` (which holds c.length bytes).
  void copy_out(const Chunk& c, std::uint8_t* out) const;
  /// Records that `c` went out.
  void on_sent(const Chunk& c);
  /// True when a frame is due: retransmissions, new bytes within credit, or a FIN.
  bool has_pending(std::uint64_t conn_credit) const;
  /// True when new bytes wait for connection credit only.
  bool wants_connection_credit() const;

  /// Bytes [offset, offset + length) (and the FIN if `fin`) were acknowledged; returns how
  /// many of those bytes were not acknowledged before.
  std::uint64_t on_acked(std::uint64_t offset, std::uint64_t length, bool fin);
  /// A frame carrying [offset, offset + length) (and the FIN if `fin`) was lost.
  void on_lost(std::uint64_t offset, std::uint64_t length, bool fin);
  /// True once the FIN and every byte before it were acknowledged.
  bool all_acked() const { return fin_acked_ && acked_prefix_ == write_offset_; }

  /// Abandons the stream with `error_code`, dropping buffered bytes; false if nothing to do
  /// (already reset, or everything was acknowledged).
  bool reset(std::uint64_t error_code);
  /// True after reset().
  bool is_reset() const { return reset_; }
  /// True while a RESET_STREAM must be (re)sent.
  bool reset_pending() const { return reset_pending_; }
  /// The RESET_STREAM's error code.
  std::uint64_t reset_code() const { return reset_code_; }
  /// Final size announced by RESET_STREAM: every byte ever sent.
  std::uint64_t final_size() const { return sent_offset_; }
  /// The RESET_STREAM went out.
  void on_reset_sent() { reset_pending_ = false; }
  /// The RESET_STREAM was lost.
  void on_reset_lost() { reset_pending_ = !reset_acked_; }
  /// The RESET_STREAM was acknowledged.
  void on_reset_acked() {
    reset_acked_ = true;
    reset_pending_ = false;
  }
  /// True when this direction needs nothing more: all acknowledged, or reset acknowledged.
  bool terminal() const { return all_acked() || reset_acked_; }
  /// Bytes of memory the buffer holds.
  std::size_t allocated_bytes() const { return buffer_.allocated_bytes(); }

 private:
  bool fin_due() const { return fin_requested_ && fin_pending_ && !reset_; }

  StreamBuffer buffer_;
  std::uint64_t max_data_;
  std::uint64_t buffer_limit_;
  std::uint64_t write_offset_ = 0;  // Bytes the app wrote.
  std::uint64_t sent_offset_ = 0;   // New bytes sent (high-water mark).
  std::uint64_t acked_prefix_ = 0;  // Every byte below is acknowledged.
  RangeSet acked_;                  // Acknowledged ranges above acked_prefix_.
  RangeSet retransmit_;             // Lost ranges to resend.
  bool fin_requested_ = false;
  bool fin_pending_ = false;  // FIN not sent yet, or lost.
  bool fin_acked_ = false;
  bool reset_ = false;
  bool reset_pending_ = false;
  bool reset_acked_ = false;
  std::uint64_t reset_code_ = 0;
};

}  // namespace punch::transport
