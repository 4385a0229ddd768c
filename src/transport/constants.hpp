// Every tunable of the transport in one place, with its unit and the reason for
// its value. Both ends run the same code, so the limits a QUIC peer would announce
// as transport parameters are fixed here for protocol version 1.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "util/time.hpp"

namespace punch::transport {

using namespace std::chrono_literals;

// --- Loss detection (RFC 9002, section 6) ---

/// Packets reordered past this many later acknowledged ones are lost (RFC 9002 6.1.1).
inline constexpr std::uint64_t kPacketThreshold = 3;
/// Time threshold numerator: lost when older than 9/8 of the RTT (RFC 9002 6.1.2).
inline constexpr std::int64_t kTimeThresholdNumerator = 9;
/// Time threshold denominator (see kTimeThresholdNumerator).
inline constexpr std::int64_t kTimeThresholdDenominator = 8;
/// Highest the packet threshold may adapt to after spurious losses (RFC 9002 6.1.1 lets it
/// grow with observed reordering); beyond 20 packets reordering is rare and loss likelier.
inline constexpr std::uint64_t kMaxPacketThreshold = 20;
/// Highest the time threshold numerator may adapt to after spurious losses: 16/8 = 2 RTTs,
/// the most RACK-style reordering windows allow before recovery gets too slow.
inline constexpr std::int64_t kMaxTimeThresholdNumerator = 16;
/// Smallest timer worth arming; below this timers are not precise (RFC 9002 6.1.2).
inline constexpr util::Duration kGranularity = 1ms;
/// RTT assumed before the first sample; RFC default, relays may be far away (RFC 9002 6.2.2).
inline constexpr util::Duration kInitialRtt = 333ms;
/// Probe packets sent when the PTO fires; two make one lost probe survivable (RFC 9002 6.2.4).
inline constexpr unsigned kPtoProbes = 2;
/// Cap on the PTO backoff exponent, so the period cannot overflow; idle timeout ends it first.
inline constexpr unsigned kMaxPtoBackoff = 10;
/// Longest PTO period backoff may reach (unless the RTT alone is longer): an outage that ends
/// is noticed within this, at a cost of two probes per period while it lasts (RFC 9002 leaves
/// the backoff unbounded; a tunnel over flaky paths cares more about resuming quickly).
inline constexpr util::Duration kMaxPtoPeriod = 1s;
/// Lost packets spanning this many PTO periods collapse the window (RFC 9002 7.6.1).
inline constexpr std::int64_t kPersistentCongestionThreshold = 3;

// --- Acknowledgements (RFC 9000, section 13.2) ---

/// Longest we hold back an ACK for an ack-eliciting packet; the peer assumes this too.
inline constexpr util::Duration kMaxAckDelay = 25ms;
/// ACK Delay field unit is 2^3 microseconds (RFC 9000 18.2 default).
inline constexpr unsigned kAckDelayExponent = 3;
/// Ack-eliciting packets received before an ACK goes out at once (RFC 9000 13.2.2).
inline constexpr std::uint64_t kPacketsBeforeAck = 2;
/// Ranges per ACK frame: enough for heavy loss, small enough (< 300 bytes) to always fit.
inline constexpr std::size_t kMaxAckRangesPerFrame = 32;
/// ACK-only packets in a row before one carries a PING: its acknowledgement tells us which
/// ranges the peer has seen, so we stop repeating them (RFC 9000 13.2.4).
inline constexpr std::uint64_t kAckOnlyBeforePing = 16;
/// Received-packet ranges remembered; older ones are forgotten and their packets treated as
/// duplicates (the peer declares them lost and resends their frames).
inline constexpr std::size_t kMaxTrackedAckRanges = 256;

// --- Datagram size (RFC 8899 DPLPMTUD, simplified; see docs/transport.md) ---

/// UDP payload every path must carry: RFC 9000's minimum, which fits an IPv6 minimum MTU of
/// 1280 with room for tunnels; packets are this big until a probe proved more.
inline constexpr std::size_t kBaseDatagramSize = 1200;
/// UDP payload sizes probed for, ascending: 1452 fills a 1500-byte Ethernet MTU under
/// IPv6 (40) and UDP (8) headers (so also under IPv4's 28); 8952 does the same for
/// 9000-byte jumbo frames; 16384 is where per-datagram costs stop mattering (loopback
/// carries 64 KiB, but bigger datagrams only add copying and loss granularity).
inline constexpr std::size_t kProbeDatagramSizes[] = {1452, 8952, 16384};
/// Largest UDP payload ever sent: the session sizes its buffers and ceiling by this.
inline constexpr std::size_t kMaxProbeDatagramSize = 16384;
static_assert(kProbeDatagramSizes[0] > kBaseDatagramSize &&
                  kProbeDatagramSizes[sizeof kProbeDatagramSizes / sizeof(std::size_t) - 1] ==
                      kMaxProbeDatagramSize,
              "probe sizes ascend from above the base to kMaxProbeDatagramSize");
/// Lost probes of one size before the search stops at the last good size: a single loss
/// may be congestion, three in a row are the path (RFC 8899 MAX_PROBES = 3).
inline constexpr unsigned kMaxProbeAttempts = 3;
/// Smoothed RTTs without a (non-probe) loss before a probe goes out, so that a probe
/// lost to congestion is not taken for a size the path refuses.
inline constexpr std::int64_t kProbeQuietRtts = 2;
/// After the search stopped, it starts again this long later, for a path that grew
/// (RFC 8899 PMTU_RAISE_TIMER suggests 600 s).
inline constexpr util::Duration kProbeRaiseInterval = std::chrono::minutes(10);
/// Consecutive PTOs with nothing acknowledged before packets above the base size are
/// suspected of vanishing in a black hole (RFC 8899 4.3) and the size returns to the base:
/// the next PTO probes are then small and get through whenever the path still works.
inline constexpr unsigned kBlackHolePtos = 2;
/// After a black hole fallback the search restarts this much later: soon enough for a
/// mere outage to cost little, late enough that a real black hole is not hit every RTT.
inline constexpr util::Duration kBlackHoleHoldoff = std::chrono::seconds(30);

// --- Congestion control (RFC 9002, section 7) ---

/// Datagram size the windows below are given at (RFC 9002 7.2 uses the max datagram): the
/// base size; the controllers scale the ones kept in packets (minimum windows, BBR quanta,
/// NewReno's increase) to the size validated by path MTU discovery.
inline constexpr std::uint64_t kMaxDatagramSize = kBaseDatagramSize;
/// Initial window: 10 packets, as RFC 9002 7.2 allows (bounded by 14720 bytes).
inline constexpr std::uint64_t kInitialWindow = 10 * kMaxDatagramSize;
/// The window never goes below two packets, so loss recovery can still make progress.
inline constexpr std::uint64_t kMinimumWindow = 2 * kMaxDatagramSize;
/// Pacing rate multiplier in slow start: the window doubles per RTT, so must the rate.
inline constexpr double kPacingGainSlowStart = 2.0;
/// Pacing rate multiplier after slow start (RFC 9002 7.7 suggests N = 1.25).
inline constexpr double kPacingGainAvoidance = 1.25;
/// Pacer bucket depth in time at the pacing rate: covers a late millisecond timer.
inline constexpr util::Duration kPacingBurstInterval = 2ms;
/// Pacer bucket depth never below the initial window, so a quiet sender may burst that much.
inline constexpr std::uint64_t kMinPacingBurst = kInitialWindow;

// --- BBR (draft-cardwell-iccrg-bbr-congestion-control, v1 with a BBRv2-style loss cap) ---

/// Startup gain 2/ln 2: the smallest that doubles the delivery rate every round trip.
inline constexpr double kBbrHighGain = 2.885;
/// Drain gain, the inverse of kBbrHighGain: empties in one round the queue Startup built.
inline constexpr double kBbrDrainGain = 1.0 / kBbrHighGain;
/// Window gain in ProbeBW: two BDPs keep the pipe full despite delayed and stretched ACKs.
inline constexpr double kBbrCwndGain = 2.0;
/// ProbeBW pacing gain cycle: probe up by a quarter, drain what that queued, cruise six.
inline constexpr double kBbrPacingGainCycle[] = {1.25, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
/// Round trips the max delivery-rate filter spans: long enough to ride out a cycle's dip.
inline constexpr std::uint64_t kBbrBandwidthWindowRounds = 10;
/// How long a min-RTT sample stays valid before ProbeRTT re-measures it.
inline constexpr util::Duration kBbrMinRttWindow = 10s;
/// Time spent at the minimum window in ProbeRTT: long enough to drain every queue on the path.
inline constexpr util::Duration kBbrProbeRttDuration = 200ms;
/// Startup ends when the bandwidth grew by less than this factor ...
inline constexpr double kBbrFullBandwidthGrowth = 1.25;
/// ... for this many round trips in a row (the pipe is full).
inline constexpr std::uint64_t kBbrFullBandwidthRounds = 3;
/// Smallest BBR window: four packets keep ACK clocking alive even with delayed ACKs (this and
/// the windows above are given at kMaxDatagramSize and scale with the datagram size used).
inline constexpr std::uint64_t kBbrMinWindow = 4 * kMaxDatagramSize;
/// Extra window above gain x BDP for ACK aggregation and the packets a pacer burst lets out.
inline constexpr std::uint64_t kBbrWindowQuanta = 3 * kMaxDatagramSize;
/// Round trips per half of the ACK-aggregation max filter (Linux BBR's 5): the estimate
/// remembers the largest burst of the last 5 to 10 round trips.
inline constexpr std::uint64_t kBbrExtraAckedRounds = 5;
/// Cap on the window added for ACK aggregation, as time at the bottleneck rate (Linux BBR's
/// 100 ms): bursty acknowledgements may justify that much, a broken estimate no more.
inline constexpr util::Duration kBbrExtraAckedMax = 100ms;
/// Bytes after which an ACK-aggregation epoch restarts however it went: a count that old
/// says nothing about bursts (Linux BBR restarts after 2^20 packets; bytes here).
inline constexpr std::uint64_t kBbrExtraAckedEpochReset = std::uint64_t{1} << 30;
/// A round trip losing more than this fraction of its packets is heavy loss: far above the
/// random loss of bad paths (a few percent, which must not shrink the model) and above what
/// competing BBR flows inflict on each other in a shallow queue (10-20 %).
inline constexpr double kBbrHeavyLossRate = 0.5;
/// ... when at least this many packets were lost, so tiny windows are not judged on noise.
inline constexpr std::uint64_t kBbrHeavyLossMinPackets = 5;
/// Heavy-loss round trips in a row before the in-flight cap engages: one bad round is a burst.
inline constexpr std::uint64_t kBbrHeavyLossRounds = 3;
/// Each heavy-loss round (from the kBbrHeavyLossRounds-th) caps in flight at this fraction.
inline constexpr double kBbrInflightCapBeta = 0.7;

// --- Streams and flow control (RFC 9000, section 4) ---

/// Unacknowledged bytes a stream buffers for sending; write() accepts no more.
inline constexpr std::uint64_t kStreamSendBuffer = 1 << 20;
/// Unacknowledged bytes all streams together buffer for sending, beyond each stream's
/// kStreamSendReserve: 1,000 busy streams must not cost 1,000 x kStreamSendBuffer (1 GB).
/// Matches kConnectionReceiveWindow, which is all the peer would take anyway.
inline constexpr std::uint64_t kConnectionSendBuffer = 16 << 20;
/// Bytes every stream may buffer whatever the others hold, so streams whose readers stall
/// (their data waits for flow-control credit) can never starve the rest; with at most
/// kInitialStreamCredit local streams this bounds send memory at 16 + 16 MiB (16 + 64 MiB at
/// kMaxStreamCredit, which only thousands of busy streams reach). 16 KiB a
/// round trip still moves 16 MB/s per stream at 1 ms, the RTT of a loopback or LAN relay.
inline constexpr std::uint64_t kStreamSendReserve = 16 << 10;
/// Receive window per stream: bytes the peer may send beyond what the app has read.
inline constexpr std::uint64_t kStreamReceiveWindow = 1 << 20;
/// Receive window for the whole connection: bounds receive memory over all streams.
inline constexpr std::uint64_t kConnectionReceiveWindow = 16 << 20;
/// Streams each side may have open towards the other at first (a MAX_STREAMS credit). Most
/// sessions never need more; an idle stream costs its peer a Stream (no buffer block) and,
/// when forwarded, a TCP connection.
inline constexpr std::uint64_t kInitialStreamCredit = 1024;
/// The most streams a peer may have open at once: the credit doubles from
/// kInitialStreamCredit whenever the peer holds three quarters of it, up to this. It
/// bounds what one allowed peer costs: a descriptor per forwarded connection on each side,
/// and send memory of 4096 x 16 KiB reserves (64 MiB) beside the shared 16 MiB. That is
/// four times the usual descriptor soft limit, with room for the 3,000 idle connections
/// that starved new ones in the hardening review (issue 17).
inline constexpr std::uint64_t kMaxStreamCredit = 4096;
/// The credit grows once the peer's open streams reach this fraction of it (3/4), so that a
/// peer opening streams steadily gets more before it has to wait: there is no STREAMS_BLOCKED
/// to tell us it waits.
inline constexpr std::uint64_t kStreamCreditGrowNumerator = 3;
/// Denominator of the growth threshold above.
inline constexpr std::uint64_t kStreamCreditGrowDenominator = 4;
/// Out-of-order pieces buffered across all streams. Loss leaves at most one piece per
/// lost packet (under 15000 for a full 16 MiB window); a peer sending confetti to inflate
/// bookkeeping far beyond the data it stands for is cut off here.
inline constexpr std::size_t kMaxReceiveFragments = 65536;
/// kWritable fires once this much send buffer is free again, so writes come in large pieces.
inline constexpr std::uint64_t kWritableThreshold = kStreamSendBuffer / 8;
/// A window update is sent once the app consumed this fraction (1/n) of the window.
inline constexpr std::uint64_t kWindowUpdateDivisor = 4;

// --- Connection lifetime ---

/// Send a PING after this long without sending anything, to keep NAT mappings open.
inline constexpr util::Duration kKeepaliveInterval = 10s;
/// Close when nothing arrived for this long (three keepalives missed).
inline constexpr util::Duration kIdleTimeout = 30s;
/// CONNECTION_CLOSE reason phrases are cut to this many bytes so they fit one packet.
inline constexpr std::size_t kMaxReasonLength = 256;
/// CONNECTION_CLOSE is repeated for later incoming packets at most this often in total.
inline constexpr unsigned kMaxCloseSends = 3;

// --- Error codes (RFC 9000, section 20.1) ---

/// Transport error for every malformed or forbidden peer input (the reason says which).
inline constexpr std::uint64_t kProtocolViolation = 0x0a;

}  // namespace punch::transport
