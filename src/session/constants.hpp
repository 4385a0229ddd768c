// Limits of the endpoint core that bound what others can make it hold or send, with
// their unit and the reason for their value (docs/security.md lists them all).
#pragma once

#include <chrono>
#include <cstdint>

#include "util/time.hpp"

namespace punch::session {

using namespace std::chrono_literals;

/// A session not established this long after it started ends ("handshake timed out").
/// A listener's session starts when it accepts an invitation; the connector hears of
/// the acceptance one relayed round trip later and its DTLS flights are retransmitted
/// 0.4 s doubling to 6.4 s, so a handshake whose flights were each lost several times
/// is still done within about 15 s. Without this, an invitation that no handshake
/// follows (a connector that vanished, or one forged by the rendezvous) would hold a
/// session, about 40 KB with its DTLS buffers, for ever (docs/crypto.md: a DTLS server
/// has no deadline of its own before the first ClientHello).
inline constexpr util::Duration kHandshakeTimeout = 20s;

/// REFUSEs a listener sends the rendezvous per second at most, and in a burst. The
/// rendezvous drops control messages beyond 20/s (burst 40) from one source; a flood
/// of unwanted invitations answered one for one would crowd our own ACCEPTs and
/// KEEPALIVEs out of that budget, and an allowed peer would be locked out. Half of the
/// budget stays for them. A refusal over the limit is not sent: the rendezvous drops
/// the unanswered invitation after 15 s or when a newer one needs its slot, and a
/// connector that retransmits its CONNECT gets our answer then, if the budget allows.
inline constexpr std::uint32_t kRefuseRatePerSecond = 10;
/// Burst of the REFUSE budget: a few refusals at once go out at once.
inline constexpr std::uint32_t kRefuseBurst = 10;

}  // namespace punch::session
