// Every tunable of direct-path discovery in one place, with its unit and the
// reason for its value (docs/direct_path.md explains the whole procedure).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "util/time.hpp"

namespace punch::path {

using namespace std::chrono_literals;

// --- Priming (../shared/LAB.md, trap 1) ---

/// TTL of priming packets: enough to leave our own NAT (which creates the mapping),
/// too little to reach the peer's NAT (whose conntrack would otherwise record our
/// packet as an inbound flow and push its own mapping onto another port).
inline constexpr int kPrimeTtl = 2;
/// Priming packets per candidate and round: two, so one lost on the LAN still primes.
inline constexpr int kPrimeCount = 2;
/// In the first round, full-TTL challenges to the peer's public side wait for its ROUND
/// frame (sent right after it primed towards us), but no longer than this: a peer
/// whose frame is lost still gets challenged.
inline constexpr util::Duration kPeerPrimingTimeout = 1s;

// --- Challenge rounds ---

/// Gaps between a round's challenges to one candidate (then the round ends): quick
/// first retries for lost challenges, then spaced for a peer that starts its round late.
inline constexpr util::Duration kChallengeGaps[] = {100ms, 200ms, 400ms, 800ms};
/// A challenge is answered by then or counts as lost, even on the longest path.
inline constexpr util::Duration kChallengeAnswerTimeout = 3s;
/// A round whose peer never sent its ROUND ends after this (no full-TTL challenges were sent).
inline constexpr util::Duration kRoundTimeout = 3s;
/// First wait before a new round after one that validated nothing or after a fallback;
/// doubles up to kMaxQuickRoundBackoff, which covers short outages cheaply.
inline constexpr util::Duration kMinRoundBackoff = 1s;
/// Last of the quick waits between rounds (1, 2, 4, 8 s).
inline constexpr util::Duration kMaxQuickRoundBackoff = 8s;
/// Then rounds come this far apart: longer than Linux's 30 s conntrack timeout for
/// unreplied flows, so what a failed round left in the routers (a knock that became a
/// local entry, a mapping pushed onto another port by it: LAB.md trap 1) has expired
/// when the next round primes. After a NAT rebinding that is what lets the path return.
inline constexpr util::Duration kSlowRoundInterval = 35s;
/// Remote candidates kept at most (host + reflexive from the peer, plus peer-reflexive
/// ones learnt from packets); bounds the challenges a peer can make us send.
inline constexpr std::size_t kMaxRemoteCandidates = 24;

// --- Strategy (docs/direct_path.md, "Strategy") ---

/// When our own mapping is endpoint-dependent (or a pool), the first challenge round waits
/// this long at most for the peer's CANDIDATES, whose mapping byte says whether
/// challenges can work at all. Covers the frame and two resends (250 ms, 500 ms) on a slow relay;
/// a peer that stays silent is challenged as before.
inline constexpr util::Duration kStrategyHold = 2s;

// --- Birthday paradox (docs/birthday.md) ---

/// Sockets the side behind a hard NAT opens, each getting its own random outside port
/// towards the peer. With the peer guessing 1,024 ports out of ~64,500 the chance that
/// one guess hits is 1 - (1 - 256/64512)^1024, about 98 % (the essay's figure); more
/// sockets cost descriptors and a burst of priming packets for little gain.
inline constexpr std::size_t kBirthdaySockets = 256;
/// Guesses per second, at most, across all sessions of one process. Gaps are drawn
/// from [1/rate, 2/rate], so 100-200 per second by default: a few tens of kbit/s, far
/// below what trips flood protection, and 2,048 guesses fit in 10-20 s, inside the
/// ~30 s a hard NAT keeps an unanswered mapping.
inline constexpr std::uint32_t kBirthdayRate = 200;
/// Guesses per round, then the round ends and the next waits kSlowRoundInterval:
/// 2,048 guesses against 256 sockets succeed with 1 - e^-8 (over 99.9 %), so a round
/// that failed points at something else (a NAT that filters by address, a port range
/// we do not guess), not at bad luck, and repeating it at once would not help.
inline constexpr std::uint32_t kBirthdayGuesses = 2048;
/// The hard side primes its sockets towards this many of the peer's public addresses at
/// most (one, normally: its reflexive address): every target costs a packet per socket.
inline constexpr std::size_t kBirthdayMaxTargets = 2;
/// Guessed ports: 1024-65535, where NATs allocate (Linux's masquerade takes any port
/// from 1024 up for a source port above 1023).
inline constexpr std::uint16_t kBirthdayFirstPort = 1024;

// --- Candidate exchange (through the relay) ---

/// First resend of an unacknowledged CANDIDATES frame; doubles up to kMaxCandidatesResend.
inline constexpr util::Duration kCandidatesResend = 250ms;
/// Longest gap between resends of an unacknowledged CANDIDATES frame.
inline constexpr util::Duration kMaxCandidatesResend = 8s;

// --- Using a direct path ---

/// A validated path replaces the current one of the same class only when its RTT is
/// below this share of the current RTT (hysteresis: no flapping between near equals).
inline constexpr double kSwitchRttRatio = 0.75;
/// A direct path whose expected answers stay away this long is dead (at least; see
/// kDeadRttFactor). The peer that only receives notices one such period after the
/// sender fell back (its packets then come through the relay), so both ends are back
/// on the relay within two periods: 1.6 s, well within the 3 s goal, and still many
/// times the ACK delay (25 ms) on paths up to ~200 ms RTT.
inline constexpr util::Duration kMinDeadTimeout = 800ms;
/// ... or this many RTTs of the path plus kDeadSlack, if longer.
inline constexpr int kDeadRttFactor = 3;
/// ACK delay and jitter allowance in the dead timeout.
inline constexpr util::Duration kDeadSlack = 200ms;
/// A direct path that carried nothing expecting an answer for this long gets a challenge:
/// real NAT mappings die near 30 s, Linux's conntrack after 30 s unreplied / 120 s stream.
inline constexpr util::Duration kDirectKeepalive = 15s;
/// One challenge goes over a new direct path this long after the switch: Linux conntrack
/// keeps a UDP flow on its short unreplied timeout (30 s by default, 10 s in the lab's
/// lifetime test) unless a packet passes more than 2 s after the flow was created; then
/// the stream timeout (120 s, or 20 s) applies. The round's challenges come in the first 2 s.
inline constexpr util::Duration kStreamPromotionDelay = 3s;
/// While on a direct path the relay leg gets a challenge this often: the rendezvous
/// forgets a silent relay after 120 s, and falling back needs it alive.
inline constexpr util::Duration kRelayKeepalive = 30s;

// --- punch netcheck (docs/netcheck.md) ---

/// First retransmission of an unanswered address probe: far above any sane RTT to a
/// rendezvous on the same continent, so a slow answer is rarely sent for twice.
inline constexpr util::Duration kNetcheckFirstRetry = 250ms;
/// Longest gap between two address probes to one destination (the retry gap doubles up to it).
inline constexpr util::Duration kNetcheckMaxRetry = 1s;
/// The whole check gives up after this long: unanswered address probes leave at 0, 0.25, 0.75,
/// 1.75 and 2.75 s (five per destination, at most), the first four have over a second
/// to come back, and a blocked network is reported within a short, fixed time.
inline constexpr util::Duration kNetcheckTimeout = 3s;

}  // namespace punch::path
