// The server's relays (docs/protocol.md, "Introduction and relay"): one entry per
// connection ID naming the two registrations it joins, pending until the listener
// accepts, dropped after a stretch without traffic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crypto/node_id.hpp"
#include "util/time.hpp"

namespace punch::rendezvous {

/// One relay between a connector's and a listener's registration.
struct Relay {
  std::uint64_t connection_id = 0;
  std::uint64_t connector = 0;  ///< Instance of the connector's registration.
  std::uint64_t listener = 0;   ///< Instance of the listener's registration.
  crypto::NodeId target;        ///< The ID the connector asked for (to match retransmits).
  bool active = false;          ///< The listener accepted; packets may flow.
  util::TimePoint created{};    ///< When the connector first asked; bounds a pending relay.
  util::TimePoint last_activity{};
  util::TimePoint scheduled{};  ///< Deadline of its live entry in the expiry queue.
};

/// All relays of one server, with idle expiry.
class RelayTable {
 public:
  /// Relays closing after `idle_timeout` without a touch(), or after
  /// `pending_timeout` while still waiting for the listener.
  explicit RelayTable(util::Duration idle_timeout, util::Duration pending_timeout)
      : idle_timeout_(idle_timeout), pending_timeout_(pending_timeout) {}

  /// Live relays.
  std::size_t size() const { return by_cid_.size(); }
  /// The relay for `connection_id`, or null.
  Relay* find(std::uint64_t connection_id);
  /// Adds a pending relay (the caller checked `connection_id` is free); returns it.
  Relay& add(std::uint64_t connection_id, std::uint64_t connector, std::uint64_t listener,
             const crypto::NodeId& target, util::TimePoint now);
  /// Records traffic at `now` (cheap: the expiry queue is fixed up lazily).
  void touch(Relay& relay, util::TimePoint now) { relay.last_activity = now; }
  /// Removes the relay for `connection_id`, if any.
  void remove(std::uint64_t connection_id);
  /// When take_expired() may next find something (possibly early), or util::kNever.
  util::TimePoint next_expiry() const;
  /// Removes every relay idle for the timeout at `now` and returns them.
  std::vector<Relay> take_expired(util::TimePoint now);

 private:
  using Entry = std::pair<util::TimePoint, std::uint64_t>;

  util::Duration idle_timeout_;
  util::Duration pending_timeout_;  // for relays the listener has not accepted yet
  std::unordered_map<std::uint64_t, Relay> by_cid_;
  // Min-heap of (deadline, cid). An entry is live only while the relay exists and
  // its `scheduled` equals the entry's deadline; stale entries are skipped when
  // popped. This keeps the per-packet cost at one timestamp store.
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> queue_;
};

}  // namespace punch::rendezvous
