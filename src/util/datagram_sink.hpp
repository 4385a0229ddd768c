// Where a sans-I/O core puts the datagrams it wants sent. The I/O layer (or the
// simulator) implements it; an implementation must never call back into the core
// from send(), so the core's state is consistent whenever it emits.
#pragma once

#include "util/address.hpp"
#include "util/bytes.hpp"

namespace punch::util {

/// Receives outgoing datagrams from a core.
class DatagramSink {
 public:
  virtual ~DatagramSink() = default;
  /// Queues `data` for sending to `to`; the bytes are copied before returning.
  virtual void send(const Address& to, ByteView data) = 0;
  /// Like send(), with the IP TTL (IPv6 hop limit) set to `ttl` for this datagram only.
  /// Hole punching primes its own NAT with packets that die one hop beyond it
  /// (docs/direct_path.md); a sink that models no hops may send it as usual.
  virtual void send_with_ttl(const Address& to, ByteView data, int ttl) {
    static_cast<void>(ttl);
    send(to, data);
  }
};

}  // namespace punch::util
