// This host's own interface addresses, the "host candidates" that hole punching
// offers the peer next to the address the rendezvous server sees.
#pragma once

#include <vector>

#include "util/address.hpp"

namespace punch::io {

/// True if `a` may be offered to a peer as a host candidate: false for an invalid
/// address, unspecified (0.0.0.0, ::), loopback (127.0.0.0/8, ::1), and link-local
/// (169.254.0.0/16, fe80::/10) addresses; the port is ignored.
bool is_candidate_address(const util::Address& a);

/// The addresses of this host's non-internal interfaces of `family` (AF_INET or
/// AF_INET6) that pass is_candidate_address, with port 0, sorted and without
/// duplicates; empty if the interfaces cannot be listed.
std::vector<util::Address> host_addresses(int family);

/// The local IP the kernel would send from towards `to` (port 0), found by
/// connecting a throwaway UDP socket (nothing is sent); an empty Address if the
/// kernel has no route there.
util::Address source_address_towards(const util::Address& to);

}  // namespace punch::io
