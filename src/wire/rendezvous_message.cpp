#include "wire/rendezvous_message.hpp"

#include <algorithm>
#include <cstring>

#include "util/assert.hpp"
#include "wire/packet_type.hpp"

namespace punch::wire {
namespace {

// Writes the type byte; every encoder starts with it.
void put_type(util::ByteWriter& w, PacketType t) { w.u8(static_cast<std::uint8_t>(t)); }

template <std::size_t N>
void put_array(util::ByteWriter& w, const std::array<std::uint8_t, N>& a) {
  w.bytes(util::ByteView(a.data(), a.size()));
}

void put_address(util::ByteWriter& w, const util::Address& a) {
  // An invalid address would encode as something our own decoder rejects: that is
  // a bug in the caller (addresses come from the I/O layer), not peer input.
  PUNCH_ASSERT(a.valid());
  a.encode(w);
}

void put_reason(util::ByteWriter& w, std::string_view reason) {
  const std::string cut = truncate_reason(reason);
  w.u8(static_cast<std::uint8_t>(cut.size()));
  w.bytes(util::as_bytes(cut));
}

// count(1) then the addresses: the probe address list of REGISTERED and PROBE_LIST.
void put_probe_addresses(util::ByteWriter& w, const std::vector<util::Address>& list) {
  PUNCH_ASSERT(list.size() <= kMaxProbeAddresses);
  w.u8(static_cast<std::uint8_t>(list.size()));
  for (const util::Address& a : list) {
    PUNCH_ASSERT(a.port != 0);
    put_address(w, a);
  }
}

// The count is peer input: bounded before anything is stored, so a message cannot
// make the client probe more than a handful of addresses.
std::vector<util::Address> get_probe_addresses(util::ByteReader& r) {
  std::vector<util::Address> list;
  const std::uint8_t count = r.u8();
  if (count > kMaxProbeAddresses) {
    r.fail();
    return {};
  }
  for (std::uint8_t i = 0; i < count && r.ok(); ++i) {
    const util::Address a = util::Address::decode(r);
    if (r.ok() && a.port == 0) r.fail();  // Nothing can be probed at port 0.
    list.push_back(a);
  }
  return r.ok() ? list : std::vector<util::Address>{};
}

template <std::size_t N>
std::array<std::uint8_t, N> get_array(util::ByteReader& r) {
  std::array<std::uint8_t, N> a{};
  const util::ByteView b = r.bytes(N);
  if (r.ok()) std::memcpy(a.data(), b.data(), N);
  return a;
}

crypto::NodeId get_node_id(util::ByteReader& r) {
  const util::ByteView b = r.bytes(crypto::NodeId::kSize);
  if (!r.ok()) return {};
  const auto id = crypto::NodeId::from_bytes(b);
  if (!id) {
    r.fail();
    return {};
  }
  return *id;
}

std::string get_reason(util::ByteReader& r) {
  const std::uint8_t len = r.u8();
  if (len > kMaxReasonSize) {
    r.fail();
    return {};
  }
  const util::ByteView b = r.bytes(len);
  if (!r.ok()) return {};
  std::string s(b.begin(), b.end());
  if (!is_valid_utf8(s)) {
    r.fail();
    return {};
  }
  return s;
}

// Starts a decoder: the reader is positioned after the type byte, or failed if
// the datagram does not start with `t`.
util::ByteReader open(util::ByteView datagram, PacketType t) {
  util::ByteReader r(datagram);
  if (r.u8() != static_cast<std::uint8_t>(t)) r.fail();
  return r;
}

// Finishes a decoder: the message counts only if every byte was consumed.
template <typename T>
std::optional<T> finish(const util::ByteReader& r, T&& m) {
  if (!r.done()) return std::nullopt;
  return std::optional<T>(std::forward<T>(m));
}

}  // namespace

void encode(const Hello& m, util::Bytes& out) {
  const std::size_t start = out.size();
  util::ByteWriter w(out);
  put_type(w, PacketType::kHello);
  w.u8(kRendezvousVersion);
  put_array(w, m.nonce);
  w.zeros(kHelloSize - (out.size() - start));
}

void encode(const Challenge& m, util::Bytes& out) {
  util::ByteWriter w(out);
  put_type(w, PacketType::kChallenge);
  put_array(w, m.nonce);
  put_array(w, m.cookie);
}

void encode(const Register& m, util::Bytes& out) {
  PUNCH_ASSERT(m.spki.size() <= 0xffff && m.signature.size() <= 0xffff);
  util::ByteWriter w(out);
  put_type(w, PacketType::kRegister);
  put_array(w, m.nonce);
  put_array(w, m.cookie);
  w.u64(m.instance);
  w.u8(m.flags);
  w.u16(static_cast<std::uint16_t>(m.spki.size()));
  w.bytes(m.spki);
  w.u16(static_cast<std::uint16_t>(m.signature.size()));
  w.bytes(m.signature);
}

void encode(const Registered& m, util::Bytes& out) {
  util::ByteWriter w(out);
  put_type(w, PacketType::kRegistered);
  w.u64(m.instance);
  put_array(w, m.token);
  w.u16(m.keepalive_s);
  put_probe_addresses(w, m.probe_addresses);
  put_address(w, m.reflexive);
}

void encode(const Keepalive& m, util::Bytes& out) {
  util::ByteWriter w(out);
  put_type(w, PacketType::kKeepalive);
  w.u64(m.instance);
  put_array(w, m.token);
}

void encode(const KeepaliveAck& m, util::Bytes& out) {
  util::ByteWriter w(out);
  put_type(w, PacketType::kKeepaliveAck);
  put_address(w, m.reflexive);
}

void encode(const Unknown& m, util::Bytes& out) {
  util::ByteWriter w(out);
  put_type(w, PacketType::kUnknown);
  w.u64(m.instance);
}

void encode(const Connect& m, util::Bytes& out) {
  util::ByteWriter w(out);
  put_type(w, PacketType::kConnect);
  w.u64(m.instance);
  put_array(w, m.token);
  w.u64(m.connection_id);
  w.bytes(m.target.bytes());
}

void encode(const Invite& m, util::Bytes& out) {
  util::ByteWriter w(out);
  put_type(w, PacketType::kInvite);
  w.u64(m.connection_id);
  w.bytes(m.connector.bytes());
  put_address(w, m.connector_address);
}

void encode(const Accept& m, util::Bytes& out) {
  util::ByteWriter w(out);
  put_type(w, PacketType::kAccept);
  w.u64(m.instance);
  put_array(w, m.token);
  w.u64(m.connection_id);
}

void encode(const Refuse& m, util::Bytes& out) {
  util::ByteWriter w(out);
  put_type(w, PacketType::kRefuse);
  w.u64(m.instance);
  put_array(w, m.token);
  w.u64(m.connection_id);
  put_reason(w, m.reason);
}

void encode(const ConnectOk& m, util::Bytes& out) {
  util::ByteWriter w(out);
  put_type(w, PacketType::kConnectOk);
  w.u64(m.connection_id);
  w.bytes(m.listener.bytes());
  put_address(w, m.listener_address);
}

void encode(const ConnectFail& m, util::Bytes& out) {
  util::ByteWriter w(out);
  put_type(w, PacketType::kConnectFail);
  w.u64(m.connection_id);
  w.u8(m.code);
  put_reason(w, m.reason);
}

void encode(const AddressProbe& m, util::Bytes& out) {
  const std::size_t start = out.size();
  util::ByteWriter w(out);
  put_type(w, PacketType::kAddressProbe);
  w.u8(kRendezvousVersion);
  put_array(w, m.nonce);
  w.zeros(kAddressProbeSize - (out.size() - start));
}

void encode(const AddressProbeReply& m, util::Bytes& out) {
  util::ByteWriter w(out);
  put_type(w, PacketType::kAddressProbeReply);
  put_array(w, m.nonce);
  put_address(w, m.observed);
}

void encode(const ProbeAddressListRequest& m, util::Bytes& out) {
  const std::size_t start = out.size();
  util::ByteWriter w(out);
  put_type(w, PacketType::kProbeAddressListRequest);
  w.u8(kRendezvousVersion);
  put_array(w, m.nonce);
  w.zeros(kProbeAddressListRequestSize - (out.size() - start));
}

void encode(const ProbeAddressList& m, util::Bytes& out) {
  util::ByteWriter w(out);
  put_type(w, PacketType::kProbeAddressList);
  put_array(w, m.nonce);
  put_probe_addresses(w, m.probe_addresses);
}

void encode_rendezvous_message(const RendezvousMessage& m, util::Bytes& out) {
  std::visit([&out](const auto& msg) { encode(msg, out); }, m);
}

namespace {

// Reads version and nonce of a padded request (HELLO, PROBE) of at least
// `min_size` bytes; the rest must be zeros, so that padding cannot smuggle data
// a later version might misread. Longer requests are fine: a larger request
// never amplifies.
std::optional<Nonce> decode_padded_request(util::ByteView datagram, PacketType t,
                                           std::size_t min_size) {
  util::ByteReader r = open(datagram, t);
  if (r.u8() != kRendezvousVersion) return std::nullopt;
  const Nonce nonce = get_array<8>(r);
  if (!r.ok() || datagram.size() < min_size) return std::nullopt;
  const util::ByteView pad = r.rest();
  if (!std::all_of(pad.begin(), pad.end(), [](std::uint8_t b) { return b == 0; }))
    return std::nullopt;
  if (!r.done()) return std::nullopt;
  return nonce;
}

}  // namespace

std::optional<Hello> decode_hello(util::ByteView datagram) {
  const auto nonce = decode_padded_request(datagram, PacketType::kHello, kHelloSize);
  if (!nonce) return std::nullopt;
  return Hello{*nonce};
}

std::optional<AddressProbe> decode_address_probe(util::ByteView datagram) {
  const auto nonce = decode_padded_request(datagram, PacketType::kAddressProbe, kAddressProbeSize);
  if (!nonce) return std::nullopt;
  return AddressProbe{*nonce};
}

std::optional<AddressProbeReply> decode_address_probe_reply(util::ByteView datagram) {
  util::ByteReader r = open(datagram, PacketType::kAddressProbeReply);
  AddressProbeReply m;
  m.nonce = get_array<8>(r);
  m.observed = util::Address::decode(r);
  return finish(r, std::move(m));
}

std::optional<ProbeAddressListRequest> decode_probe_address_list_request(util::ByteView datagram) {
  const auto nonce = decode_padded_request(datagram, PacketType::kProbeAddressListRequest,
                                           kProbeAddressListRequestSize);
  if (!nonce) return std::nullopt;
  return ProbeAddressListRequest{*nonce};
}

std::optional<ProbeAddressList> decode_probe_address_list(util::ByteView datagram) {
  util::ByteReader r = open(datagram, PacketType::kProbeAddressList);
  ProbeAddressList m;
  m.nonce = get_array<8>(r);
  m.probe_addresses = get_probe_addresses(r);
  return finish(r, std::move(m));
}

std::optional<Challenge> decode_challenge(util::ByteView datagram) {
  util::ByteReader r = open(datagram, PacketType::kChallenge);
  Challenge m;
  m.nonce = get_array<8>(r);
  m.cookie = get_array<20>(r);
  return finish(r, std::move(m));
}

std::optional<Register> decode_register(util::ByteView datagram) {
  util::ByteReader r = open(datagram, PacketType::kRegister);
  Register m;
  m.nonce = get_array<8>(r);
  m.cookie = get_array<20>(r);
  m.instance = r.u64();
  m.flags = r.u8();
  const util::ByteView spki = r.bytes(r.u16());
  const util::ByteView sig = r.bytes(r.u16());
  if (!r.ok()) return std::nullopt;
  m.spki.assign(spki.begin(), spki.end());
  m.signature.assign(sig.begin(), sig.end());
  return finish(r, std::move(m));
}

std::optional<Registered> decode_registered(util::ByteView datagram) {
  util::ByteReader r = open(datagram, PacketType::kRegistered);
  Registered m;
  m.instance = r.u64();
  m.token = get_array<16>(r);
  m.keepalive_s = r.u16();
  m.probe_addresses = get_probe_addresses(r);
  m.reflexive = util::Address::decode(r);
  return finish(r, std::move(m));
}

std::optional<Keepalive> decode_keepalive(util::ByteView datagram) {
  util::ByteReader r = open(datagram, PacketType::kKeepalive);
  Keepalive m;
  m.instance = r.u64();
  m.token = get_array<16>(r);
  return finish(r, std::move(m));
}

std::optional<KeepaliveAck> decode_keepalive_ack(util::ByteView datagram) {
  util::ByteReader r = open(datagram, PacketType::kKeepaliveAck);
  KeepaliveAck m;
  m.reflexive = util::Address::decode(r);
  return finish(r, std::move(m));
}

std::optional<Unknown> decode_unknown(util::ByteView datagram) {
  util::ByteReader r = open(datagram, PacketType::kUnknown);
  Unknown m;
  m.instance = r.u64();
  return finish(r, std::move(m));
}

std::optional<Connect> decode_connect(util::ByteView datagram) {
  util::ByteReader r = open(datagram, PacketType::kConnect);
  Connect m;
  m.instance = r.u64();
  m.token = get_array<16>(r);
  m.connection_id = r.u64();
  m.target = get_node_id(r);
  return finish(r, std::move(m));
}

std::optional<Invite> decode_invite(util::ByteView datagram) {
  util::ByteReader r = open(datagram, PacketType::kInvite);
  Invite m;
  m.connection_id = r.u64();
  m.connector = get_node_id(r);
  m.connector_address = util::Address::decode(r);
  return finish(r, std::move(m));
}

std::optional<Accept> decode_accept(util::ByteView datagram) {
  util::ByteReader r = open(datagram, PacketType::kAccept);
  Accept m;
  m.instance = r.u64();
  m.token = get_array<16>(r);
  m.connection_id = r.u64();
  return finish(r, std::move(m));
}

std::optional<Refuse> decode_refuse(util::ByteView datagram) {
  util::ByteReader r = open(datagram, PacketType::kRefuse);
  Refuse m;
  m.instance = r.u64();
  m.token = get_array<16>(r);
  m.connection_id = r.u64();
  m.reason = get_reason(r);
  return finish(r, std::move(m));
}

std::optional<ConnectOk> decode_connect_ok(util::ByteView datagram) {
  util::ByteReader r = open(datagram, PacketType::kConnectOk);
  ConnectOk m;
  m.connection_id = r.u64();
  m.listener = get_node_id(r);
  m.listener_address = util::Address::decode(r);
  return finish(r, std::move(m));
}

std::optional<ConnectFail> decode_connect_fail(util::ByteView datagram) {
  util::ByteReader r = open(datagram, PacketType::kConnectFail);
  ConnectFail m;
  m.connection_id = r.u64();
  m.code = r.u8();
  m.reason = get_reason(r);
  return finish(r, std::move(m));
}

namespace {

template <typename T>
std::optional<RendezvousMessage> widen(std::optional<T> m) {
  if (!m) return std::nullopt;
  return RendezvousMessage(std::move(*m));
}

}  // namespace

std::optional<RendezvousMessage> decode_rendezvous_message(util::ByteView datagram) {
  std::uint8_t type = 0;
  if (!peek_type(datagram.data(), datagram.size(), type)) return std::nullopt;
  switch (static_cast<PacketType>(type)) {
    case PacketType::kHello:
      return widen(decode_hello(datagram));
    case PacketType::kChallenge:
      return widen(decode_challenge(datagram));
    case PacketType::kRegister:
      return widen(decode_register(datagram));
    case PacketType::kRegistered:
      return widen(decode_registered(datagram));
    case PacketType::kKeepalive:
      return widen(decode_keepalive(datagram));
    case PacketType::kKeepaliveAck:
      return widen(decode_keepalive_ack(datagram));
    case PacketType::kUnknown:
      return widen(decode_unknown(datagram));
    case PacketType::kConnect:
      return widen(decode_connect(datagram));
    case PacketType::kInvite:
      return widen(decode_invite(datagram));
    case PacketType::kAccept:
      return widen(decode_accept(datagram));
    case PacketType::kRefuse:
      return widen(decode_refuse(datagram));
    case PacketType::kConnectOk:
      return widen(decode_connect_ok(datagram));
    case PacketType::kConnectFail:
      return widen(decode_connect_fail(datagram));
    case PacketType::kAddressProbe:
      return widen(decode_address_probe(datagram));
    case PacketType::kAddressProbeReply:
      return widen(decode_address_probe_reply(datagram));
    case PacketType::kProbeAddressListRequest:
      return widen(decode_probe_address_list_request(datagram));
    case PacketType::kProbeAddressList:
      return widen(decode_probe_address_list(datagram));
    default:
      return std::nullopt;
  }
}

void append_register_signed_data(const Nonce& nonce, const Cookie& cookie, std::uint64_t instance,
                                 std::uint8_t flags, util::Bytes& out) {
  util::ByteWriter w(out);
  w.bytes(util::as_bytes(kRegisterSignatureContext));
  put_array(w, nonce);
  put_array(w, cookie);
  w.u64(instance);
  w.u8(flags);
}

std::string truncate_reason(std::string_view reason) {
  if (reason.size() <= kMaxReasonSize) return std::string(reason);
  std::size_t n = kMaxReasonSize;
  // Back off over continuation bytes (10xxxxxx) so the cut lands on a character start.
  while (n > 0 && (static_cast<std::uint8_t>(reason[n]) & 0xc0) == 0x80) --n;
  return std::string(reason.substr(0, n));
}

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<std::uint8_t>(text[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1fu, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0fu, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07u, min = 0x10000;
    } else {
      return false;
    }
    if (text.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<std::uint8_t>(text[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

}  // namespace punch::wire
