// SOCKS5 (RFC 1928) and its username/password sub-negotiation (RFC 1929): one
// plain struct per message, stateless encoders that append to a buffer, and
// decoders over bytes read so far from a TCP stream. Because TCP delivers a
// message in pieces, every decoder tells apart a complete message (and how many
// bytes it used, leaving pipelined bytes after it alone), a proper prefix (read
// more) and input that can never become valid (with the reply to send, if any).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/address.hpp"
#include "util/bytes.hpp"

namespace punch::wire {

/// VER of every RFC 1928 message.
inline constexpr std::uint8_t kSocksVersion = 5;
/// VER of the RFC 1929 username/password sub-negotiation.
inline constexpr std::uint8_t kSocksUserPassVersion = 1;
/// Longest DOMAINNAME, in bytes: its length travels in one byte.
inline constexpr std::size_t kSocksMaxDomainSize = 255;
/// Largest greeting (VER, NMETHODS = 255, 255 methods), so a server never buffers more.
inline constexpr std::size_t kSocksMaxGreetingSize = 2 + 255;
/// Largest username/password request (VER, ULEN, 255 bytes, PLEN, 255 bytes).
inline constexpr std::size_t kSocksMaxUserPassRequestSize = 3 + 255 + 255;
/// Largest request (VER, CMD, RSV, ATYP, length byte, 255-byte name, port).
inline constexpr std::size_t kSocksMaxRequestSize = 4 + 1 + kSocksMaxDomainSize + 2;
/// RFC 1929 STATUS meaning success; any other value is a failure.
inline constexpr std::uint8_t kSocksAuthSuccess = 0x00;
/// RFC 1929 STATUS this codec suggests for a failure (any non-zero value is one).
inline constexpr std::uint8_t kSocksAuthFailure = 0x01;

/// Authentication methods (RFC 1928 section 3); other values are kept as-is.
enum class SocksMethod : std::uint8_t {
  kNoAuth = 0x00,        ///< No authentication required.
  kGssapi = 0x01,        ///< GSSAPI (RFC 1961).
  kUserPass = 0x02,      ///< Username/password (RFC 1929).
  kNoAcceptable = 0xff,  ///< Server reply only: none of the offered methods is acceptable.
};

/// Request commands (RFC 1928 section 4); the decoder rejects any other value.
enum class SocksCommand : std::uint8_t {
  kConnect = 0x01,       ///< Open a TCP connection to the target.
  kBind = 0x02,          ///< Accept one inbound TCP connection for the client.
  kUdpAssociate = 0x03,  ///< Relay UDP datagrams for the client.
};

/// Address types (RFC 1928 section 5); the decoder rejects any other value.
enum class SocksAddressType : std::uint8_t {
  kIpv4 = 0x01,    ///< Four bytes, network order.
  kDomain = 0x03,  ///< One length byte, then that many bytes of name.
  kIpv6 = 0x04,    ///< Sixteen bytes, network order.
};

/// Reply codes (RFC 1928 section 6, REP field).
enum class SocksReplyCode : std::uint8_t {
  kSucceeded = 0x00,                ///< The request was granted.
  kGeneralFailure = 0x01,           ///< General SOCKS server failure (also: malformed request).
  kNotAllowed = 0x02,               ///< Connection not allowed by ruleset.
  kNetworkUnreachable = 0x03,       ///< Network unreachable.
  kHostUnreachable = 0x04,          ///< Host unreachable (also: name did not resolve).
  kConnectionRefused = 0x05,        ///< Connection refused by the target.
  kTtlExpired = 0x06,               ///< TTL expired (also: connect timed out).
  kCommandNotSupported = 0x07,      ///< CMD is not one this server carries out.
  kAddressTypeNotSupported = 0x08,  ///< ATYP is not IPv4, DOMAINNAME or IPv6.
};

/// Client -> server, first message: the methods the client offers, in its order.
struct SocksGreeting {
  std::vector<SocksMethod> methods;  ///< At most 255; may be empty (the server then answers 0xff).
  /// True when the client offers `method`.
  bool offers(SocksMethod method) const;
  friend bool operator==(const SocksGreeting&, const SocksGreeting&) = default;
};

/// Server -> client: the chosen method, or kNoAcceptable before closing.
struct SocksMethodSelection {
  SocksMethod method = SocksMethod::kNoAcceptable;
  friend bool operator==(const SocksMethodSelection&, const SocksMethodSelection&) = default;
};

/// Client -> server (RFC 1929): credentials as raw bytes, each at most 255 and possibly empty.
struct SocksUserPassRequest {
  std::string username;
  std::string password;
  friend bool operator==(const SocksUserPassRequest&, const SocksUserPassRequest&) = default;
};

/// Server -> client (RFC 1929): kSocksAuthSuccess, or any non-zero status before closing.
struct SocksUserPassReply {
  std::uint8_t status = kSocksAuthFailure;
  friend bool operator==(const SocksUserPassReply&, const SocksUserPassReply&) = default;
};

/// Client -> server: what to do and where to.
struct SocksRequest {
  SocksCommand command = SocksCommand::kConnect;
  /// How `host` travelled: as 4 bytes, as a name, or as 16 bytes.
  SocksAddressType address_type = SocksAddressType::kIpv4;
  /// "192.0.2.1", "2001:db8::1" (no brackets) or the name exactly as sent.
  std::string host;
  /// Port, host order.
  std::uint16_t port = 0;
  friend bool operator==(const SocksRequest&, const SocksRequest&) = default;
};

/// Server -> client: the outcome of a request and the server-side address bound for it.
struct SocksReply {
  SocksReplyCode code = SocksReplyCode::kGeneralFailure;
  /// BND.ADDR and BND.PORT; an empty (invalid) address is sent as 0.0.0.0:0.
  util::Address bound;
  friend bool operator==(const SocksReply&, const SocksReply&) = default;
};

/// What a decoder made of the bytes received so far.
enum class SocksDecodeStatus : std::uint8_t {
  kComplete,   ///< One whole message decoded; it used the first `consumed` bytes.
  kNeedMore,   ///< The bytes are a proper prefix of a valid message; call again with more.
  kMalformed,  ///< No continuation can make this valid; send `reply` if set, then close.
};

/// Result of a decoder: status, the message when complete, its length, and the reply to a fault.
template <typename T>
struct SocksDecoded {
  SocksDecodeStatus status = SocksDecodeStatus::kNeedMore;
  /// The decoded message; meaningful only when status is kComplete.
  T message{};
  /// Bytes the message occupies (the caller drops these, keeps the rest); 0 unless complete.
  std::size_t consumed = 0;
  /// For kMalformed requests: the reply code to send before closing; nullopt means just close.
  std::optional<SocksReplyCode> reply;

  /// True when status is kComplete.
  bool complete() const { return status == SocksDecodeStatus::kComplete; }
  /// True when status is kNeedMore.
  bool need_more() const { return status == SocksDecodeStatus::kNeedMore; }
  /// True when status is kMalformed.
  bool malformed() const { return status == SocksDecodeStatus::kMalformed; }
};

/// Appends a greeting; `m.methods` must hold at most 255 methods.
void encode(const SocksGreeting& m, util::Bytes& out);
/// Appends a method-selection reply (VER, METHOD).
void encode(const SocksMethodSelection& m, util::Bytes& out);
/// Appends a username/password request; username and password must each be at most 255 bytes.
void encode(const SocksUserPassRequest& m, util::Bytes& out);
/// Appends a username/password reply (VER 1, STATUS).
void encode(const SocksUserPassReply& m, util::Bytes& out);
/// Appends a request; `m.host` must fit `m.address_type` (an IP literal of that family, or a
/// name accepted by is_valid_socks_domain()).
void encode(const SocksRequest& m, util::Bytes& out);
/// Appends a reply with `m.bound` as ATYP IPv4 or IPv6 (0.0.0.0:0 when `m.bound` is empty).
void encode(const SocksReply& m, util::Bytes& out);

/// Decodes a greeting from the start of `input`; malformed (never with a reply) if VER is not 5.
SocksDecoded<SocksGreeting> decode_socks_greeting(util::ByteView input);
/// Decodes a username/password request from the start of `input`; malformed (never with a
/// reply) if VER is not 1.
SocksDecoded<SocksUserPassRequest> decode_socks_userpass_request(util::ByteView input);
/// Decodes a request from the start of `input`; malformed with no reply if VER is not 5, with
/// kCommandNotSupported for an unknown CMD, kAddressTypeNotSupported for an unknown ATYP, and
/// kGeneralFailure for a non-zero RSV or a name that fails is_valid_socks_domain().
SocksDecoded<SocksRequest> decode_socks_request(util::ByteView input);

/// True when `name` can travel as DOMAINNAME: 1 to 255 bytes, none a control character or DEL.
bool is_valid_socks_domain(std::string_view name);

}  // namespace punch::wire
