// The preamble of a forwarding stream (docs/protocol.md, "Stream preamble"): the
// stream's opener sends one request, the other side answers with one reply, and
// from then on the stream carries raw TCP payload both ways. The opener may send
// payload right behind its request without waiting for the reply (0-RTT), so the
// decoders work on the bytes received so far and say how many they used: the rest
// is payload and is left alone. Plain structs, stateless encoders that append to a
// buffer, strictly bounds-checked decoders, as in wire/socks5.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/bytes.hpp"
#include "wire/socks5.hpp"

namespace punch::wire {

/// Version byte that starts every request and reply; any other value is malformed.
inline constexpr std::uint8_t kStreamPreambleVersion = 1;
/// Longest string field (host, origin, reason), in bytes: its length travels in one byte.
inline constexpr std::size_t kStreamMaxStringSize = 255;
/// Largest request: version, kind, host length, 255-byte host, port, 8-byte varint id (the
/// kRemoteBind layout; kRemoteConnection is 2 bytes shorter). A decoder that has this many
/// bytes never answers "need more", so a receiver never buffers more than this for a request.
inline constexpr std::size_t kMaxPreambleSize = 1 + 1 + 1 + kStreamMaxStringSize + 2 + 8;
/// Largest reply: version, status, bound port, reason length, 255-byte reason.
inline constexpr std::size_t kMaxPreambleReplySize = 1 + 1 + 2 + 1 + kStreamMaxStringSize;

/// What a stream is for; decides which StreamRequest fields travel.
enum class StreamKind : std::uint8_t {
  kStdio = 1,             ///< Connector -> listener: the connector's stdio (no target of its own).
  kConnect = 2,           ///< Opener -> peer: open TCP to host:port there (-L, -D, HOST:PORT).
  kRemoteBind = 3,        ///< Connector -> listener: listen on host:port there for -R forward_id.
  kRemoteConnection = 4,  ///< Listener -> connector: a TCP client reached -R forward_id.
};

/// Outcome of a request. Values 1-7 equal the SOCKS5 REP codes of RFC 1928 on purpose, so
/// a -D forward passes a peer's failure to its SOCKS client 1:1 (see to_socks_reply()).
enum class StreamStatus : std::uint8_t {
  kOk = 0,                  ///< Done; the stream now carries payload.
  kGeneralFailure = 1,      ///< Anything not covered below.
  kNotAllowed = 2,          ///< Refused by policy (--permit-open, --gateway-ports).
  kNetworkUnreachable = 3,  ///< The target's network is unreachable.
  kHostUnreachable = 4,     ///< The target host is unreachable or its name did not resolve.
  kRefused = 5,             ///< The target refused the connection (or the bind address is in use).
  kTimedOut = 6,            ///< Connecting to the target timed out.
  kUnsupported = 7,         ///< The peer does not carry out this kind of stream.
  kBusy = 8,                ///< A limit of the peer was reached; try again later.
};

/// Opener -> peer: the first message of a forwarding stream.
struct StreamRequest {
  /// What the stream is for; only the fields this kind uses travel.
  StreamKind kind = StreamKind::kStdio;
  /// kConnect: target host (name or IP literal, IPv6 without brackets; 1-255 bytes);
  /// kRemoteBind: bind address ("" = loopback default, "*" = all interfaces).
  std::string host;
  /// kConnect: target port (1-65535); kRemoteBind: port to bind (0 = any free port).
  std::uint16_t port = 0;
  /// kRemoteBind: the connector's id for this -R; kRemoteConnection: which -R it belongs to.
  std::uint64_t forward_id = 0;
  /// kRemoteConnection: "ip:port" of the TCP client at the listener (for logs); may be empty.
  std::string origin;
  friend bool operator==(const StreamRequest&, const StreamRequest&) = default;
};

/// Peer -> opener: the answer to a StreamRequest.
struct StreamReply {
  /// kOk, or why the request failed.
  StreamStatus status = StreamStatus::kGeneralFailure;
  /// kRemoteBind: the port actually bound (the chosen one when 0 was asked); 0 otherwise.
  std::uint16_t bound_port = 0;
  /// Why it failed, for the user; UTF-8 without control characters, at most 255 bytes.
  std::string reason;
  friend bool operator==(const StreamReply&, const StreamReply&) = default;
};

/// What a preamble decoder made of the bytes received so far.
enum class PreambleDecodeStatus : std::uint8_t {
  kComplete,   ///< One whole message decoded; it used the first `consumed` bytes.
  kNeedMore,   ///< The bytes are a proper prefix of a valid message; call again with more.
  kMalformed,  ///< No continuation can make this valid; reset the stream.
};

/// Result of a preamble decoder: status, the message when complete, and its length.
template <typename T>
struct PreambleDecoded {
  PreambleDecodeStatus status = PreambleDecodeStatus::kNeedMore;
  /// The decoded message; meaningful only when status is kComplete.
  T message{};
  /// Bytes the message occupies (everything after it is payload); 0 unless complete.
  std::size_t consumed = 0;

  /// True when status is kComplete.
  bool complete() const { return status == PreambleDecodeStatus::kComplete; }
  /// True when status is kNeedMore.
  bool need_more() const { return status == PreambleDecodeStatus::kNeedMore; }
  /// True when status is kMalformed.
  bool malformed() const { return status == PreambleDecodeStatus::kMalformed; }
};

/// Appends a request; the fields of `m.kind` must be valid (see StreamRequest and
/// is_valid_stream_request()), which holds for requests built from parsed specs.
void encode(const StreamRequest& m, util::Bytes& out);
/// Appends a reply; `m.reason` is made safe with sanitize_stream_reason() first, so any
/// local error text may be passed.
void encode(const StreamReply& m, util::Bytes& out);

/// Decodes a request from the start of `input`; malformed on an unknown version or kind, a
/// string that is empty where required or holds control characters, port 0 in kConnect, or a
/// varint not in its shortest form.
PreambleDecoded<StreamRequest> decode_stream_request(util::ByteView input);
/// Decodes a reply from the start of `input`; malformed on an unknown version or status, or a
/// reason that is not UTF-8 or holds control characters.
PreambleDecoded<StreamReply> decode_stream_reply(util::ByteView input);

/// True when `m` can be encoded, i.e. when decode_stream_request() would accept it.
bool is_valid_stream_request(const StreamRequest& m);
/// Turns `reason` into what a reply may carry: control characters become '?', text that is
/// not UTF-8 loses its non-ASCII bytes to '?', and the result is cut to 255 bytes on a
/// character boundary.
std::string sanitize_stream_reason(std::string_view reason);

/// The SOCKS5 REP code for `status`: 1:1 for 0-7, kGeneralFailure for kBusy.
SocksReplyCode to_socks_reply(StreamStatus status);
/// A short lower-case description of `status` for logs, e.g. "connection refused".
std::string_view describe(StreamStatus status);

}  // namespace punch::wire
