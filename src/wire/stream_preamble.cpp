#include "wire/stream_preamble.hpp"

#include <algorithm>
#include <utility>

#include "util/assert.hpp"
#include "wire/rendezvous_message.hpp"

namespace punch::wire {
namespace {

template <typename T>
PreambleDecoded<T> need_more() {
  return {};
}

template <typename T>
PreambleDecoded<T> malformed() {
  PreambleDecoded<T> d;
  d.status = PreambleDecodeStatus::kMalformed;
  return d;
}

// The message ends where the reader stands; whatever follows is stream payload.
template <typename T>
PreambleDecoded<T> complete(T&& m, const util::ByteReader& r) {
  PreambleDecoded<T> d;
  d.status = PreambleDecodeStatus::kComplete;
  d.message = std::forward<T>(m);
  d.consumed = r.position();
  return d;
}

bool is_control(char c) {
  const auto b = static_cast<std::uint8_t>(c);
  return b < 0x20 || b == 0x7f;
}

// Strings from a peer end up in logs, terminals and resolvers, where a control
// character (NUL, ESC, newline) would truncate, forge or corrupt what is shown.
bool is_clean_string(std::string_view s) {
  return s.size() <= kStreamMaxStringSize && std::none_of(s.begin(), s.end(), is_control);
}

bool is_known_kind(std::uint8_t kind) {
  switch (static_cast<StreamKind>(kind)) {
    case StreamKind::kStdio:
    case StreamKind::kConnect:
    case StreamKind::kRemoteBind:
    case StreamKind::kRemoteConnection:
      return true;
  }
  return false;
}

bool is_known_status(std::uint8_t status) {
  return status <= static_cast<std::uint8_t>(StreamStatus::kBusy);
}

void put_string(util::ByteWriter& w, std::string_view s) {
  PUNCH_ASSERT(s.size() <= kStreamMaxStringSize);
  w.u8(static_cast<std::uint8_t>(s.size()));
  w.bytes(util::as_bytes(s));
}

// Where a field can be cut short, reading stops with "need more"; a field is
// judged as soon as it is complete, so garbage is rejected without waiting for
// bytes that may never come.
enum class Read : std::uint8_t { kOk, kNeedMore, kMalformed };

Read get_string(util::ByteReader& r, std::string& out) {
  const std::uint8_t len = r.u8();
  const util::ByteView b = r.bytes(len);
  if (!r.ok()) return Read::kNeedMore;
  out.assign(b.begin(), b.end());
  return is_clean_string(out) ? Read::kOk : Read::kMalformed;
}

// Only the shortest encoding is accepted, so every message has exactly one form on
// the wire (the fuzz target checks decode-encode round trips byte for byte).
Read get_varint(util::ByteReader& r, std::uint64_t& out) {
  const std::size_t before = r.position();
  out = r.varint();
  if (!r.ok()) return Read::kNeedMore;
  return r.position() - before == util::varint_size(out) ? Read::kOk : Read::kMalformed;
}

}  // namespace

bool is_valid_stream_request(const StreamRequest& m) {
  switch (m.kind) {
    case StreamKind::kStdio:
      return true;
    case StreamKind::kConnect:
      return !m.host.empty() && is_clean_string(m.host) && m.port != 0;
    case StreamKind::kRemoteBind:
      return is_clean_string(m.host) && m.forward_id <= util::kVarintMax;
    case StreamKind::kRemoteConnection:
      return is_clean_string(m.origin) && m.forward_id <= util::kVarintMax;
  }
  return false;
}

void encode(const StreamRequest& m, util::Bytes& out) {
  // Requests are built from parsed specs and accepted connections, never from
  // peer bytes, so an invalid one is a local bug.
  PUNCH_ASSERT(is_valid_stream_request(m));
  util::ByteWriter w(out);
  w.u8(kStreamPreambleVersion);
  w.u8(static_cast<std::uint8_t>(m.kind));
  switch (m.kind) {
    case StreamKind::kStdio:
      break;
    case StreamKind::kConnect:
      put_string(w, m.host);
      w.u16(m.port);
      break;
    case StreamKind::kRemoteBind:
      put_string(w, m.host);
      w.u16(m.port);
      w.varint(m.forward_id);
      break;
    case StreamKind::kRemoteConnection:
      w.varint(m.forward_id);
      put_string(w, m.origin);
      break;
  }
}

void encode(const StreamReply& m, util::Bytes& out) {
  util::ByteWriter w(out);
  w.u8(kStreamPreambleVersion);
  w.u8(static_cast<std::uint8_t>(m.status));
  w.u16(m.bound_port);
  put_string(w, sanitize_stream_reason(m.reason));
}

PreambleDecoded<StreamRequest> decode_stream_request(util::ByteView input) {
  util::ByteReader r(input);
  const std::uint8_t ver = r.u8();
  if (!r.ok()) return need_more<StreamRequest>();
  if (ver != kStreamPreambleVersion) return malformed<StreamRequest>();
  const std::uint8_t kind = r.u8();
  if (!r.ok()) return need_more<StreamRequest>();
  if (!is_known_kind(kind)) return malformed<StreamRequest>();

  StreamRequest m;
  m.kind = static_cast<StreamKind>(kind);
  Read read = Read::kOk;
  switch (m.kind) {
    case StreamKind::kStdio:
      break;
    case StreamKind::kConnect:
    case StreamKind::kRemoteBind:
      read = get_string(r, m.host);
      if (read != Read::kOk) break;
      if (m.kind == StreamKind::kConnect && m.host.empty()) {
        read = Read::kMalformed;
        break;
      }
      m.port = r.u16();
      if (!r.ok()) {
        read = Read::kNeedMore;
        break;
      }
      if (m.kind == StreamKind::kConnect) {
        if (m.port == 0) read = Read::kMalformed;
        break;
      }
      read = get_varint(r, m.forward_id);
      break;
    case StreamKind::kRemoteConnection:
      read = get_varint(r, m.forward_id);
      if (read != Read::kOk) break;
      read = get_string(r, m.origin);
      break;
  }
  if (read == Read::kNeedMore) return need_more<StreamRequest>();
  if (read == Read::kMalformed) return malformed<StreamRequest>();
  return complete(std::move(m), r);
}

PreambleDecoded<StreamReply> decode_stream_reply(util::ByteView input) {
  util::ByteReader r(input);
  const std::uint8_t ver = r.u8();
  if (!r.ok()) return need_more<StreamReply>();
  if (ver != kStreamPreambleVersion) return malformed<StreamReply>();
  const std::uint8_t status = r.u8();
  if (!r.ok()) return need_more<StreamReply>();
  if (!is_known_status(status)) return malformed<StreamReply>();

  StreamReply m;
  m.status = static_cast<StreamStatus>(status);
  m.bound_port = r.u16();
  if (!r.ok()) return need_more<StreamReply>();
  const Read read = get_string(r, m.reason);
  if (read == Read::kNeedMore) return need_more<StreamReply>();
  if (read == Read::kMalformed || !is_valid_utf8(m.reason)) return malformed<StreamReply>();
  return complete(std::move(m), r);
}

std::string sanitize_stream_reason(std::string_view reason) {
  std::string s(reason);
  std::replace_if(s.begin(), s.end(), is_control, '?');
  // Error text can quote peer-chosen bytes (a SOCKS client's host name), which need
  // not be UTF-8; the receiver rejects such a reply, so flatten it here instead.
  if (!is_valid_utf8(s)) {
    std::replace_if(
        s.begin(), s.end(), [](char c) { return static_cast<std::uint8_t>(c) >= 0x80; }, '?');
  }
  if (s.size() <= kStreamMaxStringSize) return s;
  std::size_t n = kStreamMaxStringSize;
  // Back off over continuation bytes (10xxxxxx) so the cut lands on a character start.
  while (n > 0 && (static_cast<std::uint8_t>(s[n]) & 0xc0) == 0x80) --n;
  s.resize(n);
  return s;
}

SocksReplyCode to_socks_reply(StreamStatus status) {
  // The numeric identity of 1-7 is the point of StreamStatus's values.
  if (static_cast<std::uint8_t>(status) > static_cast<std::uint8_t>(StreamStatus::kUnsupported))
    return SocksReplyCode::kGeneralFailure;
  return static_cast<SocksReplyCode>(status);
}

std::string_view describe(StreamStatus status) {
  switch (status) {
    case StreamStatus::kOk:
      return "ok";
    case StreamStatus::kGeneralFailure:
      return "general failure";
    case StreamStatus::kNotAllowed:
      return "not allowed";
    case StreamStatus::kNetworkUnreachable:
      return "network unreachable";
    case StreamStatus::kHostUnreachable:
      return "host unreachable";
    case StreamStatus::kRefused:
      return "connection refused";
    case StreamStatus::kTimedOut:
      return "timed out";
    case StreamStatus::kUnsupported:
      return "unsupported";
    case StreamStatus::kBusy:
      return "busy";
  }
  return "unknown status";
}

}  // namespace punch::wire
