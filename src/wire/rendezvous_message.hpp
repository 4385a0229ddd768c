// Rendezvous control messages (docs/protocol.md, types 0x01-0x11): one plain
// struct per message, stateless encoders that append to a buffer, and decoders
// that read peer input through util::ByteReader and reject anything that is not
// exactly one well-formed message (no trailing bytes; HELLO, PROBE and
// PROBE_LIST_REQUEST padding must be zero). The structs for PROBE and PROBE_REPLY are
// AddressProbe and AddressProbeReply, those for PROBE_LIST_REQUEST and PROBE_LIST
// ProbeAddressListRequest and ProbeAddressList: "probe" alone also names the transport's
// PTO and MTU probes and BBR's ProbeRTT; a probe address is where the rendezvous
// answers address probes (its probe port, --probe-address sockets).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crypto/node_id.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"

namespace punch::wire {

/// Protocol version carried in HELLO.
inline constexpr std::uint8_t kRendezvousVersion = 1;
/// Minimum (and encoded) size of a HELLO, so that the CHALLENGE answering it is smaller.
inline constexpr std::size_t kHelloSize = 64;
/// Size of a CHALLENGE datagram (type, nonce, cookie).
inline constexpr std::size_t kChallengeSize = 29;
/// Size of an UNKNOWN datagram (type, instance).
inline constexpr std::size_t kUnknownSize = 9;
/// Minimum (and encoded) size of a PROBE: it pays for the largest PROBE_REPLY.
inline constexpr std::size_t kAddressProbeSize = 64;
/// Largest PROBE_REPLY (type, nonce, IPv6 address), always smaller than kAddressProbeSize.
inline constexpr std::size_t kMaxAddressProbeReplySize = 1 + 8 + 19;
/// Most probe addresses in one REGISTERED: the probe port on the main IP plus up to 4
/// on other IPs of the rendezvous host (a Linux pool NAT needs other IPs to show, and
/// 4 more miss one with 4 pool addresses only 0.4 % of the time; docs/netcheck.md).
inline constexpr std::size_t kMaxProbeAddresses = 5;
/// Minimum (and encoded) size of a PROBE_LIST_REQUEST: it pays for the largest PROBE_LIST.
inline constexpr std::size_t kProbeAddressListRequestSize = 128;
/// Largest PROBE_LIST (type, nonce, count, kMaxProbeAddresses IPv6 addresses).
inline constexpr std::size_t kMaxProbeAddressListSize = 1 + 8 + 1 + kMaxProbeAddresses * 19;
/// Longest reason in REFUSE and CONNECT_FAIL, in bytes of UTF-8.
inline constexpr std::size_t kMaxReasonSize = 200;
/// REGISTER flags bit 0: this registration accepts connections.
inline constexpr std::uint8_t kRegisterFlagListener = 0x01;
/// Domain-separation prefix of the REGISTER signature.
inline constexpr std::string_view kRegisterSignatureContext = "punch-register-v1";

/// Client-chosen nonce echoed through the cookie.
using Nonce = std::array<std::uint8_t, 8>;
/// Stateless cookie: expiry(4) || truncated HMAC(16).
using Cookie = std::array<std::uint8_t, 20>;
/// Secret that authenticates every message of a registration after REGISTERED.
using Token = std::array<std::uint8_t, 16>;

/// CONNECT_FAIL codes.
enum class ConnectFailCode : std::uint8_t {
  kUnknownPeer = 1,  ///< No listener is registered under the target ID.
  kRefused = 2,      ///< The listener refused; the reason is the listener's.
  kLimit = 3,        ///< A relay limit of the connector or the listener was reached.
};

/// 0x01, client -> rv: starts a registration; padded to kHelloSize.
struct Hello {
  Nonce nonce{};
  friend bool operator==(const Hello&, const Hello&) = default;
};

/// 0x02, rv -> client: the cookie for `nonce`.
struct Challenge {
  Nonce nonce{};
  Cookie cookie{};
  friend bool operator==(const Challenge&, const Challenge&) = default;
};

/// 0x03, client -> rv: proves possession of the key behind `spki`.
struct Register {
  Nonce nonce{};
  Cookie cookie{};
  std::uint64_t instance = 0;
  std::uint8_t flags = 0;
  util::Bytes spki;       ///< DER SubjectPublicKeyInfo.
  util::Bytes signature;  ///< DER ECDSA-SHA256 over register_signed_data().
  friend bool operator==(const Register&, const Register&) = default;
};

/// 0x04, rv -> client: the registration is live.
struct Registered {
  std::uint64_t instance = 0;
  Token token{};
  std::uint16_t keepalive_s = 0;
  /// Where the rendezvous answers address probes besides its main port (at most
  /// kMaxProbeAddresses, none: no probing), so the client can learn its NAT's mapping
  /// behaviour by probing them (docs/netcheck.md). An all-zero IP stands for the IP the
  /// client sends REGISTER to: a rendezvous on a wildcard address does not know it.
  std::vector<util::Address> probe_addresses;
  util::Address reflexive;
  friend bool operator==(const Registered&, const Registered&) = default;
};

/// 0x05, client -> rv: refreshes a registration (and moves it after NAT rebinding).
struct Keepalive {
  std::uint64_t instance = 0;
  Token token{};
  friend bool operator==(const Keepalive&, const Keepalive&) = default;
};

/// 0x06, rv -> client: answer to KEEPALIVE.
struct KeepaliveAck {
  util::Address reflexive;
  friend bool operator==(const KeepaliveAck&, const KeepaliveAck&) = default;
};

/// 0x07, rv -> client: no registration `instance` with that token; register again.
struct Unknown {
  std::uint64_t instance = 0;
  friend bool operator==(const Unknown&, const Unknown&) = default;
};

/// 0x08, connector -> rv: introduce me to `target` for session `connection_id`.
struct Connect {
  std::uint64_t instance = 0;
  Token token{};
  std::uint64_t connection_id = 0;
  crypto::NodeId target;
  friend bool operator==(const Connect&, const Connect&) = default;
};

/// 0x09, rv -> listener: `connector`, seen at `connector_address`, wants a session.
struct Invite {
  std::uint64_t connection_id = 0;
  crypto::NodeId connector;
  util::Address connector_address;
  friend bool operator==(const Invite&, const Invite&) = default;
};

/// 0x0a, listener -> rv: relay session `connection_id`.
struct Accept {
  std::uint64_t instance = 0;
  Token token{};
  std::uint64_t connection_id = 0;
  friend bool operator==(const Accept&, const Accept&) = default;
};

/// 0x0b, listener -> rv: do not; tell the connector `reason`.
struct Refuse {
  std::uint64_t instance = 0;
  Token token{};
  std::uint64_t connection_id = 0;
  std::string reason;  ///< UTF-8, at most kMaxReasonSize bytes.
  friend bool operator==(const Refuse&, const Refuse&) = default;
};

/// 0x0c, rv -> connector: the relay is up; `listener` was seen at `listener_address`.
struct ConnectOk {
  std::uint64_t connection_id = 0;
  crypto::NodeId listener;
  util::Address listener_address;
  friend bool operator==(const ConnectOk&, const ConnectOk&) = default;
};

/// 0x0d, rv -> connector: no relay; `code` is a ConnectFailCode (others are kept as-is).
struct ConnectFail {
  std::uint64_t connection_id = 0;
  std::uint8_t code = 0;
  std::string reason;  ///< UTF-8, at most kMaxReasonSize bytes.
  friend bool operator==(const ConnectFail&, const ConnectFail&) = default;
};

/// 0x0e PROBE, anyone -> rv: unauthenticated address probe; padded to kAddressProbeSize.
struct AddressProbe {
  Nonce nonce{};  ///< Random per probe: matches the reply and stops off-path forgery.
  friend bool operator==(const AddressProbe&, const AddressProbe&) = default;
};

/// 0x0f PROBE_REPLY, rv -> prober: the address probe's nonce and the source address the rendezvous
/// saw.
struct AddressProbeReply {
  Nonce nonce{};           ///< The nonce of the PROBE this answers.
  util::Address observed;  ///< The probe's source address (IP and port) as the rendezvous saw it.
  friend bool operator==(const AddressProbeReply&, const AddressProbeReply&) = default;
};

/// 0x10 PROBE_LIST_REQUEST, anyone -> rv main port: unauthenticated request for the probe
/// addresses, so that `punch netcheck` learns them without registering; padded to
/// kProbeAddressListRequestSize.
struct ProbeAddressListRequest {
  Nonce nonce{};  ///< Random per request: matches the answer.
  friend bool operator==(const ProbeAddressListRequest&, const ProbeAddressListRequest&) = default;
};

/// 0x11 PROBE_LIST, rv -> asker: the request's nonce and the probe addresses, as in REGISTERED.
struct ProbeAddressList {
  Nonce nonce{};  ///< The nonce of the PROBE_LIST_REQUEST this answers.
  /// At most kMaxProbeAddresses, each with a port; an all-zero IP is the asked IP.
  std::vector<util::Address> probe_addresses;
  friend bool operator==(const ProbeAddressList&, const ProbeAddressList&) = default;
};

/// Any rendezvous control message.
using RendezvousMessage =
    std::variant<Hello, Challenge, Register, Registered, Keepalive, KeepaliveAck, Unknown, Connect,
                 Invite, Accept, Refuse, ConnectOk, ConnectFail, AddressProbe, AddressProbeReply,
                 ProbeAddressListRequest, ProbeAddressList>;

/// Appends a HELLO padded to kHelloSize.
void encode(const Hello& m, util::Bytes& out);
/// Appends a CHALLENGE.
void encode(const Challenge& m, util::Bytes& out);
/// Appends a REGISTER; `spki` and `signature` must each be shorter than 64 KiB.
void encode(const Register& m, util::Bytes& out);
/// Appends a REGISTERED; `reflexive` and each probe address (with a port, at most
/// kMaxProbeAddresses) must be valid.
void encode(const Registered& m, util::Bytes& out);
/// Appends a KEEPALIVE.
void encode(const Keepalive& m, util::Bytes& out);
/// Appends a KEEPALIVE_ACK; `reflexive` must be a valid address.
void encode(const KeepaliveAck& m, util::Bytes& out);
/// Appends an UNKNOWN.
void encode(const Unknown& m, util::Bytes& out);
/// Appends a CONNECT.
void encode(const Connect& m, util::Bytes& out);
/// Appends an INVITE; `connector_address` must be a valid address.
void encode(const Invite& m, util::Bytes& out);
/// Appends an ACCEPT.
void encode(const Accept& m, util::Bytes& out);
/// Appends a REFUSE; a reason longer than kMaxReasonSize is cut by truncate_reason().
void encode(const Refuse& m, util::Bytes& out);
/// Appends a CONNECT_OK; `listener_address` must be a valid address.
void encode(const ConnectOk& m, util::Bytes& out);
/// Appends a CONNECT_FAIL; a reason longer than kMaxReasonSize is cut by truncate_reason().
void encode(const ConnectFail& m, util::Bytes& out);
/// Appends a PROBE padded to kAddressProbeSize.
void encode(const AddressProbe& m, util::Bytes& out);
/// Appends a PROBE_REPLY; `observed` must be a valid address.
void encode(const AddressProbeReply& m, util::Bytes& out);
/// Appends a PROBE_LIST_REQUEST padded to kProbeAddressListRequestSize.
void encode(const ProbeAddressListRequest& m, util::Bytes& out);
/// Appends a PROBE_LIST; at most kMaxProbeAddresses valid addresses, each with a port.
void encode(const ProbeAddressList& m, util::Bytes& out);
/// Appends whichever message `m` holds.
void encode_rendezvous_message(const RendezvousMessage& m, util::Bytes& out);

/// Decodes one datagram; nullopt if it is not exactly one well-formed control message.
std::optional<RendezvousMessage> decode_rendezvous_message(util::ByteView datagram);

/// Decodes a HELLO (at least kHelloSize bytes, version 1, zero padding); nullopt otherwise.
std::optional<Hello> decode_hello(util::ByteView datagram);
/// Decodes a CHALLENGE; nullopt if malformed.
std::optional<Challenge> decode_challenge(util::ByteView datagram);
/// Decodes a REGISTER; nullopt if malformed (the signature is not checked here).
std::optional<Register> decode_register(util::ByteView datagram);
/// Decodes a REGISTERED; nullopt if malformed, with more than kMaxProbeAddresses probe
/// addresses or one with port 0.
std::optional<Registered> decode_registered(util::ByteView datagram);
/// Decodes a KEEPALIVE; nullopt if malformed.
std::optional<Keepalive> decode_keepalive(util::ByteView datagram);
/// Decodes a KEEPALIVE_ACK; nullopt if malformed.
std::optional<KeepaliveAck> decode_keepalive_ack(util::ByteView datagram);
/// Decodes an UNKNOWN; nullopt if malformed.
std::optional<Unknown> decode_unknown(util::ByteView datagram);
/// Decodes a CONNECT; nullopt if malformed.
std::optional<Connect> decode_connect(util::ByteView datagram);
/// Decodes an INVITE; nullopt if malformed.
std::optional<Invite> decode_invite(util::ByteView datagram);
/// Decodes an ACCEPT; nullopt if malformed.
std::optional<Accept> decode_accept(util::ByteView datagram);
/// Decodes a REFUSE; nullopt if malformed, reason too long or not UTF-8.
std::optional<Refuse> decode_refuse(util::ByteView datagram);
/// Decodes a CONNECT_OK; nullopt if malformed.
std::optional<ConnectOk> decode_connect_ok(util::ByteView datagram);
/// Decodes a CONNECT_FAIL; nullopt if malformed, reason too long or not UTF-8.
std::optional<ConnectFail> decode_connect_fail(util::ByteView datagram);
/// Decodes a PROBE (at least kAddressProbeSize bytes, version 1, zero padding); nullopt otherwise.
std::optional<AddressProbe> decode_address_probe(util::ByteView datagram);
/// Decodes a PROBE_REPLY; nullopt if malformed.
std::optional<AddressProbeReply> decode_address_probe_reply(util::ByteView datagram);

/// Decodes a PROBE_LIST_REQUEST (at least kProbeAddressListRequestSize bytes, version 1, zero
/// padding); nullopt otherwise.
std::optional<ProbeAddressListRequest> decode_probe_address_list_request(util::ByteView datagram);
/// Decodes a PROBE_LIST; nullopt if malformed, with more than kMaxProbeAddresses
/// addresses or one with port 0.
std::optional<ProbeAddressList> decode_probe_address_list(util::ByteView datagram);

/// Appends the bytes a REGISTER signs: context || nonce || cookie || instance || flags.
void append_register_signed_data(const Nonce& nonce, const Cookie& cookie, std::uint64_t instance,
                                 std::uint8_t flags, util::Bytes& out);
/// Cuts `reason` to at most kMaxReasonSize bytes without splitting a UTF-8 sequence.
std::string truncate_reason(std::string_view reason);
/// True when `text` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool is_valid_utf8(std::string_view text);

}  // namespace punch::wire
