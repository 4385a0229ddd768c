// One direction of a simulated network path on virtual time: a drop-tail queue
// in front of a serializer of fixed rate, then a propagation delay, with seeded
// impairments: jitter, random loss, loss in bursts, reordering (a datagram held back),
// duplication, corruption (one byte flipped) and blackholing. Deterministic: the
// same seed and the same offered datagrams give the same deliveries.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <random>
#include <vector>

#include "util/bytes.hpp"
#include "util/time.hpp"

namespace punch::sim {

/// Virtual time starts here, far from the clock's epoch so that subtracting a few
/// seconds never goes below it.
inline constexpr util::TimePoint kSimEpoch = util::TimePoint{} + std::chrono::hours(24);

/// Bytes a datagram costs on the wire beyond what the simulator carries: the simulator
/// carries an 8-byte packet number and the payload (at most 1166 bytes); the real datagram
/// is 1200 bytes of UDP payload (session header, AEAD tag) plus 28 of IPv4 and UDP headers.
inline constexpr std::size_t kWireOverhead = 1200 + 28 - (8 + 1166);
/// Wire size of a full datagram, for expressing queue limits in packets.
inline constexpr std::size_t kFullDatagramWireBytes = 1200 + 28;

/// Parameters of one link direction.
struct LinkConfig {
  util::Duration delay = std::chrono::milliseconds(10);  ///< One-way propagation delay.
  double rate_bytes_per_second = 6.25e6;  ///< Serialization rate (50 Mbit/s); <= 0: infinite.
  std::size_t queue_bytes = 128 * 1024;   ///< Drop-tail limit of bytes waiting to serialize.
  double loss = 0.0;                      ///< Probability each datagram is dropped at random.
  double burst_loss = 0.0;    ///< Probability a datagram starts a burst of `burst_length` drops.
  unsigned burst_length = 3;  ///< Datagrams dropped in a row per burst.
  util::Duration jitter{0};   ///< Extra delay drawn uniformly up to this; keeps FIFO order.
  double reorder = 0.0;       ///< Probability a datagram is held back by `reorder_delay`.
  util::Duration reorder_delay = std::chrono::milliseconds(5);  ///< Extra delay when held back.
  double duplicate = 0.0;  ///< Probability a datagram is delivered twice.
  double corrupt = 0.0;    ///< Probability one byte of a delivered datagram is flipped.
  std::size_t overhead_bytes = kWireOverhead;  ///< Per-datagram bytes counted, not carried.
  /// Largest IP packet the link carries (carried bytes plus overhead_bytes); bigger ones
  /// are dropped, as a router drops a DF packet over its MTU; 0: unlimited.
  std::size_t mtu = 0;
};

/// Counters of one link direction.
struct LinkStats {
  std::uint64_t offered = 0;            ///< Datagrams given to send().
  std::uint64_t delivered = 0;          ///< Datagrams handed out by receive().
  std::uint64_t dropped_queue = 0;      ///< Dropped because the queue was full.
  std::uint64_t dropped_random = 0;     ///< Dropped by random loss.
  std::uint64_t dropped_burst = 0;      ///< Dropped by burst loss.
  std::uint64_t dropped_blackhole = 0;  ///< Dropped while blackholed.
  std::uint64_t dropped_mtu = 0;        ///< Dropped for exceeding the MTU.
  std::uint64_t reordered = 0;          ///< Held back by reorder_delay.
  std::uint64_t duplicated = 0;         ///< Extra copies made.
  std::uint64_t corrupted = 0;          ///< Delivered with a flipped byte.
  std::uint64_t bytes_delivered = 0;    ///< Payload bytes of delivered datagrams.
};

/// A datagram leaving a link.
struct Delivery {
  util::Bytes data;        ///< What arrived (with a flipped byte when corrupted).
  std::size_t to = 0;      ///< Destination tag given to send().
  bool corrupted = false;  ///< True when a byte was flipped: an AEAD would reject it.
};

/// A simulated one-way link.
class Link {
 public:
  /// Creates a link with `config`, drawing impairments from a generator seeded with `seed`.
  Link(LinkConfig config, std::uint64_t seed);

  /// Offers `datagram` for destination `to` at `now`; returns false when it was dropped.
  bool send(util::Bytes datagram, util::TimePoint now, std::size_t to = 0);
  /// Arrival time of the earliest datagram in transit; kNever when none.
  util::TimePoint next_arrival() const;
  /// Takes the earliest datagram that has arrived by `now`, if any.
  std::optional<Delivery> receive(util::TimePoint now);
  /// Drops everything offered from now on (true) or lets traffic through again (false).
  void set_blackhole(bool on) { blackhole_ = on; }
  /// True while blackholed.
  bool blackholed() const { return blackhole_; }
  /// Replaces the random loss probability.
  void set_loss(double loss) { config_.loss = loss; }
  /// Replaces the parameters for datagrams offered from now on (a path change).
  void set_config(const LinkConfig& config) { config_ = config; }
  /// Counters so far.
  const LinkStats& stats() const { return stats_; }
  /// The link's parameters.
  const LinkConfig& config() const { return config_; }

 private:
  struct InTransit {
    util::TimePoint arrival;
    std::uint64_t seq;  // Ties keep offering order.
    Delivery d;
    bool operator>(const InTransit& o) const {
      return arrival != o.arrival ? arrival > o.arrival : seq > o.seq;
    }
  };

  double uniform();

  LinkConfig config_;
  std::mt19937_64 rng_;
  util::TimePoint busy_until_{};  // When the serializer finishes what is queued.
  std::uint64_t seq_ = 0;
  util::TimePoint last_arrival_{};  // Jitter never lets a datagram overtake this one.
  unsigned burst_left_ = 0;         // Datagrams still to drop in the current burst.
  bool blackhole_ = false;
  std::priority_queue<InTransit, std::vector<InTransit>, std::greater<>> in_transit_;
  LinkStats stats_;
};

}  // namespace punch::sim
