// One router's UDP translation and filter state, modelled on Linux conntrack and
// the nftables rules of LAB.md's table, without any network: the caller says which
// datagram crossed the router in which direction at what time, and gets back the
// rewritten address or a drop. Faithful where hole punching depends on it:
// - conntrack entries hold an original and a reply tuple; a datagram belongs to an
//   entry when it equals either; a new entry expires after udp_timeout, one that saw
//   traffic both ways after udp_timeout_stream, and every datagram refreshes it;
// - masquerade keeps the source port only while the resulting reply tuple is not in
//   the table (nf_nat_used_tuple), else draws a random one: the "clash";
// - an unsolicited datagram to a NAT router's own address is delivered locally (no
//   socket there, so it is dropped) but its conntrack entry is still confirmed, which
//   is what poisons a later outbound flow towards its sender (LAB.md trap 1);
// - a firewall drops unsolicited inbound datagrams in the forward chain, before
//   conntrack confirms anything, so they leave no entry.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "util/address.hpp"
#include "util/time.hpp"

namespace punch::sim {

/// How a router treats UDP, as in LAB.md's table of NAT behaviours.
enum class NatType {
  kOpen,      ///< No router state at all: a public host's path.
  kFirewall,  ///< No translation; inbound only for flows the inside started.
  kEasy,      ///< `masquerade`: source port kept when free, address-and-port filtering.
  kHard,      ///< `masquerade fully-random`: a random external port per flow.
  kPool,      ///< `snat to A-B fully-random`: an address from a pool and a random port.
  kUdpBlock,  ///< Drops all forwarded UDP.
};

/// The name of `type`, for test messages.
const char* to_string(NatType type);

/// How a router picks an external port when it cannot (or, endpoint-dependent, will
/// not) keep the source port.
enum class PortAllocation {
  kRandom,      ///< A uniform draw from the range: Linux's `fully-random` (and
                ///< masquerade's fallback after a clash, near enough).
  kSequential,  ///< The next free port after the last one allocated, wrapping at the
                ///< range's end: what many consumer routers and CGNs do.
};

/// The name of `allocation`, for test messages.
const char* to_string(PortAllocation allocation);

/// True for the types that rewrite source addresses (easy, hard, pool).
bool translates(NatType type);

/// Parameters of one router.
struct NatConfig {
  NatType type = NatType::kEasy;  ///< Behaviour.
  util::Address wan{};            ///< The router's WAN IP (the port is ignored).
  /// kPool: the addresses of `snat to A-B` (ports ignored); empty means `wan` alone.
  std::vector<util::Address> pool{};
  /// kPool: the address depends on the destination port too (RFC 4787's "arbitrary"
  /// pooling, as some carrier NATs do); Linux hashes the two IPs only ("paired").
  bool pool_by_port = false;
  /// Lifetime of an entry that has only seen one direction (`nf_conntrack_udp_timeout`).
  util::Duration udp_timeout = std::chrono::seconds(30);
  /// Lifetime once both directions were seen (`nf_conntrack_udp_timeout_stream`).
  util::Duration udp_timeout_stream = std::chrono::seconds(120);
  std::uint64_t seed = 1;  ///< Seeds the random port (and pool address) choices.
  /// How new external ports are chosen (kEasy: only when the source port is taken).
  PortAllocation allocation = PortAllocation::kRandom;
  /// The external ports the router allocates from, both ends included. Linux's
  /// masquerade without a range maps source ports >= 1024 into 1024-65535.
  std::uint16_t first_port = 1024;
  std::uint16_t last_port = 65535;  ///< See first_port.
};

/// One direction of a UDP flow as conntrack writes it.
struct FlowTuple {
  util::Address src{};  ///< Source IP and port.
  util::Address dst{};  ///< Destination IP and port.
  friend bool operator==(const FlowTuple&, const FlowTuple&) = default;
  friend auto operator<=>(const FlowTuple&, const FlowTuple&) = default;
};

/// A conntrack entry.
struct ConntrackEntry {
  FlowTuple original{};  ///< The flow as its first datagram travelled.
  FlowTuple reply{};     ///< What an answer looks like on arrival at the router.
  /// True when an unsolicited inbound datagram to the router itself created it.
  bool local = false;
  bool seen_reply = false;    ///< A datagram matched the reply tuple.
  util::TimePoint created{};  ///< When its first datagram passed.
  util::TimePoint expires{};  ///< Gone at this time unless refreshed.
};

/// Counters of one router.
struct NatStats {
  std::uint64_t forwarded = 0;       ///< Datagrams let through, either direction.
  std::uint64_t translated = 0;      ///< Of those, datagrams whose address was rewritten.
  std::uint64_t dropped_filter = 0;  ///< Refused: unsolicited inbound, blocked UDP.
  /// Unsolicited inbound datagrams to the router itself: dropped, entry confirmed.
  std::uint64_t dropped_local = 0;
  std::uint64_t clashes = 0;  ///< New flows that could not keep their source port.
  std::uint64_t created = 0;  ///< Entries created.
  std::uint64_t expired = 0;  ///< Entries that timed out.
};

/// One router's conntrack table and NAT rule.
class Nat {
 public:
  /// A router with `config` and an empty table.
  explicit Nat(NatConfig config);

  /// A datagram from the LAN (`src`) to `dst` crossing at `now`: returns the source
  /// it leaves with, or nullopt when dropped.
  std::optional<util::Address> outbound(const util::Address& src, const util::Address& dst,
                                        util::TimePoint now);
  /// A datagram from the WAN (`src`) to `dst` arriving at `now`: returns the LAN
  /// destination it is forwarded to, or nullopt when dropped (filtered, or delivered
  /// to the router itself).
  std::optional<util::Address> inbound(const util::Address& src, const util::Address& dst,
                                       util::TimePoint now);
  /// True when a datagram from `src` to `dst` would be forwarded as an answer (it
  /// matches the reply tuple of a live entry) rather than meet the filter or be
  /// delivered to the router itself.
  bool is_reply(const util::Address& src, const util::Address& dst, util::TimePoint now) const;
  /// True when `ip` (any port) is the router's own: its WAN address or a pool address.
  bool owns(const util::Address& ip) const;

  /// Deletes every entry (`conntrack -D`); an easy NAT then maps flows as before.
  void flush();
  /// Deletes every entry and retires the external ports they used, so every new flow
  /// gets a port it never had: the router rebinding mappings under its hosts. An easy
  /// NAT moves each host socket to one new port, which its flows then share.
  void rebind();
  /// Removes the entries expired at `now`.
  void expire(util::TimePoint now);
  /// Replaces both timeouts; live entries keep their current expiry until refreshed.
  void set_timeouts(util::Duration unreplied, util::Duration stream);

  /// The live entries (call expire() first for a view at a given time).
  std::vector<ConntrackEntry> entries() const;
  /// The external address the flow `src` -> `dst` leaves with, if it has an entry.
  std::optional<util::Address> mapping(const util::Address& src, const util::Address& dst) const;
  /// Counters so far.
  const NatStats& stats() const { return stats_; }
  /// The router's parameters.
  const NatConfig& config() const { return config_; }

 private:
  using EntryId = std::uint64_t;

  const ConntrackEntry* find(const FlowTuple& t) const;
  EntryId add(const ConntrackEntry& e, util::TimePoint now);
  void refresh(ConntrackEntry& e, util::TimePoint now) const;
  bool taken(const util::Address& external, const util::Address& dst) const;
  std::optional<util::Address> allocate(const util::Address& src, const util::Address& dst);
  bool usable(const util::Address& external, const util::Address& dst) const;
  util::Address pool_address(const util::Address& src, const util::Address& dst) const;

  NatConfig config_;
  std::mt19937_64 rng_;
  std::map<EntryId, ConntrackEntry> entries_;
  // Both tuples of every entry, as conntrack hashes them: one lookup per datagram.
  std::map<FlowTuple, EntryId> index_;
  std::set<util::Address> retired_;  // External addresses rebind() took away.
  // kEasy after rebind(): the port a LAN socket's new flows try instead of its own.
  std::map<util::Address, std::uint16_t> moved_;
  EntryId next_id_ = 1;
  // kSequential: the port the next search starts from (0 until the first allocation,
  // which starts at a seeded random port of the range).
  std::uint16_t next_port_ = 0;
  NatStats stats_;
};

}  // namespace punch::sim
