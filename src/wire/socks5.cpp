#include "wire/socks5.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "util/assert.hpp"

namespace punch::wire {
namespace {

template <typename T>
SocksDecoded<T> need_more() {
  return {};
}

template <typename T>
SocksDecoded<T> malformed(std::optional<SocksReplyCode> reply = std::nullopt) {
  SocksDecoded<T> d;
  d.status = SocksDecodeStatus::kMalformed;
  d.reply = reply;
  return d;
}

// The message ends where the reader stands; whatever follows belongs to the next one.
template <typename T>
SocksDecoded<T> complete(T&& m, const util::ByteReader& r) {
  SocksDecoded<T> d;
  d.status = SocksDecodeStatus::kComplete;
  d.message = std::forward<T>(m);
  d.consumed = r.position();
  return d;
}

// A one-byte length followed by that many bytes; the caller checked it fits.
void put_short_string(util::ByteWriter& w, std::string_view s) {
  PUNCH_ASSERT(s.size() <= 255);
  w.u8(static_cast<std::uint8_t>(s.size()));
  w.bytes(util::as_bytes(s));
}

bool is_known_command(std::uint8_t cmd) {
  switch (static_cast<SocksCommand>(cmd)) {
    case SocksCommand::kConnect:
    case SocksCommand::kBind:
    case SocksCommand::kUdpAssociate:
      return true;
  }
  return false;
}

// Turns 4 or 16 address bytes into text through util::Address, which owns the
// one inet_ntop call (so IPv6 comes out in RFC 5952 form, e.g. "2001:db8::1").
std::string ip_text(util::ByteView raw) {
  util::Address a;
  a.family = raw.size() == 16 ? 6 : 4;
  std::memcpy(a.ip.data(), raw.data(), raw.size());
  return a.ip_string();
}

}  // namespace

bool SocksGreeting::offers(SocksMethod method) const {
  return std::find(methods.begin(), methods.end(), method) != methods.end();
}

void encode(const SocksGreeting& m, util::Bytes& out) {
  PUNCH_ASSERT(m.methods.size() <= 255);
  util::ByteWriter w(out);
  w.u8(kSocksVersion);
  w.u8(static_cast<std::uint8_t>(m.methods.size()));
  for (SocksMethod method : m.methods) w.u8(static_cast<std::uint8_t>(method));
}

void encode(const SocksMethodSelection& m, util::Bytes& out) {
  util::ByteWriter w(out);
  w.u8(kSocksVersion);
  w.u8(static_cast<std::uint8_t>(m.method));
}

void encode(const SocksUserPassRequest& m, util::Bytes& out) {
  util::ByteWriter w(out);
  w.u8(kSocksUserPassVersion);
  put_short_string(w, m.username);
  put_short_string(w, m.password);
}

void encode(const SocksUserPassReply& m, util::Bytes& out) {
  util::ByteWriter w(out);
  w.u8(kSocksUserPassVersion);
  w.u8(m.status);
}

void encode(const SocksRequest& m, util::Bytes& out) {
  util::ByteWriter w(out);
  w.u8(kSocksVersion);
  w.u8(static_cast<std::uint8_t>(m.command));
  w.u8(0);  // RSV
  w.u8(static_cast<std::uint8_t>(m.address_type));
  switch (m.address_type) {
    case SocksAddressType::kIpv4:
    case SocksAddressType::kIpv6: {
      // A host that does not match its address type is a caller bug: requests are
      // built from a parsed target, never from peer bytes.
      const auto ip = util::Address::from_ip(m.host, m.port);
      const std::uint8_t family = m.address_type == SocksAddressType::kIpv4 ? 4 : 6;
      PUNCH_ASSERT(ip.has_value() && ip->family == family);
      w.bytes(util::ByteView(ip->ip.data(), family == 6 ? 16 : 4));
      break;
    }
    case SocksAddressType::kDomain:
      PUNCH_ASSERT(is_valid_socks_domain(m.host));
      put_short_string(w, m.host);
      break;
    default:
      PUNCH_ASSERT(false && "unknown SocksAddressType");
  }
  w.u16(m.port);
}

void encode(const SocksReply& m, util::Bytes& out) {
  util::ByteWriter w(out);
  w.u8(kSocksVersion);
  w.u8(static_cast<std::uint8_t>(m.code));
  w.u8(0);  // RSV
  if (m.bound.family == 6) {
    w.u8(static_cast<std::uint8_t>(SocksAddressType::kIpv6));
    w.bytes(util::ByteView(m.bound.ip.data(), 16));
    w.u16(m.bound.port);
  } else if (m.bound.family == 4) {
    w.u8(static_cast<std::uint8_t>(SocksAddressType::kIpv4));
    w.bytes(util::ByteView(m.bound.ip.data(), 4));
    w.u16(m.bound.port);
  } else {
    w.u8(static_cast<std::uint8_t>(SocksAddressType::kIpv4));
    w.zeros(4 + 2);
  }
}

// Each decoder checks r.ok() after every read that a short input can fail, so a
// prefix is always "need more", and judges each field as soon as it has arrived,
// so a bad VER, CMD or ATYP is reported without waiting for the rest.

SocksDecoded<SocksGreeting> decode_socks_greeting(util::ByteView input) {
  util::ByteReader r(input);
  const std::uint8_t ver = r.u8();
  if (!r.ok()) return need_more<SocksGreeting>();
  if (ver != kSocksVersion) return malformed<SocksGreeting>();
  const std::uint8_t count = r.u8();
  const util::ByteView methods = r.bytes(count);
  if (!r.ok()) return need_more<SocksGreeting>();
  SocksGreeting m;
  m.methods.reserve(count);
  for (std::uint8_t b : methods) m.methods.push_back(static_cast<SocksMethod>(b));
  return complete(std::move(m), r);
}

SocksDecoded<SocksUserPassRequest> decode_socks_userpass_request(util::ByteView input) {
  util::ByteReader r(input);
  const std::uint8_t ver = r.u8();
  if (!r.ok()) return need_more<SocksUserPassRequest>();
  if (ver != kSocksUserPassVersion) return malformed<SocksUserPassRequest>();
  const util::ByteView user = r.bytes(r.u8());
  const util::ByteView pass = r.bytes(r.u8());
  if (!r.ok()) return need_more<SocksUserPassRequest>();
  SocksUserPassRequest m;
  m.username.assign(user.begin(), user.end());
  m.password.assign(pass.begin(), pass.end());
  return complete(std::move(m), r);
}

SocksDecoded<SocksRequest> decode_socks_request(util::ByteView input) {
  util::ByteReader r(input);
  const std::uint8_t ver = r.u8();
  if (!r.ok()) return need_more<SocksRequest>();
  // Not SOCKS5 at all: a SOCKS5 reply would be noise to this peer, so just close.
  if (ver != kSocksVersion) return malformed<SocksRequest>();

  const std::uint8_t cmd = r.u8();
  if (!r.ok()) return need_more<SocksRequest>();
  if (!is_known_command(cmd)) return malformed<SocksRequest>(SocksReplyCode::kCommandNotSupported);

  // RSV must be zero, so that it cannot carry meaning a later version might read.
  const std::uint8_t rsv = r.u8();
  if (!r.ok()) return need_more<SocksRequest>();
  if (rsv != 0) return malformed<SocksRequest>(SocksReplyCode::kGeneralFailure);

  const std::uint8_t atyp = r.u8();
  if (!r.ok()) return need_more<SocksRequest>();

  SocksRequest m;
  m.command = static_cast<SocksCommand>(cmd);
  m.address_type = static_cast<SocksAddressType>(atyp);
  switch (m.address_type) {
    case SocksAddressType::kIpv4:
    case SocksAddressType::kIpv6: {
      const util::ByteView raw = r.bytes(m.address_type == SocksAddressType::kIpv4 ? 4 : 16);
      if (!r.ok()) return need_more<SocksRequest>();
      m.host = ip_text(raw);
      break;
    }
    case SocksAddressType::kDomain: {
      const std::uint8_t len = r.u8();
      if (!r.ok()) return need_more<SocksRequest>();
      if (len == 0) return malformed<SocksRequest>(SocksReplyCode::kGeneralFailure);
      const util::ByteView name = r.bytes(len);
      if (!r.ok()) return need_more<SocksRequest>();
      m.host.assign(name.begin(), name.end());
      if (!is_valid_socks_domain(m.host))
        return malformed<SocksRequest>(SocksReplyCode::kGeneralFailure);
      break;
    }
    default:
      return malformed<SocksRequest>(SocksReplyCode::kAddressTypeNotSupported);
  }

  m.port = r.u16();
  if (!r.ok()) return need_more<SocksRequest>();
  return complete(std::move(m), r);
}

bool is_valid_socks_domain(std::string_view name) {
  if (name.empty() || name.size() > kSocksMaxDomainSize) return false;
  // Control characters (NUL above all) would truncate or corrupt the name once it
  // reaches a C resolver, a log line or a terminal.
  return std::none_of(name.begin(), name.end(), [](char c) {
    const auto b = static_cast<std::uint8_t>(c);
    return b < 0x20 || b == 0x7f;
  });
}

}  // namespace punch::wire
