// Backoff for SOCKS5 password guessing: after a client's failed username/password
// check, its next check waits, the wait doubling with each failure from
// kAuthBackoffBase up to kAuthBackoffMax. A client is an IPv4 address or an IPv6 /64,
// whatever port or connection it uses, so parallel connections gain nothing. Sans-I/O:
// the caller passes `now` and defers a check until ready_at(). The table is bounded
// (kAuthBackoffClients) and forgets a client kAuthBackoffForget after its last failure.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "util/address.hpp"
#include "util/time.hpp"

namespace punch::forward {

/// Failed password checks per client, and when each client may try again.
class AuthBackoff {
 public:
  /// When `client`'s next check may run: at once (a time not after `now`) unless it
  /// failed recently.
  util::TimePoint ready_at(const util::Address& client, util::TimePoint now) const;
  /// `client` failed a check at `now`: its next one waits twice as long as the last.
  void on_failure(const util::Address& client, util::TimePoint now);
  /// `client` passed a check: its failures are forgotten.
  void on_success(const util::Address& client);
  /// Clients remembered (at most kAuthBackoffClients).
  std::size_t size() const { return clients_.size(); }
  /// Failures remembered for `client` (0 once forgotten).
  std::uint32_t failures(const util::Address& client, util::TimePoint now) const;

 private:
  struct Entry {
    std::uint32_t failures = 0;
    util::TimePoint ready_at{};      // no check before this
    util::TimePoint last_failure{};  // forgotten kAuthBackoffForget after it
  };
  const Entry* live(const util::Address& key, util::TimePoint now) const;
  void make_room(util::TimePoint now);

  std::unordered_map<util::Address, Entry, util::AddressHash> clients_;
};

/// The key that names `address`'s client: the IPv4 address, or the IPv6 /64 (an
/// IPv4-mapped IPv6 address counts as its IPv4 address); the port is dropped.
util::Address auth_client_key(const util::Address& address);

}  // namespace punch::forward
