// Limits of forwarded connections and of the SOCKS5 proxy's password check, with the
// reason for each value (docs/security.md lists them for users).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "util/time.hpp"

namespace punch::forward {

using namespace std::chrono_literals;

// --- Forwarded connections ---

/// How long a new forwarded connection may wait for the peer's stream credit before it
/// is refused (SOCKS5 "general failure", or a TCP reset for -L and -R). The credit
/// grows within a round trip while the peer is below its ceiling, so a wait this long
/// means the ceiling is reached; 10 s is well inside the 20-75 s connect timeouts of
/// common clients, which then report an error rather than hang.
inline constexpr util::Duration kStreamCreditWait = 10s;
/// Forwarded connections are checked against their deadlines at most this often, so
/// thousands of connections with deadlines cost one pass a second, not one timer each.
inline constexpr util::Duration kDeadlineCheckInterval = 1s;
/// Longest --idle-timeout: beyond a month a timeout stands for "off" anyway, and the
/// bound keeps the deadline arithmetic far from overflow.
inline constexpr util::Duration kMaxIdleTimeout = std::chrono::hours(24 * 30);

// --- SOCKS5 username/password guessing (RFC 1929) ---

/// Delay before a client's next password check after its first failure; it doubles with
/// each further failure. A user who mistyped once hardly notices 100 ms.
inline constexpr util::Duration kAuthBackoffBase = 100ms;
/// The delay stops doubling here: at most one guess per 10 s per client (8,640 a day,
/// against 14,394 a second without backoff), while a legitimate client that shares the
/// address still gets a check within 10 s.
inline constexpr util::Duration kAuthBackoffMax = 10s;
/// A client's failures are forgotten this long after its last one (a later typo starts
/// again at kAuthBackoffBase).
inline constexpr util::Duration kAuthBackoffForget = 10min;
/// Clients (IPv4 addresses or IPv6 /64 prefixes) remembered at once; when full, the one
/// whose delay ends soonest is forgotten first; 4,096 entries take a few hundred KB.
inline constexpr std::size_t kAuthBackoffClients = 4096;
/// Bytes a client may send while its password check waits (the request and early payload
/// it pipelines); more closes the connection. The proxy keeps reading meanwhile, so that a
/// client that gives up is forgotten at once rather than holding a place in the queue.
inline constexpr std::size_t kSocksMaxDeferredInput = 64 * 1024;
/// Leading bits of an IPv6 client address that name one client: a /64 is what one host
/// or subscriber usually gets, so rotating addresses within it earns no fresh tries.
inline constexpr unsigned kAuthBackoffIpv6PrefixBits = 64;

}  // namespace punch::forward
