// The server's registrations (docs/protocol.md, "Registration"): keyed by the
// client's random instance, authenticated by the token the server handed out,
// found by NodeId for introductions, expired by time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crypto/node_id.hpp"
#include "util/address.hpp"
#include "util/time.hpp"
#include "wire/rendezvous_message.hpp"

namespace punch::rendezvous {

/// One live registration.
struct Registration {
  std::uint64_t instance = 0;
  wire::Token token{};
  crypto::NodeId id;
  util::Address address;  ///< Where it was last heard from (its reflexive address).
  bool listener = false;
  util::TimePoint expires{};
  std::uint64_t sequence = 0;         ///< Order of its last REGISTER; newest is highest.
  std::vector<std::uint64_t> relays;  ///< Connection IDs it takes part in (either role).
};

/// All registrations of one server.
class Registry {
 public:
  /// Live registrations.
  std::size_t size() const { return by_instance_.size(); }
  /// The registration `instance`, or null.
  Registration* find(std::uint64_t instance);
  /// The registration `instance` if `token` is its token, else null.
  Registration* authenticate(std::uint64_t instance, const wire::Token& token);
  /// Adds a registration (the caller checked `instance` is free); returns it.
  Registration& add(std::uint64_t instance, const wire::Token& token, const crypto::NodeId& id,
                    const util::Address& address, bool listener, util::TimePoint expires);
  /// Records a new REGISTER for an existing registration: flags, expiry, recency.
  void reregister(Registration& reg, bool listener, util::TimePoint expires);
  /// Moves the expiry of `reg` to `expires`.
  void refresh(Registration& reg, util::TimePoint expires);
  /// The most recently registered listener for `id` other than `except_instance`, or null.
  Registration* newest_listener(const crypto::NodeId& id, std::uint64_t except_instance);
  /// The earliest expiry, or util::kNever.
  util::TimePoint next_expiry() const;
  /// Removes every registration expiring at or before `now` and returns them.
  std::vector<Registration> take_expired(util::TimePoint now);

 private:
  void index_listener(const Registration& reg);
  void unindex_listener(const Registration& reg);

  std::unordered_map<std::uint64_t, Registration> by_instance_;
  std::unordered_map<crypto::NodeId, std::vector<std::uint64_t>, crypto::NodeIdHash> listeners_;
  std::set<std::pair<util::TimePoint, std::uint64_t>> expiry_;
  std::uint64_t next_sequence_ = 1;
};

}  // namespace punch::rendezvous
