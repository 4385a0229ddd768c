// One direction of a simulated network path on virtual time: a drop-tail queue
// in front of a serializer of fixed rate, then a fixed propagation delay, with
// independent random loss from a seeded generator. Deterministic: the same seed
// and the same offered datagrams give the same deliveries.
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

/// Parameters of one link direction.
struct LinkConfig {
  util::Duration delay = std::chrono::milliseconds(10);  ///< One-way propagation delay.
  double rate_bytes_per_second = 6.25e6;  ///< Serialization rate (50 Mbit/s); <= 0: infinite.
  std::size_t queue_bytes = 128 * 1024;   ///< Drop-tail limit of bytes waiting to serialize.
  double loss = 0.0;                      ///< Probability each datagram is dropped at random.
  std::size_t overhead_bytes = 62;  ///< Per-datagram bytes counted but not carried (IP, UDP, AEAD).
};

/// Counters of one link direction.
struct LinkStats {
  std::uint64_t offered = 0;            ///< Datagrams given to send().
  std::uint64_t delivered = 0;          ///< Datagrams handed out by receive().
  std::uint64_t dropped_queue = 0;      ///< Dropped because the queue was full.
  std::uint64_t dropped_random = 0;     ///< Dropped by random loss.
  std::uint64_t dropped_blackhole = 0;  ///< Dropped while blackholed.
  std::uint64_t bytes_delivered = 0;    ///< Payload bytes of delivered datagrams.
};

/// A simulated one-way link.
class Link {
 public:
  /// Creates a link with `config`, drawing losses from a generator seeded with `seed`.
  Link(LinkConfig config, std::uint64_t seed);

  /// Offers `datagram` at `now`; returns false when it was dropped.
  bool send(util::Bytes datagram, util::TimePoint now);
  /// Arrival time of the earliest datagram in transit; kNever when none.
  util::TimePoint next_arrival() const;
  /// Takes the earliest datagram that has arrived by `now`, if any.
  std::optional<util::Bytes> receive(util::TimePoint now);
  /// Drops everything offered from now on (true) or lets traffic through again (false).
  void set_blackhole(bool on) { blackhole_ = on; }
  /// Replaces the random loss probability.
  void set_loss(double loss) { config_.loss = loss; }
  /// Counters so far.
  const LinkStats& stats() const { return stats_; }
  /// The link's parameters.
  const LinkConfig& config() const { return config_; }

 private:
  struct InTransit {
    util::TimePoint arrival;
    std::uint64_t seq;  // Ties keep offering order.
    util::Bytes data;
    bool operator>(const InTransit& o) const {
      return arrival != o.arrival ? arrival > o.arrival : seq > o.seq;
    }
  };

  double uniform();

  LinkConfig config_;
  std::mt19937_64 rng_;
  util::TimePoint busy_until_{};  // When the serializer finishes what is queued.
  std::uint64_t seq_ = 0;
  bool blackhole_ = false;
  std::priority_queue<InTransit, std::vector<InTransit>, std::greater<>> in_transit_;
  LinkStats stats_;
};

}  // namespace punch::sim
