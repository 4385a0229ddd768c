// The unit per-host limits count by (docs/security.md, "Per-host accounting"): an
// IPv4 address, or an IPv6 /64, since one IPv6 host is routinely given a whole /64
// and can pick any of its 2^64 addresses for each datagram.
#pragma once

#include "util/address.hpp"

namespace punch::rendezvous {

/// `from` reduced to the host it counts as: port 0, and for IPv6 the last 64 bits
/// zeroed (IPv4-mapped IPv6 addresses stay whole, as the IPv4 address they are).
util::Address host_key(const util::Address& from);

}  // namespace punch::rendezvous
