// Which stream frames go into the next packet (RFC 9000 section 2.3 leaves it to the
// implementation): streams with data due take turns round robin, streams owing
// RESET_STREAM, STOP_SENDING or MAX_STREAM_DATA wait in a control queue, and the
// frames of a lost packet go back in line (retransmission by frame, not by packet).
#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "transport/flow_control.hpp"
#include "transport/sent_packet_tracker.hpp"
#include "transport/stream_map.hpp"
#include "util/bytes.hpp"

namespace punch::transport {

/// The send and control queues over a connection's streams.
class StreamScheduler {
 public:
  /// Schedules the streams of `streams` within (and sending against) the credit of `flow`;
  /// both outlive it.
  StreamScheduler(StreamMap& streams, FlowControl& flow) : streams_(&streams), flow_(&flow) {}

  /// True when `s` has STREAM bytes it may send now (stream limit and credit allowing).
  bool sendable(const Stream& s) const;
  /// Queues `s` for STREAM frames if it has any to send; `front` for retransmissions.
  void schedule(Stream& s, bool front = false);
  /// Queues `s` for its control frames.
  void schedule_control(Stream& s);
  /// The peer raised the connection's credit: wake the streams that waited for it.
  void on_connection_credit();
  /// True while a stream has STREAM or control frames queued.
  bool has_frames_due() const { return !send_queue_.empty() || !control_queue_.empty(); }

  /// Writes queued RESET_STREAM, STOP_SENDING and MAX_STREAM_DATA frames while
  /// `max` bytes allow; records them in `frames`; returns true if any.
  bool write_control(util::ByteWriter& w, std::size_t max, std::vector<SentFrame>& frames);
  /// Fills `payload` up to `max` with STREAM frames, round robin over streams; records them
  /// in `frames` and counts new bytes against the connection's credit; returns true if any.
  bool write_streams(util::Bytes& payload, std::size_t max, std::vector<SentFrame>& frames);
  /// Puts the lost stream frame `f` back in line (connection-level frames are the caller's).
  void on_frame_lost(const SentFrame& f);

 private:
  StreamMap* streams_;
  FlowControl* flow_;
  std::deque<StreamId> send_queue_;     // Round robin of streams with STREAM frames due.
  std::deque<StreamId> control_queue_;  // Streams with RESET/STOP/MAX_STREAM_DATA due.
};

}  // namespace punch::transport
