// The reliable transport of a session: QUIC-like frames (RFC 9000) inside
// packets the session layer protects. Sans-I/O: the session hands in decrypted
// payloads with their packet numbers and polls for payloads to send; all timing
// comes in as `now` and leaves as next_deadline().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "transport/close_reason.hpp"
#include "transport/stream_id.hpp"
#include "util/bytes.hpp"
#include "util/time.hpp"

namespace punch::transport {

/// Which congestion controller a Connection runs.
enum class CongestionAlgorithm {
  kBbr,      ///< Model-based (default): keeps lossy paths full; see docs/transport.md.
  kNewReno,  ///< Loss-based RFC 9002 controller, kept for comparison and tests.
};

/// Something the application should react to, polled with Connection::poll_event().
struct Event {
  enum class Kind {
    kStreamOpened,  ///< The peer opened `stream`.
    kReadable,      ///< `stream` has bytes (or its FIN) to read.
    kWritable,      ///< `stream` accepts more bytes after a short write.
    kStreamReset,   ///< The peer aborted `stream` (its data is gone).
    kClosed,        ///< The connection ended; see close_reason().
  };
  Kind kind;
  StreamId stream = 0;
};

/// Counters for --events, logs and benchmarks.
struct Stats {
  std::uint64_t packets_sent = 0;
  std::uint64_t packets_received = 0;
  std::uint64_t packets_lost = 0;
  std::uint64_t bytes_sent = 0;          ///< Payload bytes handed out by poll_send.
  std::uint64_t stream_bytes_acked = 0;  ///< Stream data the peer acknowledged.
  util::Duration smoothed_rtt{};
  bool rtt_measured = false;            ///< False while smoothed_rtt is the initial guess.
  std::uint64_t congestion_window = 0;  ///< Bytes.
  std::uint64_t bytes_in_flight = 0;    ///< Ack-eliciting bytes sent, not yet acked or lost.
  std::uint64_t send_buffered = 0;      ///< Bytes written by the app, not yet acknowledged.
  std::uint64_t recv_buffered = 0;      ///< Bytes received, not yet read by the app.
  std::uint64_t buffer_memory = 0;      ///< Bytes allocated for stream buffers.
  std::uint64_t open_streams = 0;       ///< Streams not yet fully closed and forgotten.
  std::uint64_t duplicate_packets = 0;  ///< Packets ignored as already received.
  std::uint64_t max_datagram = 0;       ///< Validated UDP payload size packets may fill.
  std::uint64_t mtu_probes_sent = 0;    ///< Path MTU probes sent.
  std::uint64_t mtu_probes_lost = 0;    ///< Path MTU probes lost (not counted in packets_lost).
};

/// A packet payload to protect and send.
struct OutPacket {
  std::uint64_t packet_number;
  util::Bytes payload;  ///< Plaintext frames.
  /// True when a working path brings an answer: ack-eliciting and not an MTU probe
  /// (paths drop those by design). The session judges a direct path's liveness by it.
  bool answer_expected = false;
};

/// One end of a reliable, multiplexed, congestion-controlled connection.
class Connection {
 public:
  /// Starts a connection at `now` running `algorithm`; the handshake is already done by then.
  Connection(Role role, util::TimePoint now,
             CongestionAlgorithm algorithm = CongestionAlgorithm::kBbr);
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  /// Processes a decrypted packet; duplicates are ignored, malformed frames close
  /// the connection with a protocol-error reason (never abort).
  void on_packet(std::uint64_t packet_number, util::ByteView payload, util::TimePoint now);
  /// True when `packet_number` was already received (or is too old to tell): the
  /// caller drops such a packet before it has any other effect (a replay proves nothing).
  bool is_duplicate(std::uint64_t packet_number) const;
  /// Next payload to send now, or nullopt when congestion control, pacing or lack of data
  /// says wait; `max_payload` is the most the caller can protect, and the payload stays
  /// within the path MTU validated so far (or is an MTU probe up to `max_payload`).
  std::optional<OutPacket> poll_send(util::TimePoint now, std::size_t max_payload);
  /// When on_timeout() must next run: the earliest of the connection's named timers
  /// (idle, loss/PTO, ACK delay, keepalive, pacing, a pending close); kNever if none.
  util::TimePoint next_deadline() const;
  /// Runs the timers expired at `now`.
  void on_timeout(util::TimePoint now);
  /// Takes the next pending event, if any.
  std::optional<Event> poll_event();

  /// Opens a new locally initiated bidirectional stream (it sends once the peer's
  /// MAX_STREAMS allows; see can_open_stream()).
  StreamId open_stream();
  /// True when a stream opened now may send at once; false while the peer's stream
  /// credit is used up (its MAX_STREAMS may raise it later).
  bool can_open_stream() const;
  /// Queues up to `data.size()` bytes; returns how many were accepted (fewer when
  /// the stream's send buffer is full: wait for kWritable). 0 after finish/reset.
  std::size_t write(StreamId stream, util::ByteView data);
  /// Ends the sending direction after the queued bytes (FIN).
  void finish(StreamId stream);
  /// Aborts both directions of the stream (RESET_STREAM + STOP_SENDING).
  void reset(StreamId stream, std::uint64_t error_code);
  /// Copies up to `out.size()` in-order bytes; returns how many.
  std::size_t read(StreamId stream, std::span<std::uint8_t> out);
  /// True once the peer's FIN arrived and every byte before it was read.
  bool read_finished(StreamId stream) const;
  /// True once our FIN and all data before it were acknowledged by the peer.
  bool write_finished(StreamId stream) const;

  /// Closes the connection, telling the peer application code `app_code` and `reason`
  /// (an application CONNECTION_CLOSE).
  void close(std::uint64_t app_code, const std::string& reason, util::TimePoint now);
  /// True once closed by either side or by idle timeout.
  bool closed() const;
  /// Why the connection closed (origin, kind, code, text); meaningful once closed().
  const CloseReason& close_reason() const;
  /// Current counters.
  Stats stats() const;
  /// Sends a PING in the next packet, so the peer's ACK yields an RTT sample.
  void ping();
  /// Tells the connection that the caller adds `bytes` (header and AEAD tag) to every
  /// payload, so that UDP datagram sizes map to payload sizes; 0 until called.
  void set_datagram_overhead(std::size_t bytes);
  /// Restarts RTT estimation, congestion control and the path MTU, for a new network path.
  void reset_path(util::TimePoint now);
  /// The path the packets in flight took is dead: resend their contents now (on the new
  /// path) instead of after loss detection; not a congestion signal.
  void abandon_in_flight(util::TimePoint now);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace punch::transport
