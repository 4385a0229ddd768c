// Stateless codec for the QUIC frames (RFC 9000, section 19) the transport uses.
// Decoding never trusts the input: every malformed frame becomes an error message,
// and decoded STREAM data is a view into the packet (no copy).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "transport/stream_id.hpp"
#include "util/bytes.hpp"
#include "util/result.hpp"

namespace punch::transport {

/// Frame type bytes (RFC 9000, section 12.4).
enum class FrameType : std::uint8_t {
  kPadding = 0x00,
  kPing = 0x01,
  kAck = 0x02,
  kAckEcn = 0x03,
  kResetStream = 0x04,
  kStopSending = 0x05,
  kStream = 0x08,  ///< 0x08..0x0f; low bits OFF (0x04), LEN (0x02), FIN (0x01).
  kMaxData = 0x10,
  kMaxStreamData = 0x11,
  kMaxStreamsBidi = 0x12,
  kMaxStreamsUni = 0x13,
  kConnectionClose = 0x1c,
  kApplicationClose = 0x1d,
};

/// STREAM frame type bit: an Offset field is present.
inline constexpr std::uint8_t kStreamOffBit = 0x04;
/// STREAM frame type bit: a Length field is present.
inline constexpr std::uint8_t kStreamLenBit = 0x02;
/// STREAM frame type bit: the frame ends the stream.
inline constexpr std::uint8_t kStreamFinBit = 0x01;

/// A run of PADDING bytes (decoded as one frame).
struct PaddingFrame {
  std::size_t length = 1;
};

/// PING: asks for an acknowledgement.
struct PingFrame {};

/// One acknowledged range of packet numbers, both ends inclusive.
struct AckRange {
  std::uint64_t smallest = 0;
  std::uint64_t largest = 0;
  bool operator==(const AckRange&) const = default;
};

/// ACK: `ranges` in descending order, never empty, never overlapping or adjacent.
struct AckFrame {
  std::uint64_t ack_delay = 0;  ///< Raw field, in units of 2^kAckDelayExponent microseconds.
  std::vector<AckRange> ranges;
};

/// RESET_STREAM: the sender abandoned `stream` after `final_size` bytes.
struct ResetStreamFrame {
  StreamId stream = 0;
  std::uint64_t error_code = 0;
  std::uint64_t final_size = 0;
};

/// STOP_SENDING: the receiver no longer wants `stream`'s data.
struct StopSendingFrame {
  StreamId stream = 0;
  std::uint64_t error_code = 0;
};

/// STREAM: `data` at `offset` of `stream`; `data` views the decoded packet.
struct StreamFrame {
  StreamId stream = 0;
  std::uint64_t offset = 0;
  util::ByteView data;
  bool fin = false;
};

/// MAX_DATA: connection-wide flow-control limit.
struct MaxDataFrame {
  std::uint64_t maximum = 0;
};

/// MAX_STREAM_DATA: flow-control limit of one stream.
struct MaxStreamDataFrame {
  StreamId stream = 0;
  std::uint64_t maximum = 0;
};

/// MAX_STREAMS: how many streams of one direction type the peer may open in total.
struct MaxStreamsFrame {
  bool bidirectional = true;
  std::uint64_t maximum = 0;
};

/// CONNECTION_CLOSE, transport (0x1c) or application (0x1d) variant.
struct ConnectionCloseFrame {
  bool application = false;
  std::uint64_t error_code = 0;
  std::uint64_t frame_type = 0;  ///< Transport variant only.
  std::string reason;
};

/// Any decoded frame.
using Frame =
    std::variant<PaddingFrame, PingFrame, AckFrame, ResetStreamFrame, StopSendingFrame, StreamFrame,
                 MaxDataFrame, MaxStreamDataFrame, MaxStreamsFrame, ConnectionCloseFrame>;

/// Decodes the frame at `r`'s position; on malformed input returns an error naming the frame
/// (the reader is then unusable).
util::Result<Frame> decode_frame(util::ByteReader& r);

/// True for frames that oblige the peer to acknowledge (all but ACK, PADDING, CONNECTION_CLOSE).
bool is_ack_eliciting(const Frame& f);

/// Appends `f`.
void encode_frame(util::ByteWriter& w, const Frame& f);
/// Appends PADDING bytes (`f.length` zeros).
void encode(util::ByteWriter& w, const PaddingFrame& f);
/// Appends a PING.
void encode(util::ByteWriter& w, const PingFrame& f);
/// Appends an ACK (type 0x02); `f.ranges` must be non-empty, descending, with gaps >= 1.
void encode(util::ByteWriter& w, const AckFrame& f);
/// Appends a RESET_STREAM.
void encode(util::ByteWriter& w, const ResetStreamFrame& f);
/// Appends a STOP_SENDING.
void encode(util::ByteWriter& w, const StopSendingFrame& f);
/// Appends a STREAM frame with explicit length (OFF bit only when the offset is non-zero).
void encode(util::ByteWriter& w, const StreamFrame& f);
/// Appends a MAX_DATA.
void encode(util::ByteWriter& w, const MaxDataFrame& f);
/// Appends a MAX_STREAM_DATA.
void encode(util::ByteWriter& w, const MaxStreamDataFrame& f);
/// Appends a MAX_STREAMS.
void encode(util::ByteWriter& w, const MaxStreamsFrame& f);
/// Appends a CONNECTION_CLOSE of the variant `f.application` selects.
void encode(util::ByteWriter& w, const ConnectionCloseFrame& f);

/// Appends a STREAM frame's header only (with LEN bit), so the caller can copy
/// `length` data bytes straight from its buffer after it.
void encode_stream_header(util::ByteWriter& w, StreamId stream, std::uint64_t offset,
                          std::uint64_t length, bool fin);
/// Bytes encode_stream_header() writes for these fields.
std::size_t stream_header_size(StreamId stream, std::uint64_t offset, std::uint64_t length);
/// Encoded size of an ACK frame.
std::size_t encoded_size(const AckFrame& f);

}  // namespace punch::transport
