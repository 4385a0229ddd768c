// Conversions between util::Address (what the cores use) and sockaddr (what the
// kernel and libuv use), plus blocking name resolution at start-up.
#pragma once

#include <sys/socket.h>

#include <string>

#include "util/address.hpp"
#include "util/result.hpp"

namespace punch::io {

/// Converts a kernel address; an empty Address for unsupported families.
util::Address from_sockaddr(const sockaddr* sa);
/// Fills `out` from `a`; returns the length to pass to the kernel.
socklen_t to_sockaddr(const util::Address& a, sockaddr_storage& out);
/// Resolves "HOST[:PORT]" (brackets for IPv6 literals) to one UDP address, using
/// `default_port` when none is given. Blocking: only for start-up.
util::Result<util::Address> resolve(const std::string& host_port, std::uint16_t default_port);

}  // namespace punch::io
