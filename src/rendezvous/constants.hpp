// Every number the rendezvous server's behaviour depends on, with its unit and
// the reason it has this value. docs/protocol.md is the normative text.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace punch::rendezvous {

/// How long a CHALLENGE cookie stays valid: a few round trips plus signing time,
/// short enough that a captured cookie is soon useless.
inline constexpr std::chrono::seconds kCookieLifetime{30};
/// Bytes of HMAC-SHA256 kept in a cookie; 128 bits is out of reach for guessing.
inline constexpr std::size_t kCookieMacSize = 16;
/// Bytes of the random HMAC key drawn when the server starts (a restart
/// invalidates outstanding cookies, which clients recover from by a new HELLO).
inline constexpr std::size_t kCookieSecretSize = 32;

/// A registration lives this long after its last REGISTER or KEEPALIVE: six
/// keepalive periods, so several lost keepalives in a row do not drop it.
inline constexpr std::chrono::seconds kRegistrationLifetime{90};
/// Keepalive period the server asks for in REGISTERED: well under the ~30 s after
/// which real NAT routers drop an idle UDP mapping.
inline constexpr std::chrono::seconds kKeepaliveInterval{15};
/// Upper bound on live registrations, so a flood of valid REGISTERs from many
/// addresses cannot exhaust memory (each one costs a signature and a cookie).
inline constexpr std::size_t kMaxRegistrations = 100'000;

/// A relay with no traffic (relayed or signalling) for this long is dropped; the
/// endpoints' own keepalives are far more frequent.
inline constexpr std::chrono::seconds kRelayIdleTimeout{120};
/// A relay the listener has not accepted within this long is dropped: connectors
/// give up after 10 s, and a short life keeps a registered attacker from holding
/// a listener's relay slots with CONNECTs it never completes.
inline constexpr std::chrono::seconds kPendingRelayTimeout{15};
/// Relays (pending or active, either role) one registration may hold.
inline constexpr std::size_t kMaxRelaysPerRegistration = 64;

/// Sustained control messages per second allowed from one source address.
inline constexpr std::uint32_t kControlRatePerSecond = 20;
/// Control messages one source may send back to back after being idle.
inline constexpr std::uint32_t kControlBurst = 40;
/// Sustained control messages per second from one host (an IPv4 address or an IPv6
/// /64: host_key.hpp), whatever its ports: rotating source ports or IPv6 interface
/// IDs must not multiply the per-source budget. Checked before the per-source
/// limit, so a refused host creates no per-port state. Loose,
/// because one carrier-grade NAT address can front thousands of clients (200/s
/// is ~3,000 clients keeping alive every 15 s).
inline constexpr std::uint32_t kControlRatePerHost = 200;
/// Burst for the per-host bucket.
inline constexpr std::uint32_t kControlHostBurst = 400;
/// Source addresses whose rate state is kept at once; beyond it new sources are
/// refused until idle ones are swept, which bounds memory under spoofed floods.
inline constexpr std::size_t kMaxRateLimitedSources = 65'536;
/// Minimum time between two sweeps of idle rate state, so a flood of new sources
/// cannot make every datagram pay for a full scan.
inline constexpr std::chrono::seconds kRateSweepInterval{1};

/// Signature checks that may fail per host (IPv4 address or IPv6 /64): one per this
/// interval. A check is charged up front and refunded when the signature is good,
/// so honest clients, whose signatures never fail, are not limited by it; a host
/// sending bad signatures costs one ECDSA verification (~1.5 ms) per 5 s, 0.03 %
/// of a core, and 64 such hosts 2 %.
inline constexpr std::chrono::seconds kSignatureFailureInterval{5};
/// Failed checks one host may have back to back: a client whose clock or key was
/// broken and is fixed is not locked out for long, and an attacker gains little.
inline constexpr std::uint32_t kSignatureFailureBurst = 2;
/// Failed signature checks per second on the whole server, whatever their source:
/// bounds the verification work of an attacker with more hosts than the per-host
/// budget was sized for (an IPv6 /48 is 65,536 /64s) at ~15 % of a core. While it
/// is exhausted new registrations wait (clients retry); registered peers, their
/// keepalives and relays do not depend on it.
inline constexpr std::uint32_t kSignatureFailuresPerSecond = 100;
/// Burst of the server-wide failure budget.
inline constexpr std::uint32_t kSignatureFailureServerBurst = 200;
/// Cookies remembered after their REGISTER was checked, until they expire
/// (kCookieLifetime): a cookie buys one signature check, so replaying a REGISTER
/// with a wrong signature costs a new HELLO round trip each time. 65,536 is more
/// than 30 s of checks at the ~700/s one core can do; while full, new REGISTERs
/// are dropped unchecked (a retransmitted REGISTER is still answered).
inline constexpr std::size_t kMaxSpentCookies = 65'536;

}  // namespace punch::rendezvous
