#include "transport/frame.hpp"

#include <algorithm>
#include <cstdio>

namespace punch::transport {
namespace {

util::Error truncated(const char* name) { return {std::string("truncated ") + name + " frame"}; }

util::Result<Frame> decode_ack(util::ByteReader& r, bool ecn) {
  AckFrame f;
  const std::uint64_t largest = r.varint();
  f.ack_delay = r.varint();
  const std::uint64_t count = r.varint();
  const std::uint64_t first = r.varint();
  if (!r.ok()) return truncated("ACK");
  if (first > largest) return util::Error{"ACK frame range below packet number 0"};
  // Every further range takes at least two bytes, which bounds the allocation by the input.
  if (count > r.remaining() / 2) return truncated("ACK");
  f.ranges.reserve(static_cast<std::size_t>(count) + 1);
  std::uint64_t smallest = largest - first;
  f.ranges.push_back({smallest, largest});
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t gap = r.varint();
    const std::uint64_t length = r.varint();
    if (!r.ok()) return truncated("ACK");
    // The next range's largest is smallest - gap - 2; it and its smallest must stay >= 0.
    if (smallest < 2 || gap > smallest - 2)
      return util::Error{"ACK frame gap below packet number 0"};
    const std::uint64_t next_largest = smallest - gap - 2;
    if (length > next_largest) return util::Error{"ACK frame range below packet number 0"};
    smallest = next_largest - length;
    f.ranges.push_back({smallest, next_largest});
  }
  if (ecn) {
    r.varint();
    r.varint();
    r.varint();
    if (!r.ok()) return truncated("ACK");
  }
  return Frame{std::move(f)};
}

util::Result<Frame> decode_stream(util::ByteReader& r, std::uint8_t type) {
  StreamFrame f;
  f.stream = r.varint();
  if ((type & kStreamOffBit) != 0) f.offset = r.varint();
  std::uint64_t length = 0;
  if ((type & kStreamLenBit) != 0) {
    length = r.varint();
    if (!r.ok()) return truncated("STREAM");
    if (length > r.remaining()) return truncated("STREAM");
  } else {
    length = r.remaining();
  }
  f.data = r.bytes(static_cast<std::size_t>(length));
  if (!r.ok()) return truncated("STREAM");
  f.fin = (type & kStreamFinBit) != 0;
  if (f.offset > util::kVarintMax - length) return util::Error{"STREAM frame beyond 2^62 bytes"};
  return Frame{f};
}

util::Result<Frame> decode_close(util::ByteReader& r, bool application) {
  ConnectionCloseFrame f;
  f.application = application;
  f.error_code = r.varint();
  if (!application) f.frame_type = r.varint();
  const std::uint64_t length = r.varint();
  if (!r.ok() || length > r.remaining()) return truncated("CONNECTION_CLOSE");
  const util::ByteView reason = r.bytes(static_cast<std::size_t>(length));
  f.reason.assign(reason.begin(), reason.end());
  return Frame{std::move(f)};
}

}  // namespace

util::Result<Frame> decode_frame(util::ByteReader& r) {
  const std::uint8_t type = r.u8();
  if (!r.ok()) return util::Error{"empty frame"};
  if ((type & ~std::uint8_t{0x07}) == static_cast<std::uint8_t>(FrameType::kStream)) {
    return decode_stream(r, type);
  }
  switch (static_cast<FrameType>(type)) {
    case FrameType::kPadding: {
      PaddingFrame f;
      // Runs of PADDING are common at the end of a packet; fold them into one frame.
      util::ByteReader peek = r;
      while (peek.remaining() > 0 && peek.u8() == 0) {
        r.u8();
        ++f.length;
      }
      return Frame{f};
    }
    case FrameType::kPing:
      return Frame{PingFrame{}};
    case FrameType::kAck:
    case FrameType::kAckEcn:
      return decode_ack(r, type == static_cast<std::uint8_t>(FrameType::kAckEcn));
    case FrameType::kResetStream: {
      ResetStreamFrame f;
      f.stream = r.varint();
      f.error_code = r.varint();
      f.final_size = r.varint();
      if (!r.ok()) return truncated("RESET_STREAM");
      return Frame{f};
    }
    case FrameType::kStopSending: {
      StopSendingFrame f;
      f.stream = r.varint();
      f.error_code = r.varint();
      if (!r.ok()) return truncated("STOP_SENDING");
      return Frame{f};
    }
    case FrameType::kMaxData: {
      MaxDataFrame f;
      f.maximum = r.varint();
      if (!r.ok()) return truncated("MAX_DATA");
      return Frame{f};
    }
    case FrameType::kMaxStreamData: {
      MaxStreamDataFrame f;
      f.stream = r.varint();
      f.maximum = r.varint();
      if (!r.ok()) return truncated("MAX_STREAM_DATA");
      return Frame{f};
    }
    case FrameType::kMaxStreamsBidi:
    case FrameType::kMaxStreamsUni: {
      MaxStreamsFrame f;
      f.bidirectional = type == static_cast<std::uint8_t>(FrameType::kMaxStreamsBidi);
      f.maximum = r.varint();
      if (!r.ok()) return truncated("MAX_STREAMS");
      // Stream IDs are 62-bit with two type bits, so no more than 2^60 streams exist.
      if (f.maximum > (std::uint64_t{1} << 60)) return util::Error{"MAX_STREAMS above 2^60"};
      return Frame{f};
    }
    case FrameType::kConnectionClose:
    case FrameType::kApplicationClose:
      return decode_close(r, type == static_cast<std::uint8_t>(FrameType::kApplicationClose));
    default:
      break;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "unknown frame type 0x%02x", type);
  return util::Error{buf};
}

bool is_ack_eliciting(const Frame& f) {
  return !std::holds_alternative<AckFrame>(f) && !std::holds_alternative<PaddingFrame>(f) &&
         !std::holds_alternative<ConnectionCloseFrame>(f);
}

void encode_frame(util::ByteWriter& w, const Frame& f) {
  std::visit([&w](const auto& frame) { encode(w, frame); }, f);
}

void encode(util::ByteWriter& w, const PaddingFrame& f) { w.zeros(f.length); }

void encode(util::ByteWriter& w, const PingFrame&) {
  w.u8(static_cast<std::uint8_t>(FrameType::kPing));
}

void encode(util::ByteWriter& w, const AckFrame& f) {
  w.u8(static_cast<std::uint8_t>(FrameType::kAck));
  const AckRange& top = f.ranges.front();
  w.varint(top.largest);
  w.varint(f.ack_delay);
  w.varint(f.ranges.size() - 1);
  w.varint(top.largest - top.smallest);
  std::uint64_t smallest = top.smallest;
  for (std::size_t i = 1; i < f.ranges.size(); ++i) {
    w.varint(smallest - f.ranges[i].largest - 2);
    w.varint(f.ranges[i].largest - f.ranges[i].smallest);
    smallest = f.ranges[i].smallest;
  }
}

std::size_t encoded_size(const AckFrame& f) {
  const AckRange& top = f.ranges.front();
  std::size_t n = 1 + util::varint_size(top.largest) + util::varint_size(f.ack_delay) +
                  util::varint_size(f.ranges.size() - 1) +
                  util::varint_size(top.largest - top.smallest);
  std::uint64_t smallest = top.smallest;
  for (std::size_t i = 1; i < f.ranges.size(); ++i) {
    n += util::varint_size(smallest - f.ranges[i].largest - 2) +
         util::varint_size(f.ranges[i].largest - f.ranges[i].smallest);
    smallest = f.ranges[i].smallest;
  }
  return n;
}

void encode(util::ByteWriter& w, const ResetStreamFrame& f) {
  w.u8(static_cast<std::uint8_t>(FrameType::kResetStream));
  w.varint(f.stream);
  w.varint(f.error_code);
  w.varint(f.final_size);
}

void encode(util::ByteWriter& w, const StopSendingFrame& f) {
  w.u8(static_cast<std::uint8_t>(FrameType::kStopSending));
  w.varint(f.stream);
  w.varint(f.error_code);
}

void encode(util::ByteWriter& w, const StreamFrame& f) {
  encode_stream_header(w, f.stream, f.offset, f.data.size(), f.fin);
  w.bytes(f.data);
}

void encode_stream_header(util::ByteWriter& w, StreamId stream, std::uint64_t offset,
                          std::uint64_t length, bool fin) {
  std::uint8_t type = static_cast<std::uint8_t>(FrameType::kStream) | kStreamLenBit;
  if (offset != 0) type |= kStreamOffBit;
  if (fin) type |= kStreamFinBit;
  w.u8(type);
  w.varint(stream);
  if (offset != 0) w.varint(offset);
  w.varint(length);
}

std::size_t stream_header_size(StreamId stream, std::uint64_t offset, std::uint64_t length) {
  return 1 + util::varint_size(stream) + (offset != 0 ? util::varint_size(offset) : 0) +
         util::varint_size(length);
}

void encode(util::ByteWriter& w, const MaxDataFrame& f) {
  w.u8(static_cast<std::uint8_t>(FrameType::kMaxData));
  w.varint(f.maximum);
}

void encode(util::ByteWriter& w, const MaxStreamDataFrame& f) {
  w.u8(static_cast<std::uint8_t>(FrameType::kMaxStreamData));
  w.varint(f.stream);
  w.varint(f.maximum);
}

void encode(util::ByteWriter& w, const MaxStreamsFrame& f) {
  w.u8(static_cast<std::uint8_t>(f.bidirectional ? FrameType::kMaxStreamsBidi
                                                 : FrameType::kMaxStreamsUni));
  w.varint(f.maximum);
}

void encode(util::ByteWriter& w, const ConnectionCloseFrame& f) {
  w.u8(static_cast<std::uint8_t>(f.application ? FrameType::kApplicationClose
                                               : FrameType::kConnectionClose));
  w.varint(f.error_code);
  if (!f.application) w.varint(f.frame_type);
  w.varint(f.reason.size());
  w.bytes(util::as_bytes(f.reason));
}

}  // namespace punch::transport
