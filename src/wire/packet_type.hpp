// The first byte of every punch datagram says what it is. Everything shares one
// UDP socket (ARCHITECTURE.md decision 1), so this is how it is demultiplexed.
#pragma once

#include <cstdint>

namespace punch::wire {

/// Datagram types. 0x01-0x1f: rendezvous control; 0x20-0x2f: session packets.
enum class PacketType : std::uint8_t {
  kHello = 0x01,              ///< client -> rv: start registration (padded, see kHelloSize)
  kChallenge = 0x02,          ///< rv -> client: stateless cookie proving return routability
  kRegister = 0x03,           ///< client -> rv: public key + signature over the cookie
  kRegistered = 0x04,         ///< rv -> client: token, reflexive address, keepalive period
  kKeepalive = 0x05,          ///< client -> rv: refreshes a registration
  kKeepaliveAck = 0x06,       ///< rv -> client: reflexive address
  kUnknown = 0x07,            ///< rv -> client: that registration does not exist (re-register)
  kConnect = 0x08,            ///< connector -> rv: please introduce me to a listener ID
  kInvite = 0x09,             ///< rv -> listener: a connector wants a session
  kAccept = 0x0a,             ///< listener -> rv: yes, relay that session
  kRefuse = 0x0b,             ///< listener -> rv: no, with a reason
  kConnectOk = 0x0c,          ///< rv -> connector: relay is set up
  kConnectFail = 0x0d,        ///< rv -> connector: unknown peer, refused, or limit
  kAddressProbe = 0x0e,       ///< anyone -> rv: what address do you see me at? (padded)
  kAddressProbeReply = 0x0f,  ///< rv -> prober: the nonce and the address seen, never larger
  kProbeAddressListRequest = 0x10,  ///< anyone -> rv: where else do you answer probes? (padded)
  kProbeAddressList = 0x11,  ///< rv -> asker: the nonce and the probe addresses, never larger
  kSession = 0x20,           ///< endpoint <-> endpoint, relayed as-is or sent direct
};

/// Reads the type byte without validating the rest; false for an empty datagram.
inline bool peek_type(const std::uint8_t* data, std::size_t size, std::uint8_t& type) {
  if (size == 0) return false;
  type = data[0];
  return true;
}

}  // namespace punch::wire
